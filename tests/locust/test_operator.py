"""When the Operator's jobs fall due, and how its control-plane failures are reported."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
)

from simfleet.locust.errors import ControlPlaneError
from simfleet.locust.operator import ApiCall, JobPlanner, JobsOperator


@pytest.mark.parametrize(
    ("count", "per_minute", "at", "due"),
    [
        pytest.param(1, 0.0, [0.0], [["p-1"]], id="one-job"),
        pytest.param(3, 0.0, [0.0], [["p-1", "p-2", "p-3"]], id="rate-0-all-at-once"),
        pytest.param(
            3,
            30.0,
            [0.0, 1.9, 2.0, 3.0, 4.0, 99.0],
            [["p-1"], [], ["p-2"], [], ["p-3"], []],
            id="every-2-seconds",
        ),
        pytest.param(3, 60.0, [2.5], [["p-1", "p-2", "p-3"]], id="catch-up"),
        pytest.param(2, 60.0, [-1.0, 0.0, 1.0], [[], ["p-1"], ["p-2"]], id="not-before-start"),
    ],
)
def test_jobs_fall_due_at_the_rate(
    count: int, per_minute: float, at: list[float], due: list[list[str]]
) -> None:
    planner = JobPlanner(prefix="p", count=count, per_minute=per_minute, start=0.0)
    assert [planner.due(now) for now in at] == due
    assert planner.done
    assert planner.next_due() is None


def test_next_due() -> None:
    planner = JobPlanner(prefix="p", count=2, per_minute=6.0, start=100.0)
    assert planner.next_due() == 100.0
    assert not planner.done
    planner.due(100.0)
    assert planner.next_due() == 110.0


@pytest.mark.parametrize(
    ("count", "per_minute"),
    [pytest.param(0, 0.0, id="no-jobs"), pytest.param(1, -1.0, id="negative-rate")],
)
def test_planner_refuses_nonsense(count: int, per_minute: float) -> None:
    with pytest.raises(ValueError, match="must"):
        JobPlanner(prefix="p", count=count, per_minute=per_minute, start=0.0)


class FailingClient:
    """A boto3 client whose every call fails as `error` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def create_job(self, **_: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(
            ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateJob"
            ),
            "ThrottlingException",
            id="aws-error",
        ),
        pytest.param(
            EndpointConnectionError(endpoint_url="https://127.0.0.1:1"),
            "EndpointConnectionError",
            id="no-connection",
        ),
    ],
)
def test_failures_are_translated_and_reported(error: Exception, code: str) -> None:
    calls: list[ApiCall] = []
    ticks = iter([1.0, 1.25])
    operator = JobsOperator(
        FailingClient(error), report=calls.append, monotonic=lambda: next(ticks)
    )
    with pytest.raises(ControlPlaneError) as raised:
        operator.create_job("p-1", targets=["arn"], document="{}")
    assert raised.value.code == code
    assert calls == [ApiCall(name="CreateJob", duration_ms=250.0, error=raised.value, job_id="p-1")]
