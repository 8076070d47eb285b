"""Errors: this package's own, and the AWS errors it answers that `simfleet.jobs` does not name.

Own tree (misuse of the server; clients never see these)::

    JobsHttpError
    └── ServerStateError (also a RuntimeError)   port read before start, start twice

Answered to clients (as `simfleet.emulator.errors.AwsError`, then `x-amzn-ErrorType` and
`{"message": …}`); the Jobs errors proper (400/404/409/410/429/503) come from
`simfleet.jobs.errors.JobsError` through `simfleet.jobs.https.encode_https_error`.
"""

from __future__ import annotations

from simfleet.emulator.errors import AwsError


class JobsHttpError(Exception):
    """Base of the errors this package raises to its caller."""


class ServerStateError(JobsHttpError, RuntimeError):
    """The server is not started (`port`), or already started (`start`)."""


def certificate_refused(message: str) -> AwsError:
    """A verified client certificate that is not registered, or not ACTIVE.

    [U] AWS documents no answer. iot-jobs-data's model names CertificateValidationException
    (400, "The certificate is invalid.") on every operation, and only the 8443 path has
    certificates to find invalid, so that is the error we send.
    """
    return AwsError("CertificateValidationException", message, 400)


def policy_denied(message: str) -> AwsError:
    """An IoT Core policy that does not allow the call (spec §2, "probably 403" [U]).

    ForbiddenException is what the AWS IoT data endpoint answers a certificate-less or denied
    HTTPS call with (`x-amzn-ErrorType: ForbiddenException`, 403, seen on the wire).
    """
    return AwsError("ForbiddenException", message, 403)


def iam_denied(message: str) -> AwsError:
    """A SigV4 caller that IAM does not allow: AccessDeniedException, as AWS's IAM-checked
    rest-json services answer (issue #4, item 4)."""
    return AwsError("AccessDeniedException", message, 403)


def unknown_operation(method: str, path: str) -> AwsError:
    """[U] No operation at this method and path (an unknown path or a wrong method): 404
    UnknownOperationException, the answer the SigV4 side gives (`RestJsonApi`), so the port
    answers the same whoever asks."""
    return AwsError(
        "UnknownOperationException", f"No iot-jobs-data operation matches {method} {path}.", 404
    )


def body_too_large(limit: int) -> AwsError:
    """A body over the limit is not read; 400 InvalidRequestException as `RestJsonApi` does."""
    return AwsError(
        "InvalidRequestException", f"The request body is larger than {limit} bytes.", 400
    )
