"""Find the mistakes of an IAM policy for AWS IoT's control plane, the way
`certs_tool.policy.lint` does for IoT Core policies: `Finding`s with stable codes (IAM_RULES),
never an exception.

The check is least privilege for the `iot:` actions in IAM_ACTION_RESOURCES: each action is
authorized against ARNs of the resource types listed there, or against "*" when it has none
(IAM's Service Authorization Reference, "Actions, resources, and condition keys for AWS IoT",
as generated into udondan/iam-floyd; the AWS IoT developer guide's IAM table for the rest).
So "*" is an error where the action has a resource type to scope it with, and a statement whose
resources fit none of an action's types grants that action nothing.

Certificates (cert/, cacert/) are the exception to "scope by name": their ARN ends in the
certificateId, a SHA-256 no prefix can select, and IoT certificates take no tags, so cert/* is
as narrow as a policy for a fleet of many devices can be (100,000 ARNs would exceed IAM's 6,144
character limit for a managed policy). cert/* and cacert/* are therefore never a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from certs_tool.policy.lint import ACCOUNT_RE, REGION_RE, Finding, Severity

IAM_VERSION = "2012-10-17"

# action -> the resource types IAM checks it on; () means it only works on Resource "*".
IAM_ACTION_RESOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "iot:AddThingToThingGroup": ("thing", "thinggroup"),
        "iot:AttachPolicy": ("cert", "thinggroup"),
        "iot:AttachThingPrincipal": (),
        "iot:CancelJob": ("job",),
        "iot:CreateJob": ("job", "thing", "thinggroup"),
        # The 2020 reference gave CreatePolicy no resource type; since policies take tags
        # (aws:RequestTag on CreatePolicy) it is checked on policy/NAME.
        "iot:CreatePolicy": ("policy",),
        "iot:CreateThing": ("thing",),
        "iot:CreateThingGroup": ("thinggroup",),
        "iot:DeleteCACertificate": ("cacert",),
        "iot:DeleteCertificate": ("cert",),
        "iot:DeleteJob": ("job",),
        "iot:DeletePolicy": ("policy",),
        "iot:DeleteThing": ("thing",),
        "iot:DeleteThingGroup": ("thinggroup",),
        "iot:DescribeCertificate": ("cert",),
        "iot:DescribeEndpoint": (),
        "iot:DescribeJob": ("job",),
        "iot:DescribeThing": ("thing",),
        "iot:DescribeThingGroup": ("thinggroup",),
        "iot:DetachPolicy": ("cert", "thinggroup"),
        "iot:DetachThingPrincipal": (),
        "iot:GetJobDocument": ("job",),
        "iot:GetPolicy": ("policy",),
        "iot:GetRegistrationCode": (),
        "iot:ListAttachedPolicies": (),
        "iot:ListJobExecutionsForJob": ("job",),
        "iot:ListJobs": (),
        "iot:ListPrincipalThings": (),
        "iot:ListThings": (),
        "iot:RegisterCACertificate": (),
        "iot:RegisterCertificate": (),
        "iot:RegisterCertificateWithoutCA": (),
        "iot:RemoveThingFromThingGroup": ("thing", "thinggroup"),
        "iot:TagResource": ("cacert", "job", "policy", "thinggroup"),
        "iot:UpdateCACertificate": ("cacert",),
        "iot:UpdateCertificate": ("cert",),
        "iot:UpdateJob": ("job",),
    }
)
# Types whose names no prefix can select (see the module docstring).
UNNAMEABLE = frozenset({"cert", "cacert"})

_E, _W = Severity.ERROR, Severity.WARNING
IAM_RULES: Mapping[str, Severity] = MappingProxyType(
    {
        "invalid-json": _E,  # IAM refuses it
        "invalid-structure": _E,  # IAM refuses it
        "action-wildcard": _E,  # `*` or `iot:*`: every action
        "not-action": _E,  # Allow with NotAction: every action but a few
        "resource-wildcard": _E,  # Resource "*" where the action has a type to scope it with
        "needs-star": _E,  # an action with no resource type, given only ARNs: grants nothing
        "wrong-resource-type": _E,  # no resource of the types the action is checked on
        "invalid-arn": _E,  # matches nothing
        "partial-action-wildcard": _W,  # e.g. iot:Delete*: also whatever AWS adds later
        "not-resource": _W,  # Allow with NotResource: everything but a few
        "every-name": _W,  # thing/* etc.: every resource of a type a prefix could scope
        "unused-resource": _W,  # a resource no action of the statement is checked on
        "unknown-action": _W,  # not in IAM_ACTION_RESOURCES: its resources are not checked
        "old-version": _W,  # without Version 2012-10-17, policy variables are literal text
    }
)
_ARN_RE = re.compile(r"arn:(aws(?:-[a-z]+)*):([a-z0-9-]+):([^:]*):([^:]*):(.+)")


@dataclass(frozen=True, kw_only=True)
class _Arn:
    text: str
    kind: str | None  # resource type; None for "*" (every type)
    name: str


def _finding(code: str, statement: int | None, message: str) -> Finding:
    where = f"statement {statement}: " if statement is not None else ""
    return Finding(
        severity=IAM_RULES[code], code=code, message=where + message, statement=statement
    )


def lint_iam_policy(source: str | bytes) -> list[Finding]:
    """Every finding about the IAM policy document `source`, in document order."""
    try:
        decoded = json.loads(source)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [_finding("invalid-json", None, f"policy is not valid JSON: {exc}")]
    statements = decoded.get("Statement") if isinstance(decoded, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return [_finding("invalid-structure", None, "policy needs a non-empty Statement list")]
    findings: list[Finding] = []
    if decoded.get("Version") != IAM_VERSION:
        findings.append(
            _finding("old-version", None, f'policy should say "Version": "{IAM_VERSION}"')
        )
    for index, statement in enumerate(statements, 1):
        findings.extend(_lint_statement(index, statement))
    return list(dict.fromkeys(findings))


def _strings(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


_NEGATED = {
    "NotAction": ("not-action", "Allow with NotAction grants every other action"),
    "NotResource": ("not-resource", "Allow with NotResource reaches every other resource"),
}


def _lint_statement(index: int, statement: Any) -> Iterator[Finding]:
    if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
        yield _finding("invalid-structure", index, 'needs "Effect": "Allow" or "Deny"')
        return
    allow = statement["Effect"] == "Allow"
    negated = [_NEGATED[key] for key in _NEGATED if key in statement]
    if negated:
        if allow:
            code, message = negated[0]
            yield _finding(code, index, message)
        return
    actions, resources = _strings(statement.get("Action")), _strings(statement.get("Resource"))
    if actions is None or resources is None:
        yield _finding("invalid-structure", index, "Action and Resource must be strings or lists")
        return
    arns = [arn for arn in map(_parse_arn, resources) if arn is not None]
    for text in resources:
        if _parse_arn(text) is None:
            yield _finding(
                "invalid-arn",
                index,
                f"{text} is not an ARN (arn:aws:iot:REGION:ACCOUNT:TYPE/NAME) or '*'",
            )
    known: dict[str, tuple[str, ...]] = {}
    for action in actions:
        finding = _lint_action(index, action, allow)
        if finding is not None:
            yield finding
        elif action.lower() in _CANONICAL:
            name = _CANONICAL[action.lower()]
            known[name] = IAM_ACTION_RESOURCES[name]
    if allow:
        yield from _lint_resources(index, known, arns)


_CANONICAL = {action.lower(): action for action in IAM_ACTION_RESOURCES}


def _lint_action(index: int, action: str, allow: bool) -> Finding | None:
    service, _, name = action.partition(":")
    if action == "*" or (name == "*" and allow):
        return _finding(
            "action-wildcard", index, f"Allow {action} grants every {service or 'AWS'} action"
        )
    if "*" in action or "?" in action:
        return (
            _finding(
                "partial-action-wildcard",
                index,
                f"{action} also grants any matching action AWS adds",
            )
            if allow
            else None
        )
    if action.lower() not in _CANONICAL:
        return _finding(
            "unknown-action",
            index,
            f"{action}: resources not checked (not an action this linter knows)",
        )
    return None


def _lint_resources(
    index: int, actions: Mapping[str, tuple[str, ...]], arns: list[_Arn]
) -> Iterator[Finding]:
    star = any(arn.kind is None for arn in arns)
    kinds = {arn.kind for arn in arns if arn.kind is not None}
    for action, types in actions.items():
        if not types and not star:
            yield _finding(
                "needs-star", index, f'{action} has no resource type: only Resource "*" grants it'
            )
        elif types and star:
            yield _finding(
                "resource-wildcard",
                index,
                f'{action} on "*": scope it to {", ".join(t + "/" for t in types)} ARNs',
            )
        elif types and not star and not kinds & set(types):
            yield _finding(
                "wrong-resource-type",
                index,
                f"{action} grants nothing: it is checked on "
                f"{', '.join(t + '/' for t in types)} ARNs only",
            )
    used = {t for types in actions.values() for t in types}
    for arn in arns:
        if arn.kind is None:
            continue
        if actions and arn.kind not in used:
            yield _finding(
                "unused-resource", index, f"no action of the statement is checked on {arn.text}"
            )
        elif arn.kind not in UNNAMEABLE and arn.name in ("*", ""):
            yield _finding(
                "every-name",
                index,
                f"{arn.text} reaches every {arn.kind}; scope it with a name prefix",
            )


def _parse_arn(text: str) -> _Arn | None:
    if text == "*":
        return _Arn(text=text, kind=None, name="*")
    match = _ARN_RE.fullmatch(text)
    if match is None:
        return None
    _, service, region, account, rest = match.groups()
    if service != "iot" or not (region == "*" or REGION_RE.fullmatch(region)):
        return None
    if not (account == "*" or ACCOUNT_RE.fullmatch(account)):
        return None
    kind, _, name = rest.partition("/")
    return _Arn(text=text, kind=kind, name=name)
