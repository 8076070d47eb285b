"""The jobs service: a job from creation to completion through the device's MQTT requests,
notifications, cancel (with and without force), delete, and what a restart keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simfleet.emulator.errors import AwsError
from simfleet.jobs import GetPendingAccepted, GetPendingRequest, UnknownJobsTopic
from tests.emulator.state.helpers import DOCUMENT, State, arn, open_state, reply


def _create(state: State, job_id: str, *things: str) -> None:
    state.control.create_job(
        jobId=job_id, targets=[arn("thing", t) for t in things], document=DOCUMENT
    )


def _status(state: State, job_id: str, thing: str) -> str:
    execution = state.control.describe_job_execution(jobId=job_id, thingName=thing)
    status: str = execution["execution"]["status"]
    return status


def test_a_job_runs_from_creation_to_completion(state: State, things: list[str]) -> None:
    thing = things[0]
    _create(state, "job-1", thing)
    queued_at = int(state.clock.now())
    [notify] = state.sent(thing, "notify")
    assert notify["jobs"] == {
        "QUEUED": [
            {
                "jobId": "job-1",
                "queuedAt": queued_at,
                "lastUpdatedAt": queued_at,
                "versionNumber": 1,
                "executionNumber": 1,
            }
        ]
    }
    [notify_next] = state.sent(thing, "notify-next")
    assert notify_next["execution"]["jobId"] == "job-1"
    assert notify_next["execution"]["jobDocument"] == json.loads(DOCUMENT)
    assert state.sent(things[1], "notify") == []  # not a target

    state.clock.advance(10)
    outcome, started = reply(state.mqtt(thing, "start-next", {"clientToken": "c1"}))
    assert outcome == "accepted"
    assert started["execution"]["status"] == "IN_PROGRESS"
    assert started["execution"]["versionNumber"] == 2
    assert len(state.published) == 2  # QUEUED -> IN_PROGRESS on the head notifies nobody

    state.clock.advance(10)
    update = {"status": "SUCCEEDED", "expectedVersion": 2, "statusDetails": {"result": "ok"}}
    assert reply(state.mqtt(thing, "job-1/update", update))[0] == "accepted"
    assert state.sent(thing, "notify")[-1]["jobs"] == {}
    assert "execution" not in state.sent(thing, "notify-next")[-1]

    job = state.control.describe_job(jobId="job-1")["job"]
    assert job["status"] == "COMPLETED"
    assert job["completedAt"].timestamp() == queued_at + 20
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == 1
    assert job["jobProcessDetails"]["numberOfQueuedThings"] == 0
    listed = state.control.list_job_executions_for_job(jobId="job-1")["executionSummaries"]
    assert [(e["thingArn"], e["jobExecutionSummary"]["status"]) for e in listed] == [
        (arn("thing", thing), "SUCCEEDED")
    ]
    execution = state.control.describe_job_execution(jobId="job-1", thingName=thing)["execution"]
    assert execution["statusDetails"] == {"detailsMap": {"result": "ok"}}
    assert execution["versionNumber"] == 3


def test_a_group_target_queues_every_member_once(state: State, things: list[str]) -> None:
    state.control.create_thing_group(thingGroupName="fleet")
    for thing in things[:3]:
        state.control.add_thing_to_thing_group(thingGroupName="fleet", thingName=thing)
    state.control.create_job(
        jobId="job-1",
        targets=[arn("thinggroup", "fleet"), arn("thing", things[0])],
        document=DOCUMENT,
    )
    listed = state.control.list_job_executions_for_job(jobId="job-1")["executionSummaries"]
    assert sorted(e["thingArn"] for e in listed) == [arn("thing", t) for t in things[:3]]
    for thing in things[:3]:
        assert len(state.sent(thing, "notify")) == 1
        assert len(state.sent(thing, "notify-next")) == 1


def test_an_empty_group_target_completes_at_once(state: State) -> None:
    state.control.create_thing_group(thingGroupName="empty")
    state.control.create_job(jobId="job-1", targets=[arn("thinggroup", "empty")], document=DOCUMENT)
    assert state.control.describe_job(jobId="job-1")["job"]["status"] == "COMPLETED"


def test_a_second_job_is_listed_but_does_not_change_next(state: State, things: list[str]) -> None:
    thing = things[0]
    _create(state, "job-1", thing)
    state.clock.advance(1)
    _create(state, "job-2", thing)
    notify = state.sent(thing, "notify")[-1]
    assert [j["jobId"] for j in notify["jobs"]["QUEUED"]] == ["job-1", "job-2"]
    assert len(state.sent(thing, "notify-next")) == 1  # job-1 is still next


@pytest.mark.parametrize(
    ("force", "expected"),
    [
        pytest.param(
            False,
            {"queued": "CANCELED", "running": "IN_PROGRESS", "done": "SUCCEEDED"},
            id="without-force",
        ),
        pytest.param(
            True,
            {"queued": "CANCELED", "running": "CANCELED", "done": "SUCCEEDED"},
            id="with-force",
        ),
    ],
)
def test_cancel_job(state: State, things: list[str], force: bool, expected: dict[str, str]) -> None:
    queued, running, done = things[:3]
    _create(state, "job-1", queued, running, done)
    assert reply(state.mqtt(running, "start-next"))[0] == "accepted"
    assert reply(state.mqtt(done, "job-1/update", {"status": "SUCCEEDED"}))[0] == "accepted"
    published = len(state.published)

    answer = state.control.cancel_job(
        jobId="job-1", force=force, reasonCode="BAD_IMAGE", comment="wrong firmware"
    )
    assert answer == {"jobArn": arn("job", "job-1"), "jobId": "job-1"}
    named = {"queued": queued, "running": running, "done": done}
    assert {k: _status(state, "job-1", t) for k, t in named.items()} == expected
    job = state.control.describe_job(jobId="job-1")["job"]
    assert (job["status"], job["forceCanceled"], job["reasonCode"], job["comment"]) == (
        "CANCELED",
        force,
        "BAD_IMAGE",
        "wrong firmware",
    )
    counts = job["jobProcessDetails"]
    assert counts["numberOfCanceledThings"] == list(expected.values()).count("CANCELED")
    assert counts["numberOfInProgressThings"] == list(expected.values()).count("IN_PROGRESS")
    # Each canceled execution left its thing's pending set: notify and notify-next.
    canceled = [t for k, t in named.items() if expected[k] == "CANCELED"]
    notified = {topic.split("/")[2] for topic, _ in state.published[published:]}
    assert notified == set(canceled)
    # The device's update after a forced cancel is refused; without force it still works.
    outcome, answer_body = reply(state.mqtt(running, "job-1/update", {"status": "SUCCEEDED"}))
    if force:
        assert (outcome, answer_body["code"]) == ("rejected", "InvalidStateTransition")
    else:
        assert outcome == "accepted"
        assert state.control.describe_job(jobId="job-1")["job"]["status"] == "CANCELED"


def test_a_canceled_job_can_be_forced_later(state: State, things: list[str]) -> None:
    _create(state, "job-1", things[0])
    state.mqtt(things[0], "start-next")
    state.control.cancel_job(jobId="job-1")
    assert _status(state, "job-1", things[0]) == "IN_PROGRESS"
    state.control.cancel_job(jobId="job-1", force=True)
    assert _status(state, "job-1", things[0]) == "CANCELED"
    assert state.control.describe_job(jobId="job-1")["job"]["forceCanceled"] is True


def test_a_completed_job_cannot_be_canceled(state: State, things: list[str]) -> None:
    _create(state, "job-1", things[0])
    state.mqtt(things[0], "job-1/update", {"status": "FAILED"})
    with pytest.raises(AwsError) as raised:
        state.control.cancel_job(jobId="job-1")
    assert raised.value.code == "InvalidRequestException"


def test_delete_job_needs_force_while_in_progress(state: State, things: list[str]) -> None:
    _create(state, "job-1", things[0], things[1])
    with pytest.raises(AwsError) as raised:
        state.control.delete_job(jobId="job-1")
    assert (raised.value.code, raised.value.status) == ("InvalidStateTransitionException", 409)
    published = len(state.published)
    assert state.control.delete_job(jobId="job-1", force=True) == {}
    with pytest.raises(AwsError) as raised:
        state.control.describe_job(jobId="job-1")
    assert raised.value.code == "ResourceNotFoundException"
    assert state.sent(things[0], "notify")[-1]["jobs"] == {}
    assert len(state.published) - published == 4
    assert reply(state.mqtt(things[0], "get"))[1]["queuedJobs"] == []
    # The id is free again.
    _create(state, "job-1", things[0])


def test_a_canceled_job_deletes_without_force(
    state: State, things: list[str], state_dir: Path
) -> None:
    _create(state, "job-1", things[0])
    state.control.cancel_job(jobId="job-1")
    state.control.delete_job(jobId="job-1")
    state.store.close()
    reopened = open_state(state_dir)
    assert reopened.control.list_jobs()["jobs"] == []
    assert reopened.jobs.executions_for_thing(things[0]) == []
    reopened.store.close()


def test_jobs_and_executions_survive_a_restart(
    state: State, things: list[str], state_dir: Path
) -> None:
    _create(state, "job-1", things[0], things[1])
    state.clock.advance(5)
    _create(state, "job-2", things[0])
    state.mqtt(things[0], "start-next", {"statusDetails": {"step": "download"}})
    state.mqtt(things[1], "job-1/update", {"status": "REJECTED"})
    control = state.control
    before = (
        control.describe_job(jobId="job-1"),
        control.describe_job(jobId="job-2"),
        control.list_job_executions_for_thing(thingName=things[0]),
        control.describe_job_execution(jobId="job-1", thingName=things[0]),
        control.get_job_document(jobId="job-2"),
    )
    state.store.close()

    reopened = open_state(state_dir, state.clock)
    control = reopened.control
    after = (
        control.describe_job(jobId="job-1"),
        control.describe_job(jobId="job-2"),
        control.list_job_executions_for_thing(thingName=things[0]),
        control.describe_job_execution(jobId="job-1", thingName=things[0]),
        control.get_job_document(jobId="job-2"),
    )
    assert after == before
    # The device carries on where it was, version included.
    update = {"status": "SUCCEEDED", "expectedVersion": 2}
    assert reply(reopened.mqtt(things[0], "job-1/update", update))[0] == "accepted"
    assert control.describe_job(jobId="job-1")["job"]["status"] == "COMPLETED"
    next_job = reopened.sent(things[0], "notify-next")[-1]["execution"]["jobId"]
    assert next_job == "job-2"
    reopened.store.close()


def test_a_rejected_request_stores_and_publishes_nothing(
    state: State, things: list[str], state_dir: Path
) -> None:
    _create(state, "job-1", things[0])
    published = len(state.published)
    outcome, body = reply(
        state.mqtt(things[0], "job-1/update", {"status": "SUCCEEDED", "expectedVersion": 9})
    )
    assert (outcome, body["code"]) == ("rejected", "VersionMismatch")
    assert len(state.published) == published
    state.store.close()
    reopened = open_state(state_dir)
    assert _status(reopened, "job-1", things[0]) == "QUEUED"
    reopened.store.close()


def test_an_unknown_jobs_topic_is_answered_invalid_topic(state: State, things: list[str]) -> None:
    topic = UnknownJobsTopic(thing_name=things[0], topic=f"$aws/things/{things[0]}/jobs/x/y/z")
    result = state.jobs.handle_mqtt(topic, b"{}")
    assert result.topic.endswith("/rejected")
    assert json.loads(result.payload)["code"] == "InvalidTopic"
    assert result.changed is None


def test_a_decoded_request_is_answered_too(state: State, things: list[str]) -> None:
    _create(state, "job-1", things[0])
    answer = state.jobs.handle_request(things[0], GetPendingRequest())
    assert isinstance(answer, GetPendingAccepted)
    assert [s.job_id for s in answer.queued_jobs] == ["job-1"]
