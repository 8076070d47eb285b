"""AWS IoT Core policy documents: the model, the Jobs templates certs-tool writes, and the linter.

document   parse_policy / PolicyDocument: strict about structure, neutral about meaning
templates  render_template: least-privilege documents for Jobs devices (spec §4)
lint       lint_policy: the mistakes people make, as findings with stable codes
"""

from certs_tool.policy.document import (
    POLICY_VERSION,
    Condition,
    Effect,
    PolicyDocument,
    Statement,
    parse_policy,
)
from certs_tool.policy.lint import (
    ACTION_RESOURCE_TYPES,
    MAX_POLICY_LENGTH,
    RULES,
    Finding,
    Severity,
    lint_policy,
    policy_length,
)
from certs_tool.policy.templates import (
    TEMPLATE_NAMES,
    policy_name,
    render_template,
    validate_policy_name,
)

__all__ = [
    "ACTION_RESOURCE_TYPES",
    "MAX_POLICY_LENGTH",
    "POLICY_VERSION",
    "RULES",
    "TEMPLATE_NAMES",
    "Condition",
    "Effect",
    "Finding",
    "PolicyDocument",
    "Severity",
    "Statement",
    "lint_policy",
    "parse_policy",
    "policy_length",
    "policy_name",
    "render_template",
    "validate_policy_name",
]
