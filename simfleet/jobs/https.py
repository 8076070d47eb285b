"""The HTTPS device API `iot-jobs-data` (spec §2): routes, bodies and errors, with no I/O.

Same request and response dataclasses as MQTT; what differs is the framing: the operation is the
method and path, `jobDocument` is a JSON string, `approximateSecondsBeforeTimedOut` is sent,
and there is no `timestamp` or `clientToken`. An error is a status, an `x-amzn-ErrorType` name
and a `{"message": …}` body.

    GET  /things/{thingName}/jobs                 GetPendingJobExecutions
    PUT  /things/{thingName}/jobs/$next           StartNextPendingJobExecution
    GET  /things/{thingName}/jobs/{jobId}         DescribeJobExecution (jobId may be $next)
    POST /things/{thingName}/jobs/{jobId}         UpdateJobExecution

The service side decodes in two steps, so that a server can route (and authorize) a call
before it validates it, without routing it twice: `route_https_request` (method and path,
nothing validated), then `decode_routed_request`; `decode_https_request` does both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from simfleet.jobs._codec import Fields, dumps
from simfleet.jobs.errors import HttpsError, JobsError, JobsErrorCode, MalformedMessage
from simfleet.jobs.requests import (
    DescribeRequest,
    GetPendingRequest,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
    load_request_object,
    request_from_members,
    request_members,
    request_operation,
)
from simfleet.jobs.responses import (
    Accepted,
    accepted_from_members,
    load_message_object,
    message_members,
)
from simfleet.jobs.topics import NEXT_JOB_ID, Operation, is_valid_job_id, is_valid_thing_name

ERROR_TYPE_HEADER = "x-amzn-ErrorType"
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, kw_only=True)
class HttpsRequest:
    """One iot-jobs-data call: `path` is percent-encoded as botocore sends it."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _segment(value: str) -> str:
    # botocore percent-encodes path parameters, `$` and `:` included.
    return quote(value, safe="")


def encode_https_request(thing_name: str, request: JobsRequest) -> HttpsRequest:
    """The HTTPS call a device makes for `request` (device side)."""
    base = f"/things/{_segment(thing_name)}/jobs"
    body = dumps(request_members(request, with_client_token=False))
    match request:
        case GetPendingRequest():
            return HttpsRequest(method="GET", path=base)
        case StartNextRequest():
            return HttpsRequest(method="PUT", path=f"{base}/{_segment(NEXT_JOB_ID)}", body=body)
        case DescribeRequest():
            query = {"includeJobDocument": "true" if request.include_job_document else "false"}
            if request.execution_number is not None:
                query["executionNumber"] = str(request.execution_number)
            return HttpsRequest(
                method="GET", path=f"{base}/{_segment(request.job_id)}", query=query
            )
        case UpdateRequest():
            return HttpsRequest(method="POST", path=f"{base}/{_segment(request.job_id)}", body=body)


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpsRoute:
    """Where an HTTPS call goes: its operation, and the path's thing name and job ID
    (percent-decoded), not validated yet."""

    operation: Operation
    thing_name: str
    job_id: str | None


def route_https_request(method: str, path: str) -> HttpsRoute | None:
    """The route of an HTTPS call (service side), or None when method and path are no Jobs
    route. Nothing is validated: `decode_routed_request` does that."""
    levels = path.strip("/").split("/")
    if "%" in path:  # most paths hold nothing encoded: skip the decoding
        levels = [unquote(level) for level in levels]
    if len(levels) == 4:
        job_id: str | None = levels[3]
    elif len(levels) == 3:
        job_id = None
    else:
        return None
    if levels[0] != "things" or levels[2] != "jobs":
        return None
    operation = _route(method.upper(), job_id)
    if operation is None:
        return None
    return HttpsRoute(operation=operation, thing_name=levels[1], job_id=job_id)


def decode_routed_request(route: HttpsRoute, query: Mapping[str, str], body: bytes) -> JobsRequest:
    """The request of a routed HTTPS call (service side); JobsError (InvalidRequest,
    InvalidJson) when it is not valid. Only DescribeJobExecution reads `query`."""
    operation, thing_name, job_id = route.operation, route.thing_name, route.job_id
    if not is_valid_thing_name(thing_name):
        raise JobsError(JobsErrorCode.INVALID_REQUEST, f"invalid thing name {thing_name!r}")
    if job_id is not None and not (
        is_valid_job_id(job_id) or (job_id == NEXT_JOB_ID and operation is not Operation.UPDATE)
    ):
        raise JobsError(JobsErrorCode.INVALID_REQUEST, f"invalid job id {job_id!r}")
    if operation is Operation.DESCRIBE and job_id is not None:
        return _describe(job_id, query)
    members = load_request_object(body) if operation is not Operation.GET_PENDING else {}
    return request_from_members(operation, job_id, members, with_client_token=False)


def decode_https_request(
    method: str, path: str, query: Mapping[str, str], body: bytes
) -> tuple[str, JobsRequest] | None:
    """The thing name and request of an HTTPS call (service side).

    None when method and path are no Jobs route; JobsError (InvalidRequest, InvalidJson) when
    they are but the call is not valid.
    """
    route = route_https_request(method, path)
    if route is None:
        return None
    return route.thing_name, decode_routed_request(route, query, body)


def _route(method: str, job_id: str | None) -> Operation | None:
    match method, job_id:
        case "GET", None:
            return Operation.GET_PENDING
        case "PUT", "$next":
            return Operation.START_NEXT
        case "GET", str():
            return Operation.DESCRIBE
        case "POST", str():
            return Operation.UPDATE
    return None


def _describe(job_id: str, query: Mapping[str, str]) -> DescribeRequest:
    number = query.get("executionNumber")
    if number is not None and _DIGITS.fullmatch(number) is None:
        raise JobsError(JobsErrorCode.INVALID_REQUEST, f"executionNumber {number!r} is no number")
    include = query.get("includeJobDocument", "true").lower()
    if include not in ("true", "false"):
        raise JobsError(JobsErrorCode.INVALID_REQUEST, f"includeJobDocument {include!r} is no bool")
    return DescribeRequest(
        job_id=job_id,
        execution_number=None if number is None else int(number),
        include_job_document=include == "true",
    )


def encode_https_response(response: Accepted) -> bytes:
    """The 200 body answering an HTTPS call (service side)."""
    members = message_members(response, https=True)
    # An update that asks for neither state nor document (a device's progress report, the
    # commonest call) is answered `{}`: no encoder needed.
    return dumps(members) if members else b"{}"


def decode_https_response(request: JobsRequest, body: bytes) -> Accepted:
    """The 200 body answering `request`, decoded (device side); raises MalformedMessage."""
    fields = Fields(load_message_object(body) if body else {}, MalformedMessage)
    return accepted_from_members(request_operation(request), fields, https=True)


def encode_https_error(error: JobsError) -> tuple[HttpsError, bytes]:
    """The status and error type (`error.code.https`) and the body of a failed call."""
    return error.code.https, dumps({"message": error.message})


_BY_TYPE = {
    "InvalidRequestException": JobsErrorCode.INVALID_REQUEST,
    "CertificateValidationException": JobsErrorCode.INVALID_REQUEST,
    "ResourceNotFoundException": JobsErrorCode.RESOURCE_NOT_FOUND,
    # VersionMismatch shares this type over HTTPS (see errors.py), so it reads back as this.
    "InvalidStateTransitionException": JobsErrorCode.INVALID_STATE_TRANSITION,
    "TerminalStateException": JobsErrorCode.TERMINAL_STATE_REACHED,
    "ThrottlingException": JobsErrorCode.REQUEST_THROTTLED,
    "ServiceUnavailableException": JobsErrorCode.INTERNAL_ERROR,
}
_BY_STATUS = {
    400: JobsErrorCode.INVALID_REQUEST,
    404: JobsErrorCode.RESOURCE_NOT_FOUND,
    409: JobsErrorCode.INVALID_STATE_TRANSITION,
    410: JobsErrorCode.TERMINAL_STATE_REACHED,
    429: JobsErrorCode.REQUEST_THROTTLED,
    500: JobsErrorCode.INTERNAL_ERROR,
    503: JobsErrorCode.INTERNAL_ERROR,
}


def decode_https_error(status: int, error_type: str | None, body: bytes) -> JobsError:
    """The JobsError of a failed call (device side); MalformedMessage if nothing maps it.

    The error type comes from `x-amzn-ErrorType`, which rest-json services may suffix with
    `:<namespace>`; without a known type the status decides.
    """
    name = (error_type or "").split(":", 1)[0]
    code = _BY_TYPE.get(name) or _BY_STATUS.get(status)
    if code is None:
        raise MalformedMessage(f"HTTP {status} {error_type!r} is no Jobs error")
    return JobsError(code, _error_message(body))


def _error_message(body: bytes) -> str:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        return body.decode("utf-8", errors="replace")
    if isinstance(parsed, dict):
        message = parsed.get("message", parsed.get("Message"))
        if isinstance(message, str):
            return message
    return body.decode("utf-8")
