"""What the service sends (spec §1.2-§1.4, §2): replies and notifications as frozen dataclasses,
with their JSON over MQTT and over HTTPS.

Encoding follows AWS: epoch seconds, absent values left out rather than null, `jobDocument` an
object over MQTT and a JSON string over HTTPS, `timestamp` and `clientToken` only over MQTT,
`approximateSecondsBeforeTimedOut` only over HTTPS. Decoding (device side) ignores unknown
members, is strict about the types of known ones, and raises MalformedMessage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simfleet.jobs._codec import Fields, dumps, load_object
from simfleet.jobs.errors import JobsError, JobsErrorCode, MalformedMessage
from simfleet.jobs.state import ExecutionStatus
from simfleet.jobs.topics import JobsTopic, Operation, Reply


@dataclass(frozen=True, kw_only=True)
class JobExecutionSummary:
    job_id: str
    queued_at: int
    started_at: int | None = None  # set once the execution has started (spec §1.2)
    last_updated_at: int
    version_number: int
    execution_number: int


@dataclass(frozen=True, kw_only=True)
class JobExecutionState:
    status: ExecutionStatus
    status_details: Mapping[str, str] | None = None
    version_number: int


@dataclass(frozen=True, kw_only=True)
class JobExecution:
    job_id: str
    thing_name: str | None = None  # not sent in MQTT start-next and notify-next (§1.2)
    job_document: Mapping[str, Any] | None = None  # left out when not asked for
    status: ExecutionStatus
    status_details: Mapping[str, str] | None = None
    queued_at: int
    started_at: int | None = None
    last_updated_at: int
    version_number: int
    execution_number: int
    approximate_seconds_before_timed_out: int | None = None  # sent over HTTPS only (§1.2)


# `timestamp` and `client_token` are None over HTTPS, which sends neither (spec §2).


@dataclass(frozen=True, kw_only=True)
class GetPendingAccepted:
    timestamp: int | None = None
    client_token: str | None = None
    in_progress_jobs: tuple[JobExecutionSummary, ...] = ()
    queued_jobs: tuple[JobExecutionSummary, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StartNextAccepted:
    timestamp: int | None = None
    client_token: str | None = None
    execution: JobExecution | None = None  # None when nothing is pending (spec §1.3)


@dataclass(frozen=True, kw_only=True)
class DescribeAccepted:
    timestamp: int | None = None
    client_token: str | None = None
    execution: JobExecution | None = None  # None for `$next` when nothing is pending


@dataclass(frozen=True, kw_only=True)
class UpdateAccepted:
    timestamp: int | None = None
    client_token: str | None = None
    execution_state: JobExecutionState | None = None  # only with includeJobExecutionState
    job_document: Mapping[str, Any] | None = None  # only with includeJobDocument


@dataclass(frozen=True, kw_only=True)
class Rejected:
    timestamp: int
    client_token: str | None = None
    code: JobsErrorCode
    message: str
    execution_state: JobExecutionState | None = None  # InvalidStateTransition, VersionMismatch

    @classmethod
    def from_error(cls, error: JobsError, *, timestamp: int) -> Rejected:
        return cls(
            timestamp=timestamp,
            client_token=error.client_token,
            code=error.code,
            message=error.message,
            execution_state=error.execution_state,
        )

    def to_error(self) -> JobsError:
        return JobsError(
            self.code,
            self.message,
            execution_state=self.execution_state,
            client_token=self.client_token,
        )


@dataclass(frozen=True, kw_only=True)
class Notify:
    """JobExecutionsChanged: the pending executions by status; a status with none is absent."""

    timestamp: int
    jobs: Mapping[ExecutionStatus, tuple[JobExecutionSummary, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NotifyNext:
    """NextJobExecutionChanged: the new `$next`, or None when nothing is pending."""

    timestamp: int
    execution: JobExecution | None = None


Accepted = GetPendingAccepted | StartNextAccepted | DescribeAccepted | UpdateAccepted
JobsResponse = Accepted | Rejected
JobsNotification = Notify | NotifyNext
ServiceMessage = JobsResponse | JobsNotification


# --- encoding -----------------------------------------------------------------------------


def _put(out: dict[str, Any], member: str, value: object) -> None:
    if value is not None:
        out[member] = value


def summary_members(summary: JobExecutionSummary) -> dict[str, Any]:
    out: dict[str, Any] = {"jobId": summary.job_id, "queuedAt": summary.queued_at}
    _put(out, "startedAt", summary.started_at)
    out["lastUpdatedAt"] = summary.last_updated_at
    out["versionNumber"] = summary.version_number
    out["executionNumber"] = summary.execution_number
    return out


def state_members(state: JobExecutionState) -> dict[str, Any]:
    out: dict[str, Any] = {"status": state.status.value}
    _put(out, "statusDetails", _as_dict(state.status_details))
    out["versionNumber"] = state.version_number
    return out


def _document(document: Mapping[str, Any] | None, *, https: bool) -> object:
    if document is None:
        return None
    return dumps(document).decode() if https else dict(document)


def execution_members(
    execution: JobExecution, *, https: bool, with_thing_name: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {"jobId": execution.job_id}
    if with_thing_name:
        _put(out, "thingName", execution.thing_name)
    out["status"] = execution.status.value
    _put(out, "statusDetails", _as_dict(execution.status_details))
    out["queuedAt"] = execution.queued_at
    _put(out, "startedAt", execution.started_at)
    out["lastUpdatedAt"] = execution.last_updated_at
    if https:
        _put(
            out, "approximateSecondsBeforeTimedOut", execution.approximate_seconds_before_timed_out
        )
    out["versionNumber"] = execution.version_number
    out["executionNumber"] = execution.execution_number
    _put(out, "jobDocument", _document(execution.job_document, https=https))
    return out


def message_members(message: ServiceMessage, *, https: bool = False) -> dict[str, Any]:
    """The JSON members of a service message; `https` gives the iot-jobs-data body (§2)."""
    out: dict[str, Any] = {}
    if not https:
        _put(out, "timestamp", message.timestamp)
    match message:
        case Notify():
            out["jobs"] = {
                status.value: [summary_members(s) for s in summaries]
                for status, summaries in message.jobs.items()
                if summaries
            }
            return out
        case NotifyNext():
            if message.execution is not None:
                out["execution"] = execution_members(
                    message.execution, https=https, with_thing_name=False
                )
            return out
        case Rejected():
            out["code"] = message.code.value
            out["message"] = message.message
            if message.execution_state is not None:
                out["executionState"] = state_members(message.execution_state)
        case GetPendingAccepted():
            # Both lists are present even when empty (spec §1.3).
            out["inProgressJobs"] = [summary_members(s) for s in message.in_progress_jobs]
            out["queuedJobs"] = [summary_members(s) for s in message.queued_jobs]
        case StartNextAccepted() | DescribeAccepted():
            if message.execution is not None:
                # The live MQTT start-next and notify-next payloads had no thingName (§1.2).
                # [U] The MQTT describe doc example has one and nothing live contradicts it.
                # Over HTTPS the API model's JobExecution has it (and the CLI example shows it).
                with_thing_name = https or isinstance(message, DescribeAccepted)
                out["execution"] = execution_members(
                    message.execution, https=https, with_thing_name=with_thing_name
                )
        case UpdateAccepted():
            if message.execution_state is not None:
                out["executionState"] = state_members(message.execution_state)
            _put(out, "jobDocument", _document(message.job_document, https=https))
    if not https:
        _put(out, "clientToken", message.client_token)
    return out


def encode_message(message: ServiceMessage) -> bytes:
    """The MQTT payload of a reply or notification."""
    return dumps(message_members(message))


def _as_dict(details: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if details is None else dict(details)


# --- decoding (device side) ---------------------------------------------------------------


def _malformed(message: str) -> MalformedMessage:
    return MalformedMessage(message)


def load_message_object(payload: bytes) -> dict[str, Any]:
    return load_object(payload, bad_json=_malformed, not_object=_malformed)


def decode_message(topic: JobsTopic, payload: bytes) -> ServiceMessage:
    """Decode what the service sent on `topic` (an accepted, rejected or notify topic)."""
    fields = Fields(load_message_object(payload), _malformed)
    if topic.reply is Reply.REJECTED:
        return _rejected(fields)
    if topic.reply is Reply.ACCEPTED:
        return accepted_from_members(topic.operation, fields, https=False)
    if topic.operation is Operation.NOTIFY:
        return _notify(fields)
    if topic.operation is Operation.NOTIFY_NEXT:
        execution = fields.nested("execution")
        return NotifyNext(
            timestamp=fields.need_seconds("timestamp"),
            execution=None if execution is None else _execution(execution, https=False),
        )
    raise MalformedMessage(f"{topic.topic} is a request topic, not a service message")


def accepted_from_members(operation: Operation, fields: Fields, *, https: bool) -> Accepted:
    """An accepted reply to `operation`, from its MQTT payload or (`https`) its HTTPS body."""
    timestamp = fields.seconds("timestamp")
    token = fields.get("clientToken", str)
    match operation:
        case Operation.GET_PENDING:
            return GetPendingAccepted(
                timestamp=timestamp,
                client_token=token,
                in_progress_jobs=tuple(_summary(f) for f in fields.objects("inProgressJobs")),
                queued_jobs=tuple(_summary(f) for f in fields.objects("queuedJobs")),
            )
        case Operation.START_NEXT | Operation.DESCRIBE:
            nested = fields.nested("execution")
            execution = None if nested is None else _execution(nested, https=https)
            if operation is Operation.START_NEXT:
                return StartNextAccepted(
                    timestamp=timestamp, client_token=token, execution=execution
                )
            return DescribeAccepted(timestamp=timestamp, client_token=token, execution=execution)
        case Operation.UPDATE:
            state = fields.nested("executionState")
            return UpdateAccepted(
                timestamp=timestamp,
                client_token=token,
                execution_state=None if state is None else _state(state),
                job_document=_job_document(fields, https=https),
            )
    raise MalformedMessage(f"{operation.value} has no accepted reply")


def _rejected(fields: Fields) -> Rejected:
    code = fields.need("code", str)
    try:
        known = JobsErrorCode(code)
    except ValueError:
        raise fields.fail("code", code, "Member must be a Jobs error code") from None
    state = fields.nested("executionState")
    return Rejected(
        timestamp=fields.need_seconds("timestamp"),
        client_token=fields.get("clientToken", str),
        code=known,
        message=fields.get("message", str) or "",
        execution_state=None if state is None else _state(state),
    )


def _notify(fields: Fields) -> Notify:
    jobs: dict[ExecutionStatus, tuple[JobExecutionSummary, ...]] = {}
    by_status = fields.nested("jobs")
    if by_status is not None:
        for name in by_status.members():
            summaries = tuple(_summary(f) for f in by_status.objects(name))
            jobs[_status(by_status, name, name)] = summaries
    return Notify(timestamp=fields.need_seconds("timestamp"), jobs=jobs)


def _status(fields: Fields, member: str, value: str) -> ExecutionStatus:
    try:
        return ExecutionStatus(value)
    except ValueError:
        raise fields.fail(member, value, "Member must be a job execution status") from None


def _summary(fields: Fields) -> JobExecutionSummary:
    return JobExecutionSummary(
        job_id=fields.need("jobId", str),
        queued_at=fields.need_seconds("queuedAt"),
        started_at=fields.seconds("startedAt"),
        last_updated_at=fields.need_seconds("lastUpdatedAt"),
        version_number=fields.need("versionNumber", int),
        execution_number=fields.need("executionNumber", int),
    )


def _state(fields: Fields) -> JobExecutionState:
    return JobExecutionState(
        status=_status(fields, "status", fields.need("status", str)),
        status_details=fields.string_map("statusDetails"),
        version_number=fields.need("versionNumber", int),
    )


def _execution(fields: Fields, *, https: bool) -> JobExecution:
    return JobExecution(
        job_id=fields.need("jobId", str),
        thing_name=fields.get("thingName", str),
        job_document=_job_document(fields, https=https),
        status=_status(fields, "status", fields.need("status", str)),
        status_details=fields.string_map("statusDetails"),
        queued_at=fields.need_seconds("queuedAt"),
        started_at=fields.seconds("startedAt"),
        last_updated_at=fields.need_seconds("lastUpdatedAt"),
        version_number=fields.need("versionNumber", int),
        execution_number=fields.need("executionNumber", int),
        approximate_seconds_before_timed_out=fields.get("approximateSecondsBeforeTimedOut", int),
    )


def _job_document(fields: Fields, *, https: bool) -> Mapping[str, Any] | None:
    if not https:
        return fields.get("jobDocument", dict)
    text = fields.get("jobDocument", str)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        raise fields.fail("jobDocument", text, "Member must hold a JSON object") from None
    if not isinstance(document, dict):
        raise fields.fail("jobDocument", text, "Member must hold a JSON object")
    return document
