"""jobExecutionsRetryConfig (a failed or timed-out execution queued again as executionNumber
+ 1, within its criterion's numberOfRetries) and abortConfig (the job and its QUEUED
executions CANCELED once a failure percentage is reached over enough executed things)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.jobs_config.conftest import Restart
from tests.emulator.jobs_config.helpers import (
    State,
    advance_to,
    create_job,
    device,
    job,
    notifications,
    status,
    statuses,
)


def _retry(**retries: int) -> dict[str, Any]:
    criteria = [{"failureType": kind, "numberOfRetries": n} for kind, n in retries.items()]
    return {"jobExecutionsRetryConfig": {"criteriaList": criteria}}


def _abort(failure_type: str, threshold: float, minimum: int) -> dict[str, Any]:
    criterion = {
        "failureType": failure_type,
        "action": "CANCEL",
        "thresholdPercentage": threshold,
        "minNumberOfExecutedThings": minimum,
    }
    return {"abortConfig": {"criteriaList": [criterion]}}


def _end(state: State, thing: str, outcome: str) -> None:
    """The thing's latest execution of job-1 ends in `outcome` (TIMED_OUT: its step timer)."""
    if outcome == "TIMED_OUT":
        assert device(state, thing, "start-next", {"stepTimeoutInMinutes": 1}) == "accepted"
        advance_to(state, state.clock.now() + 60)
    else:
        assert device(state, thing, "job-1/update", {"status": outcome}) == "accepted"


# --- retries ----------------------------------------------------------------------------------


def test_a_failed_execution_is_retried_with_the_next_number(
    state: State, things: list[str]
) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_retry(FAILED=2))
    state.clock.advance(7)
    _end(state, thing, "FAILED")
    now = int(state.clock.now())
    retried = state.control.describe_job_execution(jobId="job-1", thingName=thing)["execution"]
    assert (retried["executionNumber"], retried["status"], retried["versionNumber"]) == (
        2,
        "QUEUED",
        1,
    )
    assert retried["queuedAt"].timestamp() == now
    assert status(state, "job-1", thing, number=1) == "FAILED"
    # The failure left the pending set, the retry joined it: both announced.
    levels = [level for level, _ in notifications(state, thing)]
    assert levels == ["notify", "notify-next", "notify", "notify-next", "notify", "notify-next"]
    last_notify = notifications(state, thing)[-2][1]
    assert last_notify["jobs"]["QUEUED"][0]["executionNumber"] == 2
    assert notifications(state, thing)[-1][1]["execution"]["executionNumber"] == 2
    assert job(state, "job-1")["status"] == "IN_PROGRESS"

    _end(state, thing, "FAILED")
    _end(state, thing, "FAILED")  # the second retry fails too: no third
    assert statuses(state, "job-1") == {"FAILED": 3}
    described = job(state, "job-1")
    assert described["status"] == "COMPLETED"
    assert described["jobProcessDetails"]["numberOfFailedThings"] == 1


@pytest.mark.parametrize(
    ("retries", "outcomes", "executions"),
    [
        pytest.param({"FAILED": 1}, ["FAILED", "FAILED"], 2, id="failed-once"),
        pytest.param({"FAILED": 0}, ["FAILED"], 1, id="zero-retries"),
        pytest.param({"TIMED_OUT": 1}, ["TIMED_OUT", "TIMED_OUT"], 2, id="timed-out-once"),
        pytest.param({"TIMED_OUT": 3}, ["FAILED"], 1, id="failed-not-covered"),
        pytest.param({"ALL": 5}, ["REJECTED"], 1, id="rejected-never"),
        pytest.param({"ALL": 2}, ["FAILED", "TIMED_OUT", "FAILED"], 3, id="all-covers-both"),
        pytest.param(
            {"FAILED": 1, "ALL": 1},
            ["FAILED", "TIMED_OUT", "FAILED"],
            3,
            id="own-criterion-then-all",
        ),
        pytest.param({"FAILED": 1, "ALL": 1}, ["FAILED", "FAILED"], 2, id="failed-budget-spent"),
        pytest.param({"FAILED": 3}, ["FAILED", "SUCCEEDED"], 2, id="success-ends-retries"),
        pytest.param({"FAILED": 10}, ["FAILED"] * 11, 11, id="ten-retries"),
    ],
)
def test_retry_criteria(
    state: State,
    things: list[str],
    retries: dict[str, int],
    outcomes: list[str],
    executions: int,
) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_retry(**retries))
    for outcome in outcomes:
        _end(state, thing, outcome)
    records = state.jobs.executions_for_thing(thing)
    assert [r.execution_number for r in records] == list(range(1, executions + 1))
    assert [r.status.value for r in records] == outcomes[:executions]
    assert job(state, "job-1")["status"] == "COMPLETED"


def test_a_canceled_job_retries_nothing(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_retry(FAILED=3))
    device(state, thing, "start-next")
    state.control.cancel_job(jobId="job-1")  # without force: the execution runs on
    _end(state, thing, "FAILED")
    assert statuses(state, "job-1") == {"FAILED": 1}


def test_retries_carry_over_a_restart(state: State, things: list[str], restart: Restart) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_retry(FAILED=2))
    _end(state, thing, "FAILED")
    state = restart(state)
    _end(state, thing, "FAILED")
    state = restart(state)
    _end(state, thing, "FAILED")
    assert statuses(state, "job-1") == {"FAILED": 3}
    assert job(state, "job-1")["status"] == "COMPLETED"


# --- aborts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure_type", "threshold", "minimum", "outcomes", "fires_after"),
    [
        pytest.param(
            "FAILED", 50, 4, ["SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"], 4, id="at-threshold"
        ),
        pytest.param(
            "FAILED", 50.01, 4, ["SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"], None, id="under"
        ),
        pytest.param("FAILED", 10, 3, ["FAILED", "FAILED", "SUCCEEDED"], 3, id="waits-for-min"),
        pytest.param("REJECTED", 50, 2, ["FAILED", "FAILED", "REJECTED"], None, id="other-type"),
        pytest.param(
            "ALL", 75, 4, ["FAILED", "REJECTED", "TIMED_OUT", "SUCCEEDED"], 4, id="all-types"
        ),
        pytest.param(
            "TIMED_OUT", 33.33, 3, ["SUCCEEDED", "TIMED_OUT", "SUCCEEDED"], 3, id="two-decimals"
        ),
        pytest.param("FAILED", 0, 2, ["SUCCEEDED", "SUCCEEDED", "FAILED"], 3, id="zero-percent"),
    ],
)
def test_abort_fires_exactly_at_its_threshold(
    state: State,
    things: list[str],
    *,
    failure_type: str,
    threshold: float,
    minimum: int,
    outcomes: list[str],
    fires_after: int | None,
) -> None:
    running = things[-1]
    create_job(state, "job-1", things, **_abort(failure_type, threshold, minimum))
    device(state, running, "start-next")
    for count, (thing, outcome) in enumerate(zip(things, outcomes, strict=False), start=1):
        published = len(state.published)
        _end(state, thing, outcome)
        fired = job(state, "job-1")["status"] == "CANCELED"
        assert fired == (fires_after is not None and count >= fires_after), count
        if fires_after == count:
            # Only QUEUED executions are canceled, each announced to its thing.
            queued = things[len(outcomes) : -1]
            assert {status(state, "job-1", t) for t in queued} == {"CANCELED"}
            assert status(state, "job-1", running) == "IN_PROGRESS"
            notified = {topic.split("/")[2] for topic, _ in state.published[published:]}
            assert notified >= set(queued)
            assert running not in notified
    if fires_after is not None:
        assert job(state, "job-1")["forceCanceled"] is False


def test_an_abort_stops_the_rollout_and_the_retries(state: State, things: list[str]) -> None:
    create_job(
        state,
        "job-1",
        things,
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        **_abort("FAILED", 50, 2),
        **_retry(FAILED=5),
    )
    first, second = sorted(things)[:2]
    _end(state, first, "FAILED")  # executed 1: no abort yet, so a retry
    assert status(state, "job-1", first) == "QUEUED"
    advance_to(state, state.clock.now() + 30)  # 2 per minute: the second thing's turn
    _end(state, second, "FAILED")  # executed 2, all failed: abort
    described = job(state, "job-1")
    assert described["status"] == "CANCELED"
    assert statuses(state, "job-1") == {"FAILED": 2, "CANCELED": 1}
    advance_to(state, state.clock.now() + 3600)
    assert len(list(state.jobs.executions_for_job("job-1"))) == 3
    assert state.jobs.next_deadline() is None


def test_retried_failures_count_towards_an_abort(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", things[:3], **_abort("FAILED", 100, 3), **_retry(FAILED=5))
    _end(state, thing, "FAILED")
    _end(state, thing, "FAILED")
    assert job(state, "job-1")["status"] == "IN_PROGRESS"
    _end(state, thing, "FAILED")  # three executions ended, all failed
    assert job(state, "job-1")["status"] == "CANCELED"
    assert status(state, "job-1", thing) == "FAILED"  # the abort came before a fourth retry


def test_update_job_adding_a_met_abort_config_cancels_at_once(
    state: State, things: list[str]
) -> None:
    create_job(state, "job-1", things)
    _end(state, things[0], "FAILED")
    _end(state, things[1], "SUCCEEDED")
    state.control.update_job(jobId="job-1", **_abort("FAILED", 50, 2))
    assert job(state, "job-1")["status"] == "CANCELED"
    assert status(state, "job-1", things[2]) == "CANCELED"
