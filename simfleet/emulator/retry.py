"""Whether a failed or timed-out execution is retried (spec §3, jobExecutionsRetryConfig).

A failure falls under the criterion of its own type (FAILED or TIMED_OUT) when the job has one,
else under ALL. It is retried while the thing's earlier executions of the job that fell under
the same criterion (each of which was retried) are fewer than its numberOfRetries. Everything
is read from the thing's executions, so a restart needs no retry counter of its own.

[U] The retry is a new execution with executionNumber + 1, QUEUED at once (notify and
notify-next announce it); the failed execution stays as it ended, readable with its number.
"""

from __future__ import annotations

from collections.abc import Sequence

from simfleet.emulator.job_config import FailureType, RetryCriterion
from simfleet.jobs import ExecutionRecord, ExecutionStatus


def criterion_for(
    criteria: Sequence[RetryCriterion], status: ExecutionStatus
) -> RetryCriterion | None:
    """The criterion an execution that ended in `status` falls under, or None."""
    fallback = None
    for criterion in criteria:
        if criterion.failure_type.value == status.value:
            return criterion
        if criterion.failure_type is FailureType.ALL and status in FailureType.ALL.statuses:
            fallback = criterion
    # REJECTED is never retried (spec §3 table): "ALL" of RetryableFailureType means FAILED
    # and TIMED_OUT.
    return None if status is ExecutionStatus.REJECTED else fallback


def should_retry(criteria: Sequence[RetryCriterion], attempts: Sequence[ExecutionRecord]) -> bool:
    """Whether the last of `attempts` (one thing's executions of one job, by execution number)
    is retried."""
    if not attempts:
        return False
    criterion = criterion_for(criteria, attempts[-1].status)
    if criterion is None:
        return False
    used = sum(1 for r in attempts[:-1] if criterion_for(criteria, r.status) == criterion)
    return used < criterion.retries
