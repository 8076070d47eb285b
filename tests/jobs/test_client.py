"""The device-side JobsClient: tokens, matching replies, notifications, expiry."""

import pytest

from simfleet.jobs import (
    DescribeRequest,
    ExecutionStatus,
    GetPendingAccepted,
    GetPendingRequest,
    JobsClient,
    JobsErrorCode,
    MalformedMessage,
    Notify,
    NotifyNext,
    Rejected,
    ReplyReceived,
    StartNextRequest,
    StrayReply,
    UpdateAccepted,
    UpdateRequest,
    encode_message,
)
from tests.jobs.helpers import as_json

P = "$aws/things/T1/jobs"


def reply(topic: str, token: str | None) -> tuple[str, bytes]:
    return topic, encode_message(GetPendingAccepted(timestamp=1, client_token=token))


def test_tokens_come_from_prefix_and_counter() -> None:
    client = JobsClient("T1", token_prefix="dev7-")
    first = client.send(GetPendingRequest(), now=0)
    second = client.send(StartNextRequest(), now=0)
    assert (first.client_token, second.client_token) == ("dev7-1", "dev7-2")
    assert first.topic == f"{P}/get"
    assert as_json(first.payload) == {"clientToken": "dev7-1"}
    assert first.request == GetPendingRequest(client_token="dev7-1")
    assert set(client.in_flight) == {"dev7-1", "dev7-2"}


def test_explicit_token_is_kept_and_must_be_unique_and_short() -> None:
    client = JobsClient("T1")
    assert client.send(GetPendingRequest(client_token="mine"), now=0).client_token == "mine"
    with pytest.raises(ValueError, match="in flight"):
        client.send(GetPendingRequest(client_token="mine"), now=0)
    with pytest.raises(ValueError, match="64"):
        client.send(GetPendingRequest(client_token="t" * 65), now=0)
    with pytest.raises(ValueError, match="64"):
        JobsClient("T1", token_prefix="p" * 64).send(GetPendingRequest(), now=0)


def test_request_topics() -> None:
    client = JobsClient("T1")
    assert client.send(DescribeRequest(job_id="$next"), now=0).topic == f"{P}/$next/get"
    update = client.send(UpdateRequest(job_id="J1", status=ExecutionStatus.SUCCEEDED), now=0)
    assert update.topic == f"{P}/J1/update"
    assert as_json(update.payload)["status"] == "SUCCEEDED"


def test_matched_accepted_and_rejected_replies() -> None:
    client = JobsClient("T1")
    get = client.send(GetPendingRequest(), now=5.0)
    upd = client.send(UpdateRequest(job_id="J1", status=ExecutionStatus.FAILED), now=6.0)
    event = client.receive(*reply(f"{P}/get/accepted", get.client_token))
    assert event == ReplyReceived(
        request=get.request,
        response=GetPendingAccepted(timestamp=1, client_token=get.client_token),
        sent_at=5.0,
    )
    assert isinstance(event, ReplyReceived)
    assert event.accepted
    rejected = Rejected(
        timestamp=2,
        client_token=upd.client_token,
        code=JobsErrorCode.RESOURCE_NOT_FOUND,
        message="gone",
    )
    event = client.receive(f"{P}/J1/update/rejected", encode_message(rejected))
    assert event == ReplyReceived(request=upd.request, response=rejected, sent_at=6.0)
    assert isinstance(event, ReplyReceived)
    assert not event.accepted
    assert not client.in_flight


@pytest.mark.parametrize(
    ("topic", "token"),
    [
        pytest.param(f"{P}/start-next/accepted", "1", id="other-operation"),
        pytest.param(f"{P}/J2/update/accepted", "2", id="other-job"),
        pytest.param(f"{P}/J1/update/accepted", "99", id="unknown-token"),
        pytest.param(f"{P}/J1/update/accepted", None, id="no-token"),
    ],
)
def test_stray_replies_leave_requests_in_flight(topic: str, token: str | None) -> None:
    client = JobsClient("T1")
    client.send(GetPendingRequest(), now=0)
    client.send(UpdateRequest(job_id="J1", status=ExecutionStatus.FAILED), now=0)
    event = client.receive(topic, encode_message(UpdateAccepted(timestamp=1, client_token=token)))
    assert isinstance(event, StrayReply)
    assert event.response.client_token == token
    assert set(client.in_flight) == {"1", "2"}


def test_notifications_become_events() -> None:
    client = JobsClient("T1")
    assert client.receive(f"{P}/notify", b'{"timestamp":3,"jobs":{}}') == Notify(timestamp=3)
    assert client.receive(f"{P}/notify-next", b'{"timestamp":4}') == NotifyNext(timestamp=4)


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("$aws/things/T2/jobs/get/accepted", id="other-thing"),
        pytest.param("$aws/things/T2/jobs/notify", id="other-thing-notify"),
        pytest.param("$aws/things/T1/shadow/get/accepted", id="not-jobs"),
        pytest.param(f"{P}/get", id="request-topic"),
        pytest.param(f"{P}/weird/levels/here/too", id="unknown-jobs-topic"),
        pytest.param("sensors/T1", id="plain-topic"),
    ],
)
def test_ignored_messages(topic: str) -> None:
    client = JobsClient("T1")
    client.send(GetPendingRequest(), now=0)
    assert client.receive(topic, b'{"timestamp":1,"clientToken":"1","jobs":{}}') is None
    assert set(client.in_flight) == {"1"}


def test_malformed_payload_raises() -> None:
    client = JobsClient("T1")
    client.send(GetPendingRequest(), now=0)
    with pytest.raises(MalformedMessage):
        client.receive(f"{P}/get/accepted", b'{"timestamp":"soon","clientToken":"1"}')


def test_expire_returns_overdue_requests_oldest_first() -> None:
    client = JobsClient("T1", request_timeout=10)
    late = client.send(GetPendingRequest(), now=2)
    early = client.send(GetPendingRequest(), now=1)
    patient = client.send(GetPendingRequest(), now=1, timeout=60)
    assert client.expire(10.9) == ()
    expired = client.expire(12)
    assert [f.client_token for f in expired] == [early.client_token, late.client_token]
    assert [f.request for f in expired] == [early.request, late.request]
    assert set(client.in_flight) == {patient.client_token}
    # A reply after expiry is a stray, not a match.
    assert isinstance(client.receive(*reply(f"{P}/get/accepted", early.client_token)), StrayReply)


def test_subscriptions_and_validation() -> None:
    assert JobsClient("T1").subscriptions()[0] == f"{P}/notify"
    with pytest.raises(ValueError, match="thing name"):
        JobsClient("not valid")
    with pytest.raises(ValueError, match="positive"):
        JobsClient("T1", request_timeout=0)
