"""The end-of-run job summary from DescribeJob's jobProcessDetails."""

from __future__ import annotations

from typing import Any

import pytest

from simfleet.jobs import ExecutionStatus
from simfleet.locust.summary import JobProgress, summary_line


def _job(status: str, **counts: int) -> dict[str, Any]:
    return {"jobId": "demo-1", "status": status, "jobProcessDetails": counts}


@pytest.mark.parametrize(
    ("job", "line"),
    [
        pytest.param(
            _job("COMPLETED", numberOfSucceededThings=291, numberOfFailedThings=9),
            "job demo-1: 300 executions, 291 SUCCEEDED, 9 FAILED, 0 pending",
            id="the-issue-example",
        ),
        pytest.param(
            _job(
                "IN_PROGRESS",
                numberOfQueuedThings=4,
                numberOfInProgressThings=2,
                numberOfSucceededThings=10,
            ),
            "job demo-1: 16 executions, 10 SUCCEEDED, 0 FAILED, 6 pending (job IN_PROGRESS)",
            id="still-running",
        ),
        pytest.param(
            _job(
                "COMPLETED",
                numberOfSucceededThings=5,
                numberOfRejectedThings=1,
                numberOfTimedOutThings=2,
                numberOfRemovedThings=0,
            ),
            "job demo-1: 8 executions, 5 SUCCEEDED, 0 FAILED, 2 TIMED_OUT, 1 REJECTED, 0 pending",
            id="other-endings-when-present",
        ),
        pytest.param(
            _job("CANCELED", numberOfCanceledThings=3),
            "job demo-1: 3 executions, 0 SUCCEEDED, 0 FAILED, 3 CANCELED, 0 pending (job CANCELED)",
            id="canceled",
        ),
        pytest.param(
            {"jobId": "demo-1", "status": "COMPLETED"},
            "job demo-1: 0 executions, 0 SUCCEEDED, 0 FAILED, 0 pending",
            id="no-details",
        ),
    ],
)
def test_summary_line(job: dict[str, Any], line: str) -> None:
    assert summary_line(JobProgress.from_job(job)) == line


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        pytest.param("IN_PROGRESS", False, id="in-progress"),
        pytest.param("SCHEDULED", False, id="scheduled"),
        pytest.param("COMPLETED", True, id="completed"),
        pytest.param("CANCELED", True, id="canceled"),
    ],
)
def test_a_job_is_finished_when_the_service_says_so(status: str, finished: bool) -> None:
    progress = JobProgress.from_job(_job(status, numberOfQueuedThings=0))
    assert progress.finished is finished


def test_pending_counts_queued_and_in_progress() -> None:
    progress = JobProgress.from_job(
        _job(
            "IN_PROGRESS",
            numberOfQueuedThings=3,
            numberOfInProgressThings=4,
            numberOfFailedThings=1,
        )
    )
    assert progress.pending == 7
    assert progress.total == 8
    assert progress.counts == {
        ExecutionStatus.QUEUED: 3,
        ExecutionStatus.IN_PROGRESS: 4,
        ExecutionStatus.FAILED: 1,
    }
