"""The in-progress and step timers (spec §3): TIMED_OUT when they run out and not a second
before, notify and notify-next published, the step timer replaced, canceled with -1 and held
within the in-progress deadline, deadlines kept across a restart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simfleet.jobs import DescribeRequest
from simfleet.jobs.https import encode_https_response
from tests.emulator.jobs_config.conftest import Restart
from tests.emulator.jobs_config.helpers import (
    State,
    advance_to,
    create_job,
    device,
    job,
    notifications,
    reply,
    status,
)

MINUTE = 60


def _timeout(minutes: int) -> dict[str, Any]:
    return {"timeoutConfig": {"inProgressTimeoutInMinutes": minutes}}


def test_a_30_minute_in_progress_timeout_fires_at_30_minutes(
    state: State, things: list[str]
) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_timeout(30))
    create_job(state, "job-2", [thing])
    start = state.clock.now() + 10
    advance_to(state, start)
    assert device(state, thing, "start-next") == "accepted"
    assert state.jobs.next_deadline() == start + 30 * MINUTE
    published = len(state.published)

    advance_to(state, start + 30 * MINUTE - 1)
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    assert len(state.published) == published
    advance_to(state, start + 30 * MINUTE)
    assert status(state, "job-1", thing) == "TIMED_OUT"
    [(notify_level, notify), (next_level, notify_next)] = notifications(state, thing)[-2:]
    assert (notify_level, next_level) == ("notify", "notify-next")
    assert notify["timestamp"] == start + 30 * MINUTE
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == ["job-2"]
    assert "IN_PROGRESS" not in notify["jobs"]
    assert notify_next["execution"]["jobId"] == "job-2"  # the next job moves up
    assert job(state, "job-1")["jobProcessDetails"]["numberOfTimedOutThings"] == 1
    assert job(state, "job-1")["status"] == "COMPLETED"
    outcome, body = reply(state.mqtt(thing, "job-1/update", {"status": "SUCCEEDED"}))
    assert (outcome, body["code"]) == ("rejected", "InvalidStateTransition")


def test_the_timer_starts_when_the_execution_starts(state: State, things: list[str]) -> None:
    create_job(state, "job-1", things[:1], **_timeout(1))
    # Queued executions never time out.
    advance_to(state, state.clock.now() + 3 * MINUTE)
    assert status(state, "job-1", things[0]) == "QUEUED"
    assert state.jobs.next_deadline() is None


def test_a_step_timeout_fires_at_its_step(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    start = state.clock.now()
    assert device(state, thing, "start-next", {"stepTimeoutInMinutes": 5}) == "accepted"
    advance_to(state, start + 5 * MINUTE - 1)
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    advance_to(state, start + 5 * MINUTE)
    assert status(state, "job-1", thing) == "TIMED_OUT"
    assert [level for level, _ in notifications(state, thing)][-2:] == ["notify", "notify-next"]
    assert "execution" not in notifications(state, thing)[-1][1]


def test_each_update_replaces_the_step_timer(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    start = state.clock.now()
    device(state, thing, "start-next", {"stepTimeoutInMinutes": 5})
    advance_to(state, start + 200)
    update = {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 10}
    assert device(state, thing, "job-1/update", update) == "accepted"
    advance_to(state, start + 5 * MINUTE)  # the first step's deadline passes harmlessly
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    advance_to(state, start + 200 + 10 * MINUTE - 1)
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    advance_to(state, start + 200 + 10 * MINUTE)
    assert status(state, "job-1", thing) == "TIMED_OUT"


def test_minus_one_cancels_the_step_timer(state: State, things: list[str]) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing])
    device(state, thing, "start-next", {"stepTimeoutInMinutes": 5})
    update = {"status": "IN_PROGRESS", "stepTimeoutInMinutes": -1}
    assert device(state, thing, "job-1/update", update) == "accepted"
    assert state.jobs.next_deadline() is None
    advance_to(state, state.clock.now() + 7 * 24 * 60 * MINUTE)
    assert status(state, "job-1", thing) == "IN_PROGRESS"


def test_the_step_timer_never_runs_past_the_in_progress_deadline(
    state: State, things: list[str]
) -> None:
    # The developer guide's example: a 20-minute in-progress timer from 12:00, step timers of
    # 7 minutes at 12:05, 5 at 12:10 and 9 at 12:13; the execution times out at 12:20.
    thing = things[0]
    create_job(state, "job-1", [thing], **_timeout(20))
    noon = state.clock.now()
    device(state, thing, "start-next")
    for at, step in [(5, 7), (10, 5), (13, 9)]:
        advance_to(state, noon + at * MINUTE)
        update = {"status": "IN_PROGRESS", "stepTimeoutInMinutes": step}
        assert device(state, thing, "job-1/update", update) == "accepted"
    assert state.jobs.next_deadline() == noon + 20 * MINUTE
    advance_to(state, noon + 20 * MINUTE - 1)
    assert status(state, "job-1", thing) == "IN_PROGRESS"
    advance_to(state, noon + 20 * MINUTE)
    assert status(state, "job-1", thing) == "TIMED_OUT"


@pytest.mark.parametrize("over", ["mqtt", "https"], ids=["mqtt", "https"])
def test_a_request_after_the_deadline_sees_the_timeout_before_any_tick(
    state: State, things: list[str], over: str
) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_timeout(1))
    device(state, thing, "start-next")
    state.clock.advance(MINUTE)  # due now; the app's next tick has not come yet
    if over == "mqtt":
        outcome, body = reply(state.mqtt(thing, "job-1/get"))
        assert outcome == "accepted"
        execution = body["execution"]
    else:
        answer = state.jobs.handle_request(thing, DescribeRequest(job_id="job-1"))
        execution = json.loads(encode_https_response(answer))["execution"]
    assert execution["status"] == "TIMED_OUT"
    assert [level for level, _ in notifications(state, thing)][-2:] == ["notify", "notify-next"]


def test_a_deadline_survives_a_restart(state: State, things: list[str], restart: Restart) -> None:
    thing = things[0]
    create_job(state, "job-1", [thing], **_timeout(30))
    start = state.clock.now()
    device(state, thing, "start-next", {"stepTimeoutInMinutes": 10})
    state = restart(state)
    assert state.jobs.next_deadline() == start + 10 * MINUTE
    advance_to(state, start + 10 * MINUTE)
    assert status(state, "job-1", thing) == "TIMED_OUT"
    assert notifications(state, thing)[-2][0] == "notify"


def test_many_timeouts_due_together_are_one_tick(state: State, things: list[str]) -> None:
    create_job(state, "job-1", things, **_timeout(2))
    start = state.clock.now()
    for thing in things:
        device(state, thing, "start-next")
    advance_to(state, start + 2 * MINUTE)
    assert {status(state, "job-1", t) for t in things} == {"TIMED_OUT"}
    assert job(state, "job-1")["jobProcessDetails"]["numberOfTimedOutThings"] == len(things)
    assert state.jobs.next_deadline() is None
