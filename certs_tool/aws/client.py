"""The boundary with boto3: building the `iot` client, and turning botocore's exceptions into
certs_tool's error tree (certs_tool/errors.py), once, here.

The client uses boto3's usual credential chain (environment, shared files, SSO, instance role)
and region chain (--region, AWS_REGION, AWS_DEFAULT_REGION, the profile). botocore's own retries
are off (total_max_attempts=1): `caller.IotCaller` is the one that retries, paced by the rate
limiter, so that a throttled call never goes out again behind the limiter's back.
"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from certs_tool.errors import (
    AwsAccessDeniedError,
    AwsCredentialsError,
    AwsEndpointError,
    AwsError,
    AwsThrottledError,
    CertificateRefusedError,
)

ALREADY_EXISTS = "ResourceAlreadyExistsException"
NOT_FOUND = "ResourceNotFoundException"
DELETE_CONFLICT = "DeleteConflictException"
CERTIFICATE_STATE = "CertificateStateException"
INVALID_REQUEST = "InvalidRequestException"
# Codes AWS answers when a call came too fast; the caller backs off and retries them.
THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestThrottled"}
)
# Failures of the service, not of the request: retried like throttling.
TRANSIENT = frozenset(
    {"ServiceUnavailableException", "InternalFailureException", "InternalException"}
)
# A connection that broke after the request went out: retried (a create that did happen
# answers ResourceAlreadyExists the second time, which counts as success).
TRANSIENT_NETWORK = (ConnectionClosedError, ReadTimeoutError)
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedException"})
_BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)


def connect(
    *, region: str | None = None, endpoint_url: str | None = None, max_connections: int = 10
) -> Any:
    """An `iot` client for AWS (or for `endpoint_url`: the emulator, moto), without retries.

    Raises AwsEndpointError when no region is configured. Credentials are only looked up by the
    first call, whose failure `translate` turns into AwsCredentialsError.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        # One pooled connection per worker thread, or urllib3 drops (and warns about) the rest.
        max_pool_connections=max(10, max_connections),
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="simfleet-certs-tool",
    )
    try:
        session = boto3.session.Session(region_name=region or None)
        if not session.region_name and endpoint_url is None:
            raise NoRegionError  # AWS_REGION="" counts as unset, not as a region named ""
        return session.client("iot", endpoint_url=endpoint_url, config=config)
    except (NoRegionError, InvalidRegionError) as exc:
        raise translate(exc, "connect") from None
    except ValueError as exc:  # botocore's answer to a malformed endpoint URL
        raise AwsEndpointError(f"invalid endpoint {endpoint_url!r}: {exc}") from None


def target_of(client: Any) -> str:
    """What the journal calls this client's target: the endpoint URL (the region is in AWS's)."""
    return str(client.meta.endpoint_url)


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a botocore ClientError, else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying after a backoff: throttled, the service failed, or the link broke."""
    code = error_code(exc)
    return code in THROTTLED or code in TRANSIENT or isinstance(exc, TRANSIENT_NETWORK)


def translate(exc: BaseException, operation: str, *, endpoint: str | None = None) -> AwsError:
    """The certs_tool error for a botocore exception raised by `operation`."""
    if isinstance(exc, ClientError):
        return _client_error(exc, operation)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return AwsCredentialsError(
            f"no usable AWS credentials ({exc}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run 'aws configure' / 'aws sso login'",
            operation=operation,
        )
    if isinstance(exc, NoRegionError | InvalidRegionError):
        reason = (
            "no AWS region: pass --region or set AWS_REGION"
            if isinstance(exc, NoRegionError)
            else f"invalid AWS region: {exc}"
        )
        return AwsEndpointError(reason, operation=operation)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | SSLError):
        return AwsEndpointError(
            f"cannot reach {endpoint or 'the AWS IoT endpoint'} ({exc}); "
            "check --region and --endpoint-url",
            operation=operation,
        )
    return AwsError(f"{operation} failed: {type(exc).__name__}: {exc}", operation=operation)


def _client_error(exc: ClientError, operation: str) -> AwsError:
    response: dict[str, Any] = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", "")) or "UnknownError"
    message = str(error.get("Message", "")) or str(response.get("message", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    details: dict[str, str | None] = {
        "code": code,
        "operation": operation,
        "resource_id": _text(response.get("resourceId")),
        "resource_arn": _text(response.get("resourceArn")),
    }
    if code in _DENIED or (status == 403 and code not in _BAD_CREDENTIALS):
        action = f"iot:{operation}"
        return AwsAccessDeniedError(
            f"AWS denied {operation}: allow the IAM action {action} "
            f"(certs-tool iam-policy writes a policy with it): {message}",
            iam_action=action,
            **details,
        )
    if code in _BAD_CREDENTIALS:
        return AwsCredentialsError(f"AWS rejected the credentials ({code}): {message}", **details)
    if code in THROTTLED:
        return AwsThrottledError(
            f"{operation} is still throttled after every retry ({code}); lower its --rate",
            **details,
        )
    if code == "CertificateValidationException":
        return CertificateRefusedError(f"AWS refused the certificate: {message}", **details)
    return AwsError(f"{operation} failed: {code}: {message}", **details)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
