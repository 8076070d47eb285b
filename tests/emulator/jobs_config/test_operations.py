"""UpdateJob, CancelJobExecution and DeleteJobExecution: what they change, what they refuse
(AWS's error names and statuses), and what devices are told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.errors import AwsError
from tests.emulator.jobs_config.conftest import Restart
from tests.emulator.jobs_config.helpers import (
    State,
    advance_to,
    create_job,
    device,
    job,
    notifications,
    reply,
    run_until,
    status,
    statuses,
)


def _error(call: Callable[[], object]) -> tuple[str, int]:
    with pytest.raises(AwsError) as raised:
        call()
    return raised.value.code, raised.value.status


# --- UpdateJob --------------------------------------------------------------------------------


def test_update_job_changes_the_description_and_the_configs(
    state: State, things: list[str], restart: Restart
) -> None:
    create_job(state, "job-1", things[:1], description="first")
    state.clock.advance(5)
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    assert (
        state.control.update_job(
            jobId="job-1", description="second", jobExecutionsRetryConfig=retry
        )
        == {}
    )
    state = restart(state)
    described = job(state, "job-1")
    assert described["description"] == "second"
    assert described["jobExecutionsRetryConfig"] == retry
    assert described["lastUpdatedAt"].timestamp() == state.clock.now()
    device(state, things[0], "job-1/update", {"status": "FAILED"})
    assert status(state, "job-1", things[0]) == "QUEUED"  # the new retry config applies


def test_a_new_timeout_applies_to_executions_not_started(state: State, things: list[str]) -> None:
    create_job(state, "job-1", things[:2], timeoutConfig={"inProgressTimeoutInMinutes": 10})
    start = state.clock.now()
    device(state, things[0], "start-next")
    state.control.update_job(jobId="job-1", timeoutConfig={"inProgressTimeoutInMinutes": 1})
    device(state, things[1], "start-next")
    advance_to(state, start + 60)
    # The started timer is fixed; the queued execution took the new one.
    assert (status(state, "job-1", things[0]), status(state, "job-1", things[1])) == (
        "IN_PROGRESS",
        "TIMED_OUT",
    )
    advance_to(state, start + 600)
    assert status(state, "job-1", things[0]) == "TIMED_OUT"


@pytest.mark.usefixtures("bulk_things")
def test_a_new_rollout_rate_applies_from_the_next_second(state: State) -> None:
    create_job(state, "job-1", ["group:many"], jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    start = int(state.clock.now())
    run_until(state, start + 9)
    state.control.update_job(jobId="job-1", jobExecutionsRolloutConfig={"maximumPerMinute": 600})
    run_until(state, start + 12)
    queued = sorted(r.queued_at - start for r in state.jobs.executions_for_job("job-1"))
    assert queued == list(range(10)) + [10] * 10 + [11] * 10 + [12] * 10
    assert job(state, "job-1")["jobExecutionsRolloutConfig"] == {"maximumPerMinute": 600}


@pytest.fixture
def bulk_things(state: State) -> list[str]:
    """A group "many" of 60 things."""
    state.control.create_thing_group(thingGroupName="many")
    names = [f"many-{i:02d}" for i in range(60)]
    for name in names:
        state.control.create_thing(thingName=name)
        state.control.add_thing_to_thing_group(thingGroupName="many", thingName=name)
    return names


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param({"jobId": "nope"}, ("ResourceNotFoundException", 404), id="no-job"),
        pytest.param(
            {"jobId": "job-1", "timeoutConfig": {"inProgressTimeoutInMinutes": 0}},
            ("InvalidRequestException", 400),
            id="out-of-range",
        ),
        pytest.param(
            {"jobId": "job-1", "presignedUrlConfig": {"expiresInSec": 60}},
            ("NotImplementedException", 501),
            id="unsupported",
        ),
        pytest.param(
            {"jobId": "done", "abortConfig": {"criteriaList": []}},
            ("InvalidRequestException", 400),
            id="empty-criteria",
        ),
        pytest.param(
            {"jobId": "done", "timeoutConfig": {"inProgressTimeoutInMinutes": 5}},
            ("InvalidRequestException", 400),
            id="completed-job-config",
        ),
    ],
)
def test_update_job_refusals(
    state: State, things: list[str], arguments: dict[str, Any], expected: tuple[str, int]
) -> None:
    create_job(state, "job-1", things[:1])
    create_job(state, "done", things[1:2])
    device(state, things[1], "done/update", {"status": "SUCCEEDED"})
    before = (job(state, "job-1"), job(state, "done"))
    assert _error(lambda: state.control.update_job(**arguments)) == expected
    assert (job(state, "job-1"), job(state, "done")) == before


def test_a_completed_job_description_can_change(state: State, things: list[str]) -> None:
    create_job(state, "job-1", things[:1])
    device(state, things[0], "job-1/update", {"status": "SUCCEEDED"})
    state.control.update_job(jobId="job-1", description="shipped")
    assert job(state, "job-1")["description"] == "shipped"


# --- CancelJobExecution -----------------------------------------------------------------------


def test_cancel_a_queued_execution(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    create_job(state, "job-2", [thing])
    answer = state.control.cancel_job_execution(
        jobId="job-1", thingName=thing, statusDetails={"reason": "operator"}
    )
    assert answer == {}
    execution = state.control.describe_job_execution(jobId="job-1", thingName=thing)["execution"]
    assert execution["status"] == "CANCELED"
    assert execution["statusDetails"] == {"detailsMap": {"reason": "operator"}}
    assert execution["versionNumber"] == 2
    (_, notify), (_, notify_next) = notifications(state, thing)[-2:]
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == ["job-2"]
    assert notify_next["execution"]["jobId"] == "job-2"
    # The only execution of job-1 is terminal: the job is done.
    assert job(state, "job-1")["status"] == "COMPLETED"


def test_cancel_an_in_progress_execution_needs_force(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    device(state, thing, "start-next")
    assert _error(lambda: state.control.cancel_job_execution(jobId="job-1", thingName=thing)) == (
        "InvalidStateTransitionException",
        409,
    )
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    state.control.cancel_job_execution(jobId="job-1", thingName=thing, force=True)
    assert status(state, "job-1", thing) == "CANCELED"
    # The device's later updates fail (spec §3).
    outcome, body = reply(state.mqtt(thing, "job-1/update", {"status": "SUCCEEDED"}))
    assert (outcome, body["code"]) == ("rejected", "InvalidStateTransition")


@pytest.mark.parametrize(
    ("expected_version", "outcome"),
    [
        pytest.param(2, "CANCELED", id="current"),
        pytest.param(1, "VersionConflictException", id="stale"),
        pytest.param(3, "VersionConflictException", id="ahead"),
    ],
)
def test_cancel_with_an_expected_version(
    state: State, things: list[str], expected_version: int, outcome: str
) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    device(state, thing, "start-next")  # version 2
    published = len(state.published)

    def call() -> object:
        return state.control.cancel_job_execution(
            jobId="job-1", thingName=thing, force=True, expectedVersion=expected_version
        )

    if outcome == "CANCELED":
        call()
        assert status(state, "job-1", thing) == "CANCELED"
    else:
        assert _error(call) == (outcome, 409)
        assert status(state, "job-1", thing) == "IN_PROGRESS"
        assert len(state.published) == published


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda c: c.cancel_job_execution(jobId="job-1", thingName="sim-000000"),
            ("InvalidStateTransitionException", 409),
            id="terminal",
        ),
        pytest.param(
            lambda c: c.cancel_job_execution(jobId="job-1", thingName="sim-000003"),
            ("ResourceNotFoundException", 404),
            id="not-targeted",
        ),
        pytest.param(
            lambda c: c.cancel_job_execution(jobId="nope", thingName="sim-000001"),
            ("ResourceNotFoundException", 404),
            id="no-job",
        ),
        pytest.param(
            lambda c: c.cancel_job_execution(
                jobId="job-1", thingName="sim-000001", statusDetails={"bad key": "v"}
            ),
            ("InvalidRequestException", 400),
            id="details-key",
        ),
        pytest.param(
            lambda c: c.cancel_job_execution(
                jobId="job-1",
                thingName="sim-000001",
                statusDetails={f"k{i}": "v" for i in range(11)},
            ),
            ("InvalidRequestException", 400),
            id="eleven-details",
        ),
        pytest.param(
            lambda c: c.delete_job_execution(
                jobId="job-1", thingName="sim-000001", executionNumber=1
            ),
            ("InvalidStateTransitionException", 409),
            id="delete-queued",
        ),
        pytest.param(
            lambda c: c.delete_job_execution(
                jobId="job-1", thingName="sim-000000", executionNumber=2
            ),
            ("ResourceNotFoundException", 404),
            id="delete-no-number",
        ),
    ],
)
def test_execution_operation_refusals(
    state: State,
    things: list[str],
    call: Callable[[ControlPlane], object],
    expected: tuple[str, int],
) -> None:
    create_job(state, "job-1", things[:3])
    device(state, things[0], "job-1/update", {"status": "SUCCEEDED"})
    before = statuses(state, "job-1")
    published = len(state.published)
    assert _error(lambda: call(state.control)) == expected
    assert statuses(state, "job-1") == before
    assert len(state.published) == published


# --- DeleteJobExecution -----------------------------------------------------------------------


def test_delete_a_terminal_execution(state: State, things: list[str], restart: Restart) -> None:
    create_job(state, "job-1", things[:2])
    device(state, things[0], "job-1/update", {"status": "SUCCEEDED"})
    published = len(state.published)
    state.control.delete_job_execution(jobId="job-1", thingName=things[0], executionNumber=1)
    assert len(state.published) == published  # it was not pending: nobody is told
    assert _error(
        lambda: state.control.describe_job_execution(jobId="job-1", thingName=things[0])
    ) == ("ResourceNotFoundException", 404)
    listed = state.control.list_job_executions_for_job(jobId="job-1")["executionSummaries"]
    assert len(listed) == 1
    assert job(state, "job-1")["jobProcessDetails"]["numberOfSucceededThings"] == 0
    state = restart(state)
    assert state.jobs.executions_for_thing(things[0]) == []


def test_force_deletes_a_pending_execution(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], timeoutConfig={"inProgressTimeoutInMinutes": 1})
    device(state, thing, "start-next")
    state.control.delete_job_execution(
        jobId="job-1", thingName=thing, executionNumber=1, force=True
    )
    (_, notify), (_, notify_next) = notifications(state, thing)[-2:]
    assert notify["jobs"] == {}
    assert "execution" not in notify_next
    # Nothing left to run: the snapshot job is done, and its timer is gone.
    assert job(state, "job-1")["status"] == "COMPLETED"
    assert state.jobs.next_deadline() is None
    outcome, body = reply(state.mqtt(thing, "job-1/update", {"status": "SUCCEEDED"}))
    assert (outcome, body["code"]) == ("rejected", "ResourceNotFound")


def test_delete_an_earlier_execution_of_a_retried_job(state: State, things: list[str]) -> None:
    thing = things[0]
    retry = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
    create_job(state, "job-1", [thing], jobExecutionsRetryConfig=retry)
    device(state, thing, "job-1/update", {"status": "FAILED"})
    state.control.delete_job_execution(jobId="job-1", thingName=thing, executionNumber=1)
    assert [r.execution_number for r in state.jobs.executions_for_thing(thing)] == [2]
    assert status(state, "job-1", thing) == "QUEUED"
