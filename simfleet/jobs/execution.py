"""The Jobs service, as pure functions over frozen execution records (spec §1.3, §3).

The emulator keeps the records of one thing, calls `handle` (or one operation) with the time,
stores the changed record it gets back, and asks `simfleet.jobs.notifications` what to send.
Time is whole epoch seconds, passed in. Every allowed move is looked up in `state.TRANSITIONS`.

Versions: `version_number` is 1 when queued and goes up by 1 with each accepted device update
(start-next takes a QUEUED execution 1→2; on an execution already IN_PROGRESS it changes
nothing). [U] Service moves (time-out, cancel, remove) also add 1, so that a device still holding
the old version gets VersionMismatch rather than overwriting a change it has not seen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simfleet.jobs.errors import JobsError, JobsErrorCode
from simfleet.jobs.requests import (
    CANCEL_STEP_TIMER,
    DescribeRequest,
    GetPendingRequest,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
)
from simfleet.jobs.responses import (
    Accepted,
    DescribeAccepted,
    GetPendingAccepted,
    JobExecution,
    JobExecutionState,
    JobExecutionSummary,
    StartNextAccepted,
    UpdateAccepted,
)
from simfleet.jobs.state import DEVICE_STATUSES, ExecutionStatus, Mover, is_allowed
from simfleet.jobs.topics import NEXT_JOB_ID, check_job_id, check_thing_name

MAX_PENDING_LISTED = 10  # per list in get/accepted and notify (spec §1.3; 15 with scheduling)
MAX_TIMEOUT_MINUTES = 10080


@dataclass(frozen=True, kw_only=True)
class ExecutionRecord:
    """One execution of one job on one thing, as the service stores it. Times in epoch seconds."""

    thing_name: str
    job_id: str
    execution_number: int = 1
    status: ExecutionStatus = ExecutionStatus.QUEUED
    status_details: Mapping[str, str] | None = None
    job_document: Mapping[str, Any]
    queued_at: int
    started_at: int | None = None
    last_updated_at: int
    version_number: int = 1
    in_progress_timeout_minutes: int | None = None  # the job's timeoutConfig, fixed at queueing
    in_progress_deadline: int | None = None  # set when the execution goes IN_PROGRESS
    step_deadline: int | None = None  # set by stepTimeoutInMinutes, capped at the above

    @property
    def key(self) -> tuple[str, int]:
        """What makes two records the same execution."""
        return self.job_id, self.execution_number

    @property
    def deadline(self) -> int | None:
        """When the execution times out if nothing changes, or None."""
        deadlines = [d for d in (self.in_progress_deadline, self.step_deadline) if d is not None]
        return min(deadlines, default=None)

    def summary(self) -> JobExecutionSummary:
        return JobExecutionSummary(
            job_id=self.job_id,
            queued_at=self.queued_at,
            started_at=self.started_at,
            last_updated_at=self.last_updated_at,
            version_number=self.version_number,
            execution_number=self.execution_number,
        )

    def state(self) -> JobExecutionState:
        return JobExecutionState(
            status=self.status,
            status_details=self.status_details,
            version_number=self.version_number,
        )

    def execution(self, *, now: int, include_document: bool = True) -> JobExecution:
        deadline = self.deadline
        return JobExecution(
            job_id=self.job_id,
            thing_name=self.thing_name,
            job_document=self.job_document if include_document else None,
            status=self.status,
            status_details=self.status_details,
            queued_at=self.queued_at,
            started_at=self.started_at,
            last_updated_at=self.last_updated_at,
            version_number=self.version_number,
            execution_number=self.execution_number,
            approximate_seconds_before_timed_out=None
            if deadline is None
            else max(0, deadline - now),
        )


def queue(
    *,
    thing_name: str,
    job_id: str,
    job_document: Mapping[str, Any],
    now: int,
    execution_number: int = 1,
    in_progress_timeout_minutes: int | None = None,
) -> ExecutionRecord:
    """A new QUEUED execution (version 1). A retry is a new record with the next number."""
    if in_progress_timeout_minutes is not None and not (
        1 <= in_progress_timeout_minutes <= MAX_TIMEOUT_MINUTES
    ):
        raise ValueError("inProgressTimeoutInMinutes must be 1-10080")
    return ExecutionRecord(
        thing_name=check_thing_name(thing_name),
        job_id=check_job_id(job_id),
        execution_number=execution_number,
        job_document=job_document,
        queued_at=now,
        last_updated_at=now,
        in_progress_timeout_minutes=in_progress_timeout_minutes,
    )


# --- reading the pending set --------------------------------------------------------------


def _age(record: ExecutionRecord) -> tuple[int, str, int]:
    # Oldest first (spec §1.3); job id and execution number break ties deterministically.
    return record.queued_at, record.job_id, record.execution_number


def pending_by_status(
    executions: Iterable[ExecutionRecord],
) -> tuple[list[ExecutionRecord], list[ExecutionRecord]]:
    """The IN_PROGRESS and the QUEUED executions, each oldest first."""
    ordered = sorted(executions, key=_age)
    return (
        [r for r in ordered if r.status is ExecutionStatus.IN_PROGRESS],
        [r for r in ordered if r.status is ExecutionStatus.QUEUED],
    )


def select_next(executions: Iterable[ExecutionRecord]) -> ExecutionRecord | None:
    """`$next`: the oldest IN_PROGRESS execution, else the oldest QUEUED one (spec §1.3)."""
    in_progress, queued = pending_by_status(executions)
    return (in_progress + queued)[0] if in_progress or queued else None


def find_execution(
    executions: Iterable[ExecutionRecord], job_id: str, execution_number: int | None = None
) -> ExecutionRecord:
    """The named execution, the latest of the job when no number is given (spec §1.3)."""
    matching = [r for r in executions if r.job_id == job_id]
    if execution_number is not None:
        matching = [r for r in matching if r.execution_number == execution_number]
    if not matching:
        number = "" if execution_number is None else f" #{execution_number}"
        raise JobsError(
            JobsErrorCode.RESOURCE_NOT_FOUND, f"No job execution found for {job_id}{number}"
        )
    return max(matching, key=lambda r: r.execution_number)


# --- the four device operations -----------------------------------------------------------


def get_pending(
    executions: Iterable[ExecutionRecord],
    request: GetPendingRequest,
    now: int,
    *,
    limit: int = MAX_PENDING_LISTED,
) -> GetPendingAccepted:
    in_progress, queued = pending_by_status(executions)
    return GetPendingAccepted(
        timestamp=now,
        client_token=request.client_token,
        in_progress_jobs=tuple(r.summary() for r in in_progress[:limit]),
        queued_jobs=tuple(r.summary() for r in queued[:limit]),
    )


def start_next(
    executions: Iterable[ExecutionRecord], request: StartNextRequest, now: int
) -> tuple[StartNextAccepted, ExecutionRecord | None]:
    """Start `$next`; the changed record is None when nothing changed (nothing pending, or the
    next one is already IN_PROGRESS and comes back unchanged, spec §1.3)."""
    head = select_next(executions)
    changed = None
    if head is not None and head.status is ExecutionStatus.QUEUED:
        head = changed = _apply_device_move(
            head,
            ExecutionStatus.IN_PROGRESS,
            status_details=request.status_details,
            step_timeout_in_minutes=request.step_timeout_in_minutes,
            now=now,
        )
    return StartNextAccepted(
        timestamp=now,
        client_token=request.client_token,
        execution=None if head is None else head.execution(now=now),
    ), changed


def describe(
    executions: Iterable[ExecutionRecord], request: DescribeRequest, now: int
) -> DescribeAccepted:
    # [U] TerminalStateReached is never raised: describing a terminal execution answers it like
    # any other, which is what the CLI examples and SDK samples show.
    if request.job_id == NEXT_JOB_ID:
        record = select_next(executions)
    else:
        record = find_execution(executions, request.job_id, request.execution_number)
    return DescribeAccepted(
        timestamp=now,
        client_token=request.client_token,
        execution=None
        if record is None
        else record.execution(now=now, include_document=request.include_job_document),
    )


def update(
    record: ExecutionRecord, request: UpdateRequest, now: int
) -> tuple[UpdateAccepted, ExecutionRecord]:
    """Apply a device's UpdateJobExecution to `record` (found with `find_execution`)."""
    if request.status not in DEVICE_STATUSES:
        raise JobsError(
            JobsErrorCode.INVALID_REQUEST, f"A device cannot set status {request.status.value}"
        )
    if request.execution_number not in (None, record.execution_number):
        raise JobsError(JobsErrorCode.RESOURCE_NOT_FOUND, "No such job execution")
    # [U] AWS's order of checks is undocumented: the move is checked before the version, as a
    # move from a terminal state fails whatever version the device holds.
    if not is_allowed(Mover.DEVICE, record.status, request.status):
        raise JobsError(
            JobsErrorCode.INVALID_STATE_TRANSITION,
            f"Cannot update job execution from {record.status.value} to {request.status.value}",
            execution_state=record.state(),
        )
    if request.expected_version not in (None, record.version_number):
        raise JobsError(
            JobsErrorCode.VERSION_MISMATCH,
            f"Expected version {request.expected_version}, current is {record.version_number}",
            execution_state=record.state(),
        )
    changed = _apply_device_move(
        record,
        request.status,
        status_details=request.status_details,
        step_timeout_in_minutes=request.step_timeout_in_minutes,
        now=now,
    )
    return UpdateAccepted(
        timestamp=now,
        client_token=request.client_token,
        execution_state=changed.state() if request.include_job_execution_state else None,
        job_document=changed.job_document if request.include_job_document else None,
    ), changed


def _apply_device_move(
    record: ExecutionRecord,
    status: ExecutionStatus,
    *,
    status_details: Mapping[str, str] | None,
    step_timeout_in_minutes: int | None,
    now: int,
) -> ExecutionRecord:
    started = record.status is ExecutionStatus.QUEUED and status is ExecutionStatus.IN_PROGRESS
    in_progress_deadline = record.in_progress_deadline
    if started and record.in_progress_timeout_minutes is not None:
        # The in-progress timer starts when the execution goes IN_PROGRESS and is fixed (§3).
        in_progress_deadline = now + record.in_progress_timeout_minutes * 60
    step_deadline = record.step_deadline
    if step_timeout_in_minutes == CANCEL_STEP_TIMER:
        step_deadline = None
    elif step_timeout_in_minutes is not None:
        # Each update replaces the step timer; it never runs past the in-progress deadline.
        step_deadline = now + step_timeout_in_minutes * 60
        if in_progress_deadline is not None:
            step_deadline = min(step_deadline, in_progress_deadline)
    moved = dataclasses.replace(
        record,
        status=status,
        # [U] New statusDetails replace the stored ones; absent ones are kept (spec §1.3).
        status_details=record.status_details if status_details is None else status_details,
        started_at=now if started else record.started_at,
        last_updated_at=now,
        version_number=record.version_number + 1,
        in_progress_deadline=in_progress_deadline,
        step_deadline=step_deadline,
    )
    return _stop_timers(moved) if status.is_terminal else moved


# --- service moves ------------------------------------------------------------------------


def _service_move(
    record: ExecutionRecord, mover: Mover, status: ExecutionStatus, now: int
) -> ExecutionRecord:
    if not is_allowed(mover, record.status, status):
        raise JobsError(
            JobsErrorCode.INVALID_STATE_TRANSITION,
            f"Cannot {mover.value} a job execution in status {record.status.value}",
            execution_state=record.state(),
        )
    return _stop_timers(
        dataclasses.replace(
            record, status=status, last_updated_at=now, version_number=record.version_number + 1
        )
    )


def _stop_timers(record: ExecutionRecord) -> ExecutionRecord:
    return dataclasses.replace(record, in_progress_deadline=None, step_deadline=None)


def time_out(record: ExecutionRecord, now: int) -> ExecutionRecord | None:
    """The TIMED_OUT record if a timer of `record` has run out by `now`, else None (§3)."""
    deadline = record.deadline
    if (
        deadline is None
        or now < deadline
        or not is_allowed(Mover.TIMER, record.status, ExecutionStatus.TIMED_OUT)
    ):
        return None
    return _service_move(record, Mover.TIMER, ExecutionStatus.TIMED_OUT, now)


def cancel(record: ExecutionRecord, *, force: bool, now: int) -> ExecutionRecord:
    """CancelJobExecution: QUEUED ones always, IN_PROGRESS ones only with `force` (§3).

    Raises InvalidStateTransition otherwise; a job-wide cancel skips the executions for which
    `state.is_allowed` says no, leaving terminal and (without force) IN_PROGRESS ones untouched.
    """
    mover = Mover.FORCE_CANCEL if force else Mover.CANCEL
    return _service_move(record, mover, ExecutionStatus.CANCELED, now)


def remove(record: ExecutionRecord, now: int) -> ExecutionRecord:
    """The thing stopped being a target of a continuous job: the execution becomes REMOVED."""
    return _service_move(record, Mover.REMOVE, ExecutionStatus.REMOVED, now)


# --- dispatch -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The reply to a request, and the record it changed (None when it changed nothing)."""

    response: Accepted
    changed: ExecutionRecord | None = None


def handle(executions: Iterable[ExecutionRecord], request: JobsRequest, now: int) -> Outcome:
    """Answer one device request over the records of its thing; raises JobsError."""
    records = list(executions)
    match request:
        case GetPendingRequest():
            return Outcome(response=get_pending(records, request, now))
        case StartNextRequest():
            started, changed = start_next(records, request, now)
            return Outcome(response=started, changed=changed)
        case DescribeRequest():
            return Outcome(response=describe(records, request, now))
        case UpdateRequest():
            record = find_execution(records, request.job_id, request.execution_number)
            updated, changed = update(record, request, now)
            return Outcome(response=updated, changed=changed)
