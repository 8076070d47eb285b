"""The errors certs_tool raises, one tree:

    CertsToolError                 anything certs-tool reports as a one-line message, exit 1
    ├── InvalidInputError          a bad name, count, option value or policy document
    ├── FleetError                 the fleet directory is missing, incomplete or inconsistent
    │   ├── ManifestError          a manifest line that cannot be read (carries the line number)
    │   └── AlreadyExistsError     something exists that only --force may replace
    ├── PassphraseError            the CA key's passphrase is missing or wrong
    ├── StorageError               the disk refused a write (full, read-only, permission)
    ├── AwsInterrupted             Ctrl-C during `register` / `cleanup`; the journal holds the rest
    └── AwsError                   an AWS IoT call failed (carries AWS's error code and operation)
        ├── AwsCredentialsError    no credentials, or AWS rejected them
        ├── AwsEndpointError       no region, or the endpoint cannot be reached
        ├── AwsAccessDeniedError   IAM denied the call (carries the IAM action to allow)
        ├── AwsThrottledError      still throttled after every retry
        └── CertificateRefusedError
                                   AWS refused a certificate, or computed another certificateId

Library code raises these and never prints; the CLI turns them into `certs-tool: error: ...`
and a non-zero exit. Exceptions from the standard library or `cryptography` are translated where
they cross into certs_tool, once; botocore's in `certs_tool.aws.client`.
"""

from __future__ import annotations


class CertsToolError(Exception):
    """Base of every error certs_tool reports to its user."""


class InvalidInputError(CertsToolError):
    """A name, count, option value or document that certs_tool refuses."""


class FleetError(CertsToolError):
    """The fleet directory is missing, incomplete or inconsistent."""


class ManifestError(FleetError):
    """A manifest line that cannot be read."""

    def __init__(self, path: str, line_number: int, reason: str) -> None:
        super().__init__(f"{path}:{line_number}: {reason}")
        self.path = path
        self.line_number = line_number
        self.reason = reason


class AlreadyExistsError(FleetError):
    """Something exists that only an explicit --force may replace."""


class PassphraseError(CertsToolError):
    """The CA key's passphrase is missing or wrong."""


class StorageError(CertsToolError):
    """The disk refused a write: full, read-only or not permitted."""


class AwsInterrupted(CertsToolError):
    """Ctrl-C during `register` or `cleanup`: every call that finished is in the journal, so a
    re-run continues where this one stopped."""


class AwsError(CertsToolError):
    """An AWS IoT call failed. `code` is AWS's error code (None when no answer came back),
    `operation` the API operation; `resource_id` / `resource_arn` are what AWS names in a
    ResourceAlreadyExistsException."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        operation: str | None = None,
        resource_id: str | None = None,
        resource_arn: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation
        self.resource_id = resource_id
        self.resource_arn = resource_arn


class AwsCredentialsError(AwsError):
    """No AWS credentials were found, or AWS does not accept them."""


class AwsEndpointError(AwsError):
    """No region is configured, or the endpoint (region or --endpoint-url) cannot be reached."""


class AwsAccessDeniedError(AwsError):
    """IAM denied the call; `iam_action` is the permission the caller lacks."""

    def __init__(self, message: str, *, iam_action: str, **details: str | None) -> None:
        super().__init__(message, **details)
        self.iam_action = iam_action


class AwsThrottledError(AwsError):
    """AWS kept answering ThrottlingException after every retry."""


class CertificateRefusedError(AwsError):
    """AWS refused a certificate (expired, unsupported key or signature), or the certificateId
    it computed is not the one in the manifest."""
