"""The end-of-run job summary, one line per job, from the control plane's DescribeJob.

job demo-1: 300 executions, 291 SUCCEEDED, 9 FAILED, 0 pending
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from simfleet.jobs import ExecutionStatus

# DescribeJob's jobProcessDetails: one count per execution status.
_PROCESS_COUNTS: Mapping[str, ExecutionStatus] = MappingProxyType(
    {
        "numberOfQueuedThings": ExecutionStatus.QUEUED,
        "numberOfInProgressThings": ExecutionStatus.IN_PROGRESS,
        "numberOfSucceededThings": ExecutionStatus.SUCCEEDED,
        "numberOfFailedThings": ExecutionStatus.FAILED,
        "numberOfRejectedThings": ExecutionStatus.REJECTED,
        "numberOfTimedOutThings": ExecutionStatus.TIMED_OUT,
        "numberOfCanceledThings": ExecutionStatus.CANCELED,
        "numberOfRemovedThings": ExecutionStatus.REMOVED,
    }
)
# Shown even at zero; the other terminal statuses only when some execution ended in them.
_ALWAYS = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
_RUNNING_JOB = frozenset({"IN_PROGRESS", "SCHEDULED"})


@dataclass(frozen=True, kw_only=True)
class JobProgress:
    """Where a job stands: its status and how many executions are in each status."""

    job_id: str
    status: str
    counts: Mapping[ExecutionStatus, int] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> JobProgress:
        """From DescribeJob's `job` member."""
        details = job.get("jobProcessDetails", {})
        counts = {
            status: int(details.get(member, 0))
            for member, status in _PROCESS_COUNTS.items()
            if details.get(member)
        }
        return cls(job_id=str(job["jobId"]), status=str(job["status"]), counts=counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pending(self) -> int:
        return sum(n for status, n in self.counts.items() if status.is_pending)

    @property
    def finished(self) -> bool:
        """True once the service says the job is over: a snapshot job is COMPLETED when every
        execution is terminal and its rollout has queued every target (spec §3)."""
        return self.status not in _RUNNING_JOB


def summary_line(progress: JobProgress) -> str:
    parts = [f"{progress.total} executions"]
    for status in ExecutionStatus:
        count = progress.counts.get(status, 0)
        if status.is_terminal and (count or status in _ALWAYS):
            parts.append(f"{count} {status.value}")
    parts.append(f"{progress.pending} pending")
    line = f"job {progress.job_id}: {', '.join(parts)}"
    if progress.status != "COMPLETED":
        line += f" (job {progress.status})"
    return line
