"""The curated API of certs_tool.aws, and where its errors sit in certs_tool's tree."""

import certs_tool
import certs_tool.aws


def test_certs_tool_aws_exports() -> None:
    assert sorted(certs_tool.aws.__all__) == [
        "AWS_DEFAULT_RATES", "AwsAccessDeniedError", "AwsCredentialsError", "AwsEndpointError",
        "AwsError", "AwsInterrupted", "AwsThrottledError", "CaMode", "CertificateRefusedError",
        "CleanupPlan", "CleanupReport", "Endpoints", "IAM_RULES", "IotCaller", "JOURNAL_FILE",
        "JournalState", "OperatorScope", "RateLimiter", "RegisterMode", "RegisterOptions",
        "RegisterReport", "RetryPolicy", "Stopper", "TokenBucket", "cleanup_fleet", "connect",
        "describe_endpoints", "journal_state", "lint_iam_policy", "operator_policy",
        "operator_policy_json", "paced_caller", "parse_rates", "plan_cleanup",
        "quota_bound_rate", "register_fleet",
    ]  # fmt: skip
    for name in certs_tool.aws.__all__:
        assert getattr(certs_tool.aws, name) is not None


def test_aws_errors_are_certs_tool_errors() -> None:
    aws = certs_tool.aws
    for error in (aws.AwsCredentialsError, aws.AwsEndpointError, aws.AwsAccessDeniedError,
                  aws.AwsThrottledError, aws.CertificateRefusedError):  # fmt: skip
        assert issubclass(error, aws.AwsError)
    assert issubclass(aws.AwsError, certs_tool.CertsToolError)
    assert issubclass(aws.AwsInterrupted, certs_tool.CertsToolError)
