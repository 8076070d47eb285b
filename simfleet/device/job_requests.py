"""The Jobs requests of one device agent, with the error handling a real agent has
(docs/devices.md, "Agent"); the transport has already reported each failure as a failed row.

    RequestThrottled, InternalError,  the same request again after throttle_backoff, up to
    RequestTimedOut                   max_retries; then the error is raised (updates carry
                                      expectedVersion, so a duplicate is refused, not applied
                                      twice)
    VersionMismatch, InvalidState-    on an update: describe the execution; terminal -> Ended
    Transition (HTTPS's answer to a   (the service ended it); otherwise the update again at
    stale version), TerminalState-    the current version, up to max_retries
    Reached
    ResourceNotFound on an update     the execution is gone: Ended(None)

Anything else (ConnectionLost, another refusal) is raised for the agent to handle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from simfleet.device.errors import JobsRejected, RequestTimedOut
from simfleet.device.job_timings import ExecutionKey, execution_key
from simfleet.device.profile import BehaviourProfile
from simfleet.device.transport import JobsTransport
from simfleet.jobs import (
    NEXT_JOB_ID,
    DescribeAccepted,
    DescribeRequest,
    ExecutionStatus,
    JobExecution,
    JobsErrorCode,
    JobsRequest,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
)
from simfleet.jobs.responses import Accepted

R = TypeVar("R", DescribeAccepted, StartNextAccepted)

_RETRIED = frozenset({JobsErrorCode.REQUEST_THROTTLED, JobsErrorCode.INTERNAL_ERROR})
# The execution is not at the version (or in the state) the device thought: ask the service.
_RESYNC = frozenset(
    {
        JobsErrorCode.VERSION_MISMATCH,
        JobsErrorCode.INVALID_STATE_TRANSITION,
        JobsErrorCode.TERMINAL_STATE_REACHED,
    }
)


@dataclass(kw_only=True, slots=True)
class ActiveJob:
    """The execution a device works: as last seen, and the version the service holds."""

    execution: JobExecution
    version: int

    @property
    def key(self) -> ExecutionKey:
        return execution_key(self.execution)


@dataclass(frozen=True, slots=True)
class Ended:
    """The service says the execution ended; `status` None: it is gone (deleted)."""

    status: ExecutionStatus | None


class JobRequests:
    """Sends one agent's requests through its transport, retrying as the table above says."""

    def __init__(
        self,
        transport: JobsTransport,
        profile: BehaviourProfile,
        *,
        rng: random.Random,
        sleep: Callable[[float], None],
    ) -> None:
        self._transport = transport
        self._profile = profile
        self._rng = rng
        self._sleep = sleep

    def describe_next(self) -> JobExecution | None:
        request = DescribeRequest(
            job_id=NEXT_JOB_ID, include_job_document=self._profile.include_job_document
        )
        return _expect(self.call(request), DescribeAccepted).execution

    def start_next(self) -> JobExecution | None:
        request = StartNextRequest(step_timeout_in_minutes=self._profile.step_timeout_minutes)
        return _expect(self.call(request), StartNextAccepted).execution

    def describe(self, job: ActiveJob) -> JobExecution | None:
        """The execution as the service has it now; None when it is gone."""
        request = DescribeRequest(
            job_id=job.execution.job_id,
            execution_number=job.execution.execution_number,
            include_job_document=False,
        )
        try:
            return _expect(self.call(request), DescribeAccepted).execution
        except JobsRejected as rejected:
            if rejected.code is JobsErrorCode.RESOURCE_NOT_FOUND:
                return None
            raise

    def update(
        self, job: ActiveJob, status: ExecutionStatus, details: Mapping[str, str] | None
    ) -> Ended | None:
        """Update the execution with expectedVersion; None when accepted (the job's version
        goes up), Ended when the service had ended it."""
        attempt = 0
        while True:
            request = UpdateRequest(
                job_id=job.execution.job_id,
                status=status,
                status_details=details,
                expected_version=job.version,
                execution_number=job.execution.execution_number,
                step_timeout_in_minutes=self._profile.step_timeout_minutes
                if status is ExecutionStatus.IN_PROGRESS
                else None,
            )
            try:
                self.call(request)
            except JobsRejected as rejected:
                if rejected.code is JobsErrorCode.RESOURCE_NOT_FOUND:
                    return Ended(None)
                if rejected.code not in _RESYNC:
                    raise
                failure = rejected
            else:
                job.version += 1  # each accepted device update adds one (spec §1.3)
                return None
            current = self.describe(job)
            if current is None:
                return Ended(None)
            if current.status.is_terminal:
                return Ended(current.status)
            if attempt >= self._profile.max_retries:
                raise failure
            job.version = current.version_number
            attempt += 1

    def call(self, request: JobsRequest) -> Accepted:
        """One request, sent again after throttle_backoff while it is throttled, refused by an
        internal error, or unanswered, up to max_retries times."""
        attempt = 0
        while True:
            try:
                return self._transport.call(request, timeout=self._profile.request_timeout)
            except JobsRejected as rejected:
                if rejected.code not in _RETRIED or attempt >= self._profile.max_retries:
                    raise
            except RequestTimedOut:
                if attempt >= self._profile.max_retries:
                    raise
            self._sleep(self._profile.throttle_backoff.sample(attempt, self._rng))
            attempt += 1


def _expect(reply: Accepted, kind: type[R]) -> R:
    if not isinstance(reply, kind):
        raise TypeError(f"the transport answered {type(reply).__name__}, not {kind.__name__}")
    return reply
