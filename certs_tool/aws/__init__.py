"""certs_tool against AWS IoT (or any endpoint that speaks its control-plane API):
register a fleet, clean it up, find the device endpoints, and write the operator's IAM policy.

    client      connect() -> boto3 `iot` client; botocore errors -> certs_tool's (once, here)
    ratelimit   a token bucket per API at AWS's default quotas; full-jitter backoff
    caller      IotCaller.call(operation, **params): the seam, paced and retried
    runner      the worker threads of a run; clean stops on error and Ctrl-C
    journal     FLEET_DIR/aws-journal.jsonl: what was created and removed, per target
    register    register_fleet(...) -> RegisterReport
    cleanup     plan_cleanup(...) / cleanup_fleet(...) -> CleanupReport
    endpoint    describe_endpoints(...) -> Endpoints (and the locust options)
    iam_policy  operator_policy(OperatorScope) ; iam_lint  lint_iam_policy(text)
    commands    the certs-tool subcommands register, cleanup, endpoint, iam-policy (shells)

Errors are certs_tool's tree (certs_tool/errors.py), AwsError and below for AWS's answers.

The names below load their module on first use (PEP 562): boto3 takes 0.4 s to import, and
`certs-tool`'s local commands, which import this package's command shells, never need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certs_tool.aws.caller import IotCaller, paced_caller
    from certs_tool.aws.cleanup import CleanupPlan, CleanupReport, cleanup_fleet, plan_cleanup
    from certs_tool.aws.client import connect
    from certs_tool.aws.endpoint import Endpoints, describe_endpoints
    from certs_tool.aws.iam_lint import IAM_RULES, lint_iam_policy
    from certs_tool.aws.iam_policy import OperatorScope, operator_policy, operator_policy_json
    from certs_tool.aws.journal import JOURNAL_FILE, JournalState, journal_state
    from certs_tool.aws.ratelimit import (
        AWS_DEFAULT_RATES,
        RateLimiter,
        RetryPolicy,
        TokenBucket,
        parse_rates,
        quota_bound_rate,
    )
    from certs_tool.aws.register import (
        CaMode,
        RegisterMode,
        RegisterOptions,
        RegisterReport,
        register_fleet,
    )
    from certs_tool.aws.runner import Stopper
    from certs_tool.errors import (
        AwsAccessDeniedError,
        AwsCredentialsError,
        AwsEndpointError,
        AwsError,
        AwsInterrupted,
        AwsThrottledError,
        CertificateRefusedError,
    )

_EXPORTS = {
    "AWS_DEFAULT_RATES": "certs_tool.aws.ratelimit",
    "AwsAccessDeniedError": "certs_tool.errors",
    "AwsCredentialsError": "certs_tool.errors",
    "AwsEndpointError": "certs_tool.errors",
    "AwsError": "certs_tool.errors",
    "AwsInterrupted": "certs_tool.errors",
    "AwsThrottledError": "certs_tool.errors",
    "CaMode": "certs_tool.aws.register",
    "CertificateRefusedError": "certs_tool.errors",
    "CleanupPlan": "certs_tool.aws.cleanup",
    "CleanupReport": "certs_tool.aws.cleanup",
    "Endpoints": "certs_tool.aws.endpoint",
    "IAM_RULES": "certs_tool.aws.iam_lint",
    "IotCaller": "certs_tool.aws.caller",
    "JOURNAL_FILE": "certs_tool.aws.journal",
    "JournalState": "certs_tool.aws.journal",
    "OperatorScope": "certs_tool.aws.iam_policy",
    "RateLimiter": "certs_tool.aws.ratelimit",
    "RegisterMode": "certs_tool.aws.register",
    "RegisterOptions": "certs_tool.aws.register",
    "RegisterReport": "certs_tool.aws.register",
    "RetryPolicy": "certs_tool.aws.ratelimit",
    "Stopper": "certs_tool.aws.runner",
    "TokenBucket": "certs_tool.aws.ratelimit",
    "cleanup_fleet": "certs_tool.aws.cleanup",
    "connect": "certs_tool.aws.client",
    "describe_endpoints": "certs_tool.aws.endpoint",
    "journal_state": "certs_tool.aws.journal",
    "lint_iam_policy": "certs_tool.aws.iam_lint",
    "operator_policy": "certs_tool.aws.iam_policy",
    "operator_policy_json": "certs_tool.aws.iam_policy",
    "paced_caller": "certs_tool.aws.caller",
    "parse_rates": "certs_tool.aws.ratelimit",
    "plan_cleanup": "certs_tool.aws.cleanup",
    "quota_bound_rate": "certs_tool.aws.ratelimit",
    "register_fleet": "certs_tool.aws.register",
}

__all__ = [
    "AWS_DEFAULT_RATES",
    "IAM_RULES",
    "JOURNAL_FILE",
    "AwsAccessDeniedError",
    "AwsCredentialsError",
    "AwsEndpointError",
    "AwsError",
    "AwsInterrupted",
    "AwsThrottledError",
    "CaMode",
    "CertificateRefusedError",
    "CleanupPlan",
    "CleanupReport",
    "Endpoints",
    "IotCaller",
    "JournalState",
    "OperatorScope",
    "RateLimiter",
    "RegisterMode",
    "RegisterOptions",
    "RegisterReport",
    "RetryPolicy",
    "Stopper",
    "TokenBucket",
    "cleanup_fleet",
    "connect",
    "describe_endpoints",
    "journal_state",
    "lint_iam_policy",
    "operator_policy",
    "operator_policy_json",
    "paced_caller",
    "parse_rates",
    "plan_cleanup",
    "quota_bound_rate",
    "register_fleet",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
