"""The four device requests (spec §1.3): frozen dataclasses, their MQTT JSON, and the service's
validation of what a device sent.

`decode_request` validates as AWS does and raises JobsError (InvalidJson / InvalidRequest), with
the request's clientToken attached when it could be read so the rejected reply can echo it.
Unknown members are ignored. A JSON null reads as an absent member, which is why a missing
`status` gives AWS's "Value null at 'status'…" message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simfleet.jobs._codec import Fields, dumps, load_object
from simfleet.jobs.errors import JobsError, JobsErrorCode
from simfleet.jobs.state import DEVICE_STATUSES, ExecutionStatus
from simfleet.jobs.topics import JobsTopic, Operation

MAX_CLIENT_TOKEN_BYTES = 64
MAX_STEP_TIMEOUT_MINUTES = 10080
CANCEL_STEP_TIMER = -1

_DETAIL_KEY = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_MAX_DETAIL_VALUE = 1024
_DIGITS = re.compile(r"[0-9]{1,19}")
_DEVICE_STATUS_BY_VALUE: dict[str, ExecutionStatus] = {s.value: s for s in DEVICE_STATUSES}


@dataclass(frozen=True, kw_only=True)
class GetPendingRequest:
    client_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class StartNextRequest:
    client_token: str | None = None
    status_details: Mapping[str, str] | None = None
    step_timeout_in_minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class DescribeRequest:
    job_id: str  # a job id or "$next"; travels in the topic, not the payload
    client_token: str | None = None
    execution_number: int | None = None  # None: the latest execution of the job
    include_job_document: bool = True  # AWS's default (spec §1.3)


@dataclass(frozen=True, kw_only=True)
class UpdateRequest:
    job_id: str  # travels in the topic, not the payload
    status: ExecutionStatus
    client_token: str | None = None
    status_details: Mapping[str, str] | None = None  # None keeps the stored details
    expected_version: int | None = None
    execution_number: int | None = None
    include_job_execution_state: bool = False
    include_job_document: bool = False
    step_timeout_in_minutes: int | None = None  # -1 cancels the step timer


JobsRequest = GetPendingRequest | StartNextRequest | DescribeRequest | UpdateRequest


def request_operation(request: JobsRequest) -> Operation:
    match request:
        case GetPendingRequest():
            return Operation.GET_PENDING
        case StartNextRequest():
            return Operation.START_NEXT
        case DescribeRequest():
            return Operation.DESCRIBE
        case UpdateRequest():
            return Operation.UPDATE


def request_topic(thing_name: str, request: JobsRequest) -> JobsTopic:
    """The topic a device publishes `request` to."""
    job_id = request.job_id if isinstance(request, DescribeRequest | UpdateRequest) else None
    return JobsTopic(thing_name=thing_name, operation=request_operation(request), job_id=job_id)


# --- encoding (device side) ---------------------------------------------------------------


def request_members(request: JobsRequest, *, with_client_token: bool = True) -> dict[str, Any]:
    """The JSON members of a request. Absent values are left out; the `include*` flags are
    always sent, so the receiver never depends on AWS's defaults."""
    out: dict[str, Any] = {}
    match request:
        case UpdateRequest():
            out["status"] = request.status.value
            _put(out, "statusDetails", _as_dict(request.status_details))
            _put(out, "expectedVersion", request.expected_version)
            _put(out, "executionNumber", request.execution_number)
            out["includeJobExecutionState"] = request.include_job_execution_state
            out["includeJobDocument"] = request.include_job_document
            _put(out, "stepTimeoutInMinutes", request.step_timeout_in_minutes)
        case DescribeRequest():
            _put(out, "executionNumber", request.execution_number)
            out["includeJobDocument"] = request.include_job_document
        case StartNextRequest():
            _put(out, "statusDetails", _as_dict(request.status_details))
            _put(out, "stepTimeoutInMinutes", request.step_timeout_in_minutes)
        case GetPendingRequest():
            pass
    if with_client_token:
        _put(out, "clientToken", request.client_token)
    return out


def encode_request(request: JobsRequest) -> bytes:
    """The MQTT payload of `request`."""
    return dumps(request_members(request))


def _put(out: dict[str, Any], member: str, value: object) -> None:
    if value is not None:
        out[member] = value


def _as_dict(details: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if details is None else dict(details)


# --- decoding and validation (service side) -----------------------------------------------


def _invalid_request(message: str) -> JobsError:
    return JobsError(JobsErrorCode.INVALID_REQUEST, message)


def _invalid_json(message: str) -> JobsError:
    return JobsError(JobsErrorCode.INVALID_JSON, message)


def load_request_object(payload: bytes) -> dict[str, Any]:
    """The JSON object of a request payload, or JobsError."""
    # An empty payload reads as `{}`: the embedded-C Jobs demo publishes start-next with no
    # payload and is answered (aws-iot-device-sdk-embedded-C issue #1906).
    if not payload:
        return {}
    # [U] Valid JSON that is not an object (`[]`, `"x"`) is a bad request, not bad JSON.
    return load_object(payload, bad_json=_invalid_json, not_object=_invalid_request)


def decode_request(topic: JobsTopic, payload: bytes) -> JobsRequest:
    """Validate a request a device published on `topic` (service side)."""
    if not topic.is_request:
        raise JobsError(JobsErrorCode.INVALID_TOPIC, f"{topic.topic} is not a request topic")
    return request_from_members(topic.operation, topic.job_id, load_request_object(payload))


def request_from_members(
    operation: Operation,
    job_id: str | None,
    members: Mapping[str, Any],
    *,
    with_client_token: bool = True,
) -> JobsRequest:
    """Validate the members of a request (MQTT payload or HTTPS body) as AWS does.

    HTTPS requests carry no clientToken (spec §2): pass `with_client_token=False` to ignore it.
    """
    fields = Fields(members, _invalid_request)
    token = _client_token(fields) if with_client_token else None
    try:
        return _build(operation, job_id, fields, token)
    except JobsError as exc:
        exc.client_token = token
        raise


def _build(
    operation: Operation, job_id: str | None, fields: Fields, token: str | None
) -> JobsRequest:
    match operation:
        case Operation.GET_PENDING:
            return GetPendingRequest(client_token=token)
        case Operation.START_NEXT:
            return StartNextRequest(
                client_token=token,
                status_details=_status_details(fields),
                step_timeout_in_minutes=_step_timeout(fields),
            )
        case Operation.DESCRIBE if job_id is not None:
            include = fields.get("includeJobDocument", bool)
            return DescribeRequest(
                job_id=job_id,
                client_token=token,
                execution_number=fields.get("executionNumber", int),
                include_job_document=True if include is None else include,
            )
        case Operation.UPDATE if job_id is not None:
            return UpdateRequest(
                job_id=job_id,
                status=_status(fields),
                client_token=token,
                status_details=_status_details(fields),
                expected_version=_expected_version(fields),
                execution_number=fields.get("executionNumber", int),
                include_job_execution_state=bool(fields.get("includeJobExecutionState", bool)),
                include_job_document=bool(fields.get("includeJobDocument", bool)),
                step_timeout_in_minutes=_step_timeout(fields),
            )
    raise JobsError(JobsErrorCode.INVALID_TOPIC, f"{operation.value} is not a request")


def _client_token(fields: Fields) -> str | None:
    # Jobs documents no limit; Shadow's is 64 bytes, which we keep (spec §1.2).
    token = fields.get("clientToken", str)
    if token is not None and len(token.encode()) > MAX_CLIENT_TOKEN_BYTES:
        raise fields.fail("clientToken", token, "Member must have length less than or equal to 64")
    return token


def _status(fields: Fields) -> ExecutionStatus:
    value = fields.need("status", str)
    # [U] A device asking for QUEUED, CANCELED, TIMED_OUT or REMOVED gets InvalidRequest, not
    # InvalidStateTransition: those statuses are outside UpdateJobExecution's documented values
    # whatever the current state, so it is a bad field, found before the execution is looked up.
    status = _DEVICE_STATUS_BY_VALUE.get(value)
    if status is None:
        allowed = ", ".join(sorted(_DEVICE_STATUS_BY_VALUE))
        raise fields.fail("status", value, f"Member must satisfy enum value set: [{allowed}]")
    return status


def _status_details(fields: Fields) -> dict[str, str] | None:
    details = fields.string_map("statusDetails")
    if details is None:
        return None
    # Current API reference (spec §1.2): key 1-128 of [a-zA-Z0-9:_-]+, value 1-1024 characters
    # matching [^\p{C}]+ (no control, format, surrogate, private-use or unassigned characters).
    for key, value in details.items():
        if _DETAIL_KEY.fullmatch(key) is None:
            raise fields.fail(
                "statusDetails", key, "Map keys must have length 1-128 and match [a-zA-Z0-9:_-]+"
            )
        if not 1 <= len(value) <= _MAX_DETAIL_VALUE:
            raise fields.fail(f"statusDetails.{key}", value, "Member must have length 1-1024")
        # An ASCII value holds a C-category character exactly when it is not printable
        # (0x00-0x1f, 0x7f): the per-character lookup is only needed beyond ASCII.
        if not (value.isascii() and value.isprintable()) and any(
            unicodedata.category(char).startswith("C") for char in value
        ):
            raise fields.fail(f"statusDetails.{key}", value, r"Member must match [^\p{C}]+")
    return details


def _step_timeout(fields: Fields) -> int | None:
    minutes = fields.get("stepTimeoutInMinutes", int)
    if minutes is not None and not (
        1 <= minutes <= MAX_STEP_TIMEOUT_MINUTES or minutes == CANCEL_STEP_TIMER
    ):
        raise fields.fail("stepTimeoutInMinutes", minutes, "Member must be 1-10080, or -1")
    return minutes


def _expected_version(fields: Fields) -> int | None:
    # AWS's embedded-C Jobs library sends the version as a string ("2"); the docs and the SDKs
    # send a number. Both are accepted (spec §1.3).
    value = fields.get("expectedVersion", object)
    match value:
        case None:
            return None
        case bool():
            pass
        case int():
            return value
        case str() if _DIGITS.fullmatch(value):
            return int(value)
    raise fields.fail("expectedVersion", value, "Member must be a number")
