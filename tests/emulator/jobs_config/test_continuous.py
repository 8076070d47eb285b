"""targetSelection CONTINUOUS (spec §3): things added to a target group later get the job, at
once; the job never completes; snapshot jobs keep the targets they were created with."""

from __future__ import annotations

from tests.emulator.jobs_config.conftest import Restart
from tests.emulator.jobs_config.helpers import (
    State,
    create_job,
    device,
    job,
    notifications,
    status,
    statuses,
)


def _group(state: State, name: str, members: list[str], parent: str | None = None) -> None:
    state.control.create_thing_group(thingGroupName=name, parentGroupName=parent)
    for thing in members:
        state.control.add_thing_to_thing_group(thingGroupName=name, thingName=thing)


def test_a_thing_added_to_the_group_later_gets_the_job(state: State, things: list[str]) -> None:
    _group(state, "fleet", things[:2])
    create_job(state, "job-1", ["group:fleet"], targetSelection="CONTINUOUS")
    for thing in things[:2]:
        assert device(state, thing, "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    # Every execution is terminal, and a continuous job still never completes.
    described = job(state, "job-1")
    assert (described["status"], described["targetSelection"]) == ("IN_PROGRESS", "CONTINUOUS")
    assert "completedAt" not in described

    newcomer = things[2]
    assert notifications(state, newcomer) == []
    state.clock.advance(30)
    state.control.add_thing_to_thing_group(thingGroupName="fleet", thingName=newcomer)
    assert status(state, "job-1", newcomer) == "QUEUED"
    [(notify_level, notify), (next_level, notify_next)] = notifications(state, newcomer)
    assert (notify_level, next_level) == ("notify", "notify-next")
    assert notify["jobs"]["QUEUED"][0]["queuedAt"] == int(state.clock.now())
    assert notify_next["execution"]["jobId"] == "job-1"
    assert job(state, "job-1")["jobProcessDetails"]["numberOfQueuedThings"] == 1
    listed = state.control.list_jobs(targetSelection="CONTINUOUS")["jobs"]
    assert [j["jobId"] for j in listed] == ["job-1"]


def test_a_snapshot_job_keeps_its_original_targets(state: State, things: list[str]) -> None:
    _group(state, "fleet", things[:1])
    create_job(state, "snap", ["group:fleet"])
    state.control.add_thing_to_thing_group(thingGroupName="fleet", thingName=things[1])
    assert notifications(state, things[1]) == []
    assert statuses(state, "snap") == {"QUEUED": 1}


def test_a_thing_joining_a_child_group_gets_the_job(state: State, things: list[str]) -> None:
    _group(state, "parent", [])
    _group(state, "child", [], parent="parent")
    create_job(state, "job-1", ["group:parent"], targetSelection="CONTINUOUS")
    state.control.add_thing_to_thing_group(thingGroupName="child", thingName=things[0])
    assert status(state, "job-1", things[0]) == "QUEUED"


def test_a_thing_gets_a_continuous_job_once(state: State, things: list[str]) -> None:
    _group(state, "a", things[:1])
    _group(state, "b", [])
    create_job(state, "job-1", ["group:a", "group:b"], targetSelection="CONTINUOUS")
    device(state, things[0], "job-1/update", {"status": "SUCCEEDED"})
    published = len(state.published)
    state.control.add_thing_to_thing_group(thingGroupName="b", thingName=things[0])
    state.control.add_thing_to_thing_group(thingGroupName="a", thingName=things[0])
    assert len(state.published) == published
    assert statuses(state, "job-1") == {"SUCCEEDED": 1}


def test_a_canceled_continuous_job_reaches_no_one(state: State, things: list[str]) -> None:
    _group(state, "fleet", [])
    create_job(state, "job-1", ["group:fleet"], targetSelection="CONTINUOUS")
    state.control.cancel_job(jobId="job-1")
    state.control.add_thing_to_thing_group(thingGroupName="fleet", thingName=things[0])
    assert statuses(state, "job-1") == {}


def test_joiners_skip_the_rollout_but_are_not_queued_twice(state: State, things: list[str]) -> None:
    _group(state, "fleet", things[:4])
    _group(state, "other", [])
    rollout = {"maximumPerMinute": 1}
    create_job(
        state,
        "job-1",
        ["group:fleet", "group:other"],
        targetSelection="CONTINUOUS",
        jobExecutionsRolloutConfig=rollout,
    )
    assert statuses(state, "job-1") == {"QUEUED": 1}  # one per minute
    # A newcomer is queued at once; a thing the rollout will reach is left to it.
    state.control.add_thing_to_thing_group(thingGroupName="other", thingName=things[5])
    state.control.add_thing_to_thing_group(thingGroupName="other", thingName=things[3])
    assert statuses(state, "job-1") == {"QUEUED": 2}
    assert notifications(state, things[3]) == []


def test_a_continuous_job_reaches_joiners_after_a_restart(
    state: State, things: list[str], restart: Restart
) -> None:
    _group(state, "fleet", [])
    create_job(state, "job-1", ["group:fleet"], targetSelection="CONTINUOUS")
    state = restart(state)
    state.control.add_thing_to_thing_group(thingGroupName="fleet", thingName=things[0])
    assert status(state, "job-1", things[0]) == "QUEUED"
