"""When a job's abortConfig cancels it (spec §3, "Abort"): pure arithmetic on the counts of
its executions by status.

[U] AWS documents minNumberOfExecutedThings as "things which must receive job execution
notifications before the job can be aborted" and thresholdPercentage as "the minimum
percentage of job execution failures". We read both over *executed* executions, those that
ended SUCCEEDED, FAILED, REJECTED or TIMED_OUT (not CANCELED or REMOVED, which the service
decided): a criterion fires once at least minNumberOfExecutedThings executions have ended and
its failures are at least thresholdPercentage of them (`>=`: the threshold is a minimum) and
at least one (so that 0% means "at the first failure", not "whatever happens"). Every
execution counts, retries included, so repeated retry failures can abort a job, which is what
the developer guide recommends abortConfig for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from simfleet.emulator.job_config import AbortCriterion
from simfleet.jobs import ExecutionStatus

EXECUTED: Final = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.REJECTED,
        ExecutionStatus.TIMED_OUT,
    }
)


def firing_criterion(
    criteria: Iterable[AbortCriterion], counts: Mapping[ExecutionStatus, int]
) -> AbortCriterion | None:
    """The first criterion the counts (executions of one job, by status) meet, or None."""
    executed = sum(counts.get(status, 0) for status in EXECUTED)
    for criterion in criteria:
        failures = sum(counts.get(status, 0) for status in criterion.failure_type.statuses)
        if (
            executed >= criterion.min_executed_things
            and failures >= 1
            # failures / executed >= threshold / 100, in whole numbers (hundredths of %).
            and failures * 10000 >= criterion.threshold_hundredths * executed
        ):
            return criterion
    return None
