"""The account's Jobs read and write rates in the Jobs service, over both drivers' entry points:
`handle_mqtt` (a RequestThrottled reply) and `handle_request` (JobsError, 429 over HTTPS)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simfleet.emulator.quotas import QuotaConfig, throttled_reply
from simfleet.jobs import (
    ExecutionStatus,
    GetPendingRequest,
    JobsError,
    JobsErrorCode,
    JobsTopic,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
    parse_jobs_topic,
)
from simfleet.jobs.service import MqttReply
from tests.emulator.quotas.conftest import MakeStack
from tests.emulator.quotas.helpers import only


def _answer(reply: MqttReply) -> tuple[str, dict[str, Any]]:
    decoded: dict[str, Any] = json.loads(reply.payload)
    return reply.topic.rsplit("/", 1)[1], decoded


def test_a_burst_over_the_read_rate_is_throttled_then_served_again(make_stack: MakeStack) -> None:
    stack = make_stack(only(jobs_reads=5.0))
    thing = stack.thing(0)
    stack.create_job("j1", [thing])
    answers = [_answer(stack.mqtt(thing, "get", {"clientToken": f"c{i}"})) for i in range(8)]
    assert [kind for kind, _ in answers] == ["accepted"] * 5 + ["rejected"] * 3
    for i, (_, rejected) in enumerate(answers[5:], start=5):
        assert rejected["code"] == "RequestThrottled"
        assert rejected["clientToken"] == f"c{i}"
        assert rejected["message"] == "Rate exceeded"
        assert rejected["timestamp"] == int(stack.clock.now())
        assert "executionState" not in rejected
    assert stack.quotas.counters.snapshot()["jobs-reads"] == 3

    stack.clock.advance(0.2)  # 5 a second: one more request
    assert _answer(stack.mqtt(thing, "get", {}))[0] == "accepted"
    assert _answer(stack.mqtt(thing, "get", {}))[0] == "rejected"
    stack.clock.advance(1.0)
    assert [_answer(stack.mqtt(thing, "get", {}))[0] for _ in range(6)] == ["accepted"] * 5 + [
        "rejected"
    ]


def test_a_throttled_update_changes_and_notifies_nothing(make_stack: MakeStack) -> None:
    stack = make_stack(only(jobs_writes=1.0))
    thing = stack.thing(0)
    stack.create_job("j1", [thing])
    kind, started = _answer(stack.mqtt(thing, "start-next", {"clientToken": "s"}))
    assert kind == "accepted"
    assert started["execution"]["versionNumber"] == 2
    before = stack.jobs.execution(thing, "j1")
    published = len(stack.published)

    update = {"status": "SUCCEEDED", "expectedVersion": 2, "clientToken": "u"}
    kind, rejected = _answer(stack.mqtt(thing, "j1/update", update))
    assert (kind, rejected["code"], rejected["clientToken"]) == (
        "rejected",
        "RequestThrottled",
        "u",
    )
    assert stack.jobs.execution(thing, "j1") == before
    assert stack.store.executions({"j1": {"op": "j1"}}) == [before]  # nothing written
    assert len(stack.published) == published  # no notify, no notify-next
    assert stack.control.describe_job(jobId="j1")["job"]["status"] == "IN_PROGRESS"

    stack.clock.advance(1.0)
    assert _answer(stack.mqtt(thing, "j1/update", update))[0] == "accepted"
    assert stack.jobs.execution(thing, "j1").status is ExecutionStatus.SUCCEEDED


def test_a_throttled_request_runs_no_timer(make_stack: MakeStack) -> None:
    # One read per 1000 s: the second describe, after the execution's timeout, is throttled
    # and leaves the timeout to the next tick.
    stack = make_stack(only(jobs_reads=0.001))
    thing = stack.thing(0)
    stack.create_job("j1", [thing], timeoutConfig={"inProgressTimeoutInMinutes": 1})
    assert _answer(stack.mqtt(thing, "j1/get", {}))[0] == "accepted"
    assert _answer(stack.mqtt(thing, "start-next", {}))[0] == "accepted"
    stack.clock.advance(61)
    assert _answer(stack.mqtt(thing, "j1/get", {}))[1]["code"] == "RequestThrottled"
    assert stack.jobs.execution(thing, "j1").status is ExecutionStatus.IN_PROGRESS
    stack.jobs.tick()
    assert stack.jobs.execution(thing, "j1").status is ExecutionStatus.TIMED_OUT


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        pytest.param(["get", "j1/get", "get"], ["accepted", "accepted", "rejected"], id="reads"),
        pytest.param(
            ["start-next", "start-next", "j1/get"],
            ["accepted", "accepted", "accepted"],
            id="reads-spare-writes",
        ),
        pytest.param(
            ["start-next", "get", "start-next", "j1/get", "get"],
            ["accepted", "accepted", "accepted", "accepted", "rejected"],
            id="each-its-own-bucket",
        ),
        pytest.param(
            ["start-next", "start-next", "start-next"],
            ["accepted", "accepted", "rejected"],
            id="writes",
        ),
    ],
)
def test_reads_and_writes_have_their_own_buckets(
    make_stack: MakeStack, levels: list[str], expected: list[str]
) -> None:
    stack = make_stack(only(jobs_reads=2.0, jobs_writes=2.0))
    thing = stack.thing(0)
    stack.create_job("j1", [thing])
    answers = [_answer(stack.mqtt(thing, level, {})) for level in levels]
    assert [kind for kind, _ in answers] == expected
    assert all(body["code"] == "RequestThrottled" for kind, body in answers if kind == "rejected")


def test_mqtt_and_https_share_the_accounts_budget(make_stack: MakeStack) -> None:
    stack = make_stack(only(jobs_writes=2.0))
    first, second = stack.thing(0), stack.thing(1)
    stack.create_job("j1", [first, second])
    assert _answer(stack.mqtt(first, "start-next", {}))[0] == "accepted"
    started = stack.jobs.handle_request(second, StartNextRequest())
    assert isinstance(started, StartNextAccepted)
    assert started.execution is not None
    with pytest.raises(JobsError) as throttled:
        stack.jobs.handle_request(second, UpdateRequest(job_id="j1", status=ExecutionStatus.FAILED))
    assert throttled.value.code is JobsErrorCode.REQUEST_THROTTLED
    https = throttled.value.code.https
    assert (https.error_type, https.status) == ("ThrottlingException", 429)
    assert _answer(stack.mqtt(first, "j1/update", {"status": "FAILED"}))[1]["code"] == (
        "RequestThrottled"
    )
    assert stack.jobs.execution(second, "j1").status is ExecutionStatus.IN_PROGRESS
    # Reads are not writes: the account may still read.
    assert stack.jobs.handle_request(second, GetPendingRequest()) is not None
    assert stack.quotas.counters.snapshot()["jobs-writes"] == 2


def test_topics_that_are_no_request_take_no_token(make_stack: MakeStack) -> None:
    stack = make_stack(only(jobs_reads=1.0))
    thing = stack.thing(0)
    for level in ("get/accepted", "notify", "j1/get/rejected"):
        kind, body = _answer(stack.mqtt(thing, level, {}))
        assert (kind, body["code"]) == ("rejected", "InvalidTopic")
    assert _answer(stack.mqtt(thing, "get", {}))[0] == "accepted"


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        pytest.param(b'{"clientToken":"abc"}', "abc", id="token"),
        pytest.param(b"{}", None, id="no-token"),
        pytest.param(b"", None, id="empty-payload"),
        pytest.param(b"{not json", None, id="bad-json"),
        pytest.param(b'["clientToken"]', None, id="not-an-object"),
        pytest.param(b'{"clientToken":5}', None, id="not-a-string"),
        pytest.param(json.dumps({"clientToken": "x" * 65}).encode(), None, id="too-long"),
    ],
)
def test_the_throttled_reply_echoes_a_readable_client_token(
    payload: bytes, token: str | None
) -> None:
    topic = parse_jobs_topic("$aws/things/thing-1/jobs/j1/update")
    assert isinstance(topic, JobsTopic)
    reply = throttled_reply(topic, payload, 1_750_000_000)
    assert reply.topic == "$aws/things/thing-1/jobs/j1/update/rejected"
    assert reply.changed is None
    decoded = json.loads(reply.payload)
    assert decoded.get("clientToken") == token
    assert decoded["code"] == "RequestThrottled"


def test_quotas_off_throttle_nothing(make_stack: MakeStack) -> None:
    stack = make_stack(QuotaConfig.off())
    thing = stack.thing(0)
    stack.create_job("j1", [thing])
    kinds = {_answer(stack.mqtt(thing, "get", {}))[0] for _ in range(500)}
    kinds |= {_answer(stack.mqtt(thing, "start-next", {}))[0] for _ in range(500)}
    assert kinds == {"accepted"}
    assert set(stack.quotas.counters.snapshot().values()) == {0}
