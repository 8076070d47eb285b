"""The job-level rows of one device (protocol JOB, docs/devices.md "Reports").

    queued to notified        notify-next named the QUEUED execution (once per execution)
    queued to in progress     this device started the execution
    in progress to terminal   this device ended the execution it had started
    queued to terminal        this device ended the execution
    final <STATUS>            an execution this device ended or saw end (duration: queued to
                              terminal); CANCELED / TIMED_OUT / REMOVED, the service's own
                              endings, are failures unless the profile expects them

`queuedAt` and `startedAt` come from the service in whole epoch seconds, so the rows timed from
them have one-second resolution, as AWS gives them; a device clock behind the service's would
make them negative, so they are clamped at 0. "in progress to terminal" uses the monotonic
clock when this agent saw the start itself, and `startedAt` for an execution it resumed from an
earlier life (a Locust user restarted on the same thing).

Rows are only for what a device did or saw: an execution the service timed out while the
device was away is never reported by it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from simfleet.device.errors import DeviceError
from simfleet.device.reports import (
    IN_PROGRESS_TO_TERMINAL,
    JOB,
    QUEUED_TO_IN_PROGRESS,
    QUEUED_TO_NOTIFIED,
    QUEUED_TO_TERMINAL,
    Reporter,
    RequestReport,
    final_name,
)
from simfleet.jobs import ExecutionStatus, JobExecution

ExecutionKey = tuple[str, int]  # (jobId, executionNumber): one execution of one job
# Enough to recognise a late notification about one of the last executions notified.
_REMEMBERED = 32


def execution_key(execution: JobExecution) -> ExecutionKey:
    return execution.job_id, execution.execution_number


class JobTimings:
    """Times one device's executions and reports their JOB rows."""

    def __init__(
        self,
        thing_name: str,
        report: Reporter,
        *,
        wall_clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self._thing_name = thing_name
        self._report = report
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._starts: dict[ExecutionKey, float] = {}  # monotonic time this agent started each
        self._notified: deque[ExecutionKey] = deque(maxlen=_REMEMBERED)

    def started_here(self, execution: JobExecution) -> bool:
        """Whether this agent started `execution` (and has not seen it end)."""
        return execution_key(execution) in self._starts

    def notified(self, execution: JobExecution) -> None:
        """notify-next named `execution`, QUEUED: `queued to notified`, once per execution."""
        key = execution_key(execution)
        if key not in self._notified:
            self._notified.append(key)
            self._row(QUEUED_TO_NOTIFIED, execution, self._since(execution.queued_at))

    def started(self, execution: JobExecution) -> None:
        """This agent moved `execution` from QUEUED to IN_PROGRESS."""
        self._starts[execution_key(execution)] = self._monotonic()
        self._row(QUEUED_TO_IN_PROGRESS, execution, self._since(execution.queued_at))

    def device_ended(self, execution: JobExecution, status: ExecutionStatus) -> None:
        """This agent's final update ended `execution` in `status`."""
        start = self._starts.pop(execution_key(execution), None)
        if start is not None:
            self._row(IN_PROGRESS_TO_TERMINAL, execution, self._monotonic() - start)
        elif execution.started_at is not None:
            self._row(IN_PROGRESS_TO_TERMINAL, execution, self._since(execution.started_at))
        queued = self._since(execution.queued_at)
        self._row(QUEUED_TO_TERMINAL, execution, queued)
        self._row(final_name(status), execution, queued)

    def service_ended(
        self, execution: JobExecution, status: ExecutionStatus, *, expected: bool
    ) -> None:
        """The service ended `execution` in `status` (canceled, timed out, removed)."""
        self._starts.pop(execution_key(execution), None)
        error = None if expected else DeviceError(f"{status.value} by the service")
        self._row(final_name(status), execution, self._since(execution.queued_at), error)

    def forget(self, execution: JobExecution) -> None:
        """`execution` is gone with no known status (deleted): nothing to report."""
        self._starts.pop(execution_key(execution), None)

    def forget_all(self) -> None:
        """Nothing is pending on the thing any more: no start to remember."""
        self._starts.clear()

    def _since(self, epoch_seconds: int) -> float:
        return max(0.0, self._wall_clock() - epoch_seconds)

    def _row(
        self,
        name: str,
        execution: JobExecution,
        seconds: float,
        error: DeviceError | None = None,
    ) -> None:
        self._report(
            RequestReport(
                protocol=JOB,
                name=name,
                duration_ms=max(0.0, seconds) * 1000.0,
                error=error,
                context={"thing_name": self._thing_name, "job_id": execution.job_id},
            )
        )
