"""Errors of the emulator's control plane, in AWS's own names.

    AwsError(code, message, status, fields={})   raised by ControlPlane methods; the HTTP
                                      layer sends `x-amzn-ErrorType: code`, status, and
                                      {"message": ..., **fields} (the error shape's other
                                      members: ResourceAlreadyExistsException's resourceId)

Codes are those of the AWS IoT API (botocore's `iot` service model): ResourceNotFoundException
(404), InvalidRequestException (400), ResourceAlreadyExistsException (409),
ConflictException (409), LimitExceededException (410), ThrottlingException (429),
UnauthorizedException (401), ForbiddenException / AccessDeniedException (403),
InternalFailureException (500), ServiceUnavailableException (503).
"""

from __future__ import annotations

from collections.abc import Mapping


class AwsError(Exception):
    def __init__(
        self, code: str, message: str, status: int, *, fields: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields: Mapping[str, str] = dict(fields or {})


def not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", what, 404)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message, 400)


def already_exists(
    message: str, *, resource_id: str | None = None, resource_arn: str | None = None
) -> AwsError:
    """409 ResourceAlreadyExistsException; AWS names the existing resource in resourceId and
    resourceArn (botocore model), which a resumable client reads to carry on."""
    fields = {"resourceId": resource_id, "resourceArn": resource_arn}
    return AwsError(
        "ResourceAlreadyExistsException",
        message,
        409,
        fields={name: value for name, value in fields.items() if value is not None},
    )
