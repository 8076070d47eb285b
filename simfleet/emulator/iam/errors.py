"""Errors of the IAM package, and the AWS answer to a caller IAM does not allow.

Own tree (configuration the emulator refuses; callers over the network never see these)::

    IamError
    ├── PolicyDocumentError (also ValueError)   a policy IAM would refuse (MalformedPolicyDocument)
    ├── PrincipalError (also ValueError)        a bad name or key, or one used twice
    └── PrincipalsFileError (also ValueError)   the principals file: unreadable, not JSON, a bad
                                                principal or policy (the message names the file,
                                                the principal and the statement)

Answered to callers (as `simfleet.emulator.errors.AwsError`): `access_denied`.
"""

from __future__ import annotations

from simfleet.emulator.errors import AwsError

ACCESS_DENIED = "AccessDeniedException"


class IamError(Exception):
    """Base of the errors this package raises to its caller."""


class PolicyDocumentError(IamError, ValueError):
    """An IAM policy document that IAM would refuse, or that the emulator cannot evaluate."""


class PrincipalError(IamError, ValueError):
    """A principal, or a set of principals, the emulator refuses (the message says why)."""


class PrincipalsFileError(IamError, ValueError):
    """The principals file cannot be used; the message says where and why."""


def access_denied(message: str) -> AwsError:
    """403 AccessDeniedException, as the AWS IoT control plane answers a caller its IAM policies
    do not allow (aws/aws-connected-device-framework #36, aws-amplify/aws-sdk-android #640).
    Neither botocore model names it; boto3 raises a ClientError with this code."""
    return AwsError(ACCESS_DENIED, message, 403)
