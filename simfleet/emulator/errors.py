"""Errors of the emulator's control plane, in AWS's own names.

    AwsError(code, message, status)   raised by ControlPlane methods; the HTTP layer sends
                                      `x-amzn-ErrorType: code`, status, and {"message": ...}

Codes are those of the AWS IoT API (botocore's `iot` service model): ResourceNotFoundException
(404), InvalidRequestException (400), ResourceAlreadyExistsException (409),
ConflictException (409), LimitExceededException (410), ThrottlingException (429),
UnauthorizedException (401), ForbiddenException / AccessDeniedException (403),
InternalFailureException (500), ServiceUnavailableException (503).
"""

from __future__ import annotations


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", what, 404)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message, 400)


def already_exists(message: str) -> AwsError:
    return AwsError("ResourceAlreadyExistsException", message, 409)
