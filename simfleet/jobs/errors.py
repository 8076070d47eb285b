"""Errors of the Jobs protocol core, and how each AWS error code travels over HTTPS.

The error tree::

    JobsProtocolError               anything this package raises about bad input
     ├── JobsError                  an AWS Jobs error code (spec §1.4): the service answers it on
     │                              …/rejected (MQTT) or as an HTTPS error (§2); carries `code`,
     │                              `message`, `execution_state` and the request's `client_token`
     ├── MalformedMessage           a service message (topic or payload) that is not AWS-shaped;
     │                              raised on the device side by the decoders and JobsClient
     └── InvalidName (ValueError)   a thing name or job id outside AWS's patterns (spec §3, §5)
                                    handed to a topic or path builder
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simfleet.jobs.responses import JobExecutionState


class JobsErrorCode(Enum):
    """The `code` of a rejected MQTT reply (spec §1.4)."""

    INVALID_TOPIC = "InvalidTopic"
    INVALID_JSON = "InvalidJson"
    INVALID_REQUEST = "InvalidRequest"
    INVALID_STATE_TRANSITION = "InvalidStateTransition"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    VERSION_MISMATCH = "VersionMismatch"
    INTERNAL_ERROR = "InternalError"
    REQUEST_THROTTLED = "RequestThrottled"
    TERMINAL_STATE_REACHED = "TerminalStateReached"

    @property
    def https(self) -> HttpsError:
        """The HTTPS error this code is answered with (spec §2 table)."""
        return _HTTPS_ERRORS[self]


@dataclass(frozen=True, kw_only=True)
class HttpsError:
    """An `iot-jobs-data` error: `error_type` for `x-amzn-ErrorType`, and the HTTP `status`."""

    error_type: str
    status: int


_INVALID_REQUEST = HttpsError(error_type="InvalidRequestException", status=400)
_INVALID_STATE = HttpsError(error_type="InvalidStateTransitionException", status=409)

_HTTPS_ERRORS: dict[JobsErrorCode, HttpsError] = {
    # HTTPS has no topics and parses JSON itself; both faults are bad requests there.
    JobsErrorCode.INVALID_TOPIC: _INVALID_REQUEST,
    JobsErrorCode.INVALID_JSON: _INVALID_REQUEST,
    JobsErrorCode.INVALID_REQUEST: _INVALID_REQUEST,
    JobsErrorCode.INVALID_STATE_TRANSITION: _INVALID_STATE,
    # [U] The HTTPS model has no VersionMismatch error; a stale expectedVersion is a conflict
    # with the stored state, so it shares InvalidStateTransitionException's 409.
    JobsErrorCode.VERSION_MISMATCH: _INVALID_STATE,
    JobsErrorCode.RESOURCE_NOT_FOUND: HttpsError(
        error_type="ResourceNotFoundException", status=404
    ),
    JobsErrorCode.TERMINAL_STATE_REACHED: HttpsError(
        error_type="TerminalStateException", status=410
    ),
    # [U] botocore says 429, the API Reference pages say 400 (spec §2); botocore is what clients
    # actually retry on.
    JobsErrorCode.REQUEST_THROTTLED: HttpsError(error_type="ThrottlingException", status=429),
    JobsErrorCode.INTERNAL_ERROR: HttpsError(error_type="ServiceUnavailableException", status=503),
}


class JobsProtocolError(Exception):
    """Base of every error this package raises about bad input."""


class JobsError(JobsProtocolError):
    """An AWS Jobs error, as the service rejects a request with it.

    `execution_state` is set only for InvalidStateTransition and VersionMismatch, the two codes
    whose rejected reply includes `executionState` (spec §1.4). `client_token` is the token of
    the request being rejected when it could be read, so the reply can echo it.
    """

    def __init__(
        self,
        code: JobsErrorCode,
        message: str,
        *,
        execution_state: JobExecutionState | None = None,
        client_token: str | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.execution_state = execution_state
        self.client_token = client_token


class MalformedMessage(JobsProtocolError):
    """A topic or payload from the service that does not have the shape AWS gives it."""


class InvalidName(JobsProtocolError, ValueError):
    """A thing name or job id that AWS would not accept."""
