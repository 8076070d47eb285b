"""Routing, policy checks, retained messages and the Jobs hand-off, in memory (spec §1, §4)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pytest

from certs_tool import Fleet
from certs_tool.policy.document import parse_policy
from simfleet.emulator.broker import BrokerConfig
from simfleet.emulator.mqtt import (
    PubAck,
    Publish,
    QoS,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)
from simfleet.jobs.topics import subscription_filters
from tests.emulator.broker.helpers import (
    OPEN_TOPICS_POLICY,
    WATCH_ALL_POLICY,
    MemoryBroker,
    memory_broker,
)

Q0, Q1 = QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE


@pytest.fixture
def open_mem(shared_fleet: Fleet) -> MemoryBroker:
    return memory_broker(shared_fleet, extra_policies=(OPEN_TOPICS_POLICY,))


def _publishes(packets: Sequence[object]) -> list[Publish]:
    return [p for p in packets if isinstance(p, Publish)]


def test_jobs_request_reply_then_notifications(mem: MemoryBroker) -> None:
    thing = mem.thing(0)
    device = mem.connected(0)
    ack = device.subscribe(*subscription_filters(thing))
    assert ack.return_codes == (SubAckReturnCode.GRANTED_QOS_1,) * 6
    mem.jobs.queue_job(thing, "job-1")
    queued = _publishes(device.received())
    assert [p.topic.rsplit("/", 1)[1] for p in queued] == ["notify", "notify-next"]
    for message in queued:
        assert message.packet_id is not None
        device.send(PubAck(packet_id=message.packet_id))

    update = f"$aws/things/{thing}/jobs/job-1/update"
    device.send(Publish(topic=update, payload=b'{"status":"SUCCEEDED"}', qos=Q1, packet_id=7))
    packets = device.received()
    assert packets[0] == PubAck(packet_id=7)
    topics = [p.topic for p in _publishes(packets)]
    # The reply first, then the notifications the update caused (docs/emulator.md).
    assert topics == [
        f"{update}/accepted",
        f"$aws/things/{thing}/jobs/notify",
        f"$aws/things/{thing}/jobs/notify-next",
    ]
    assert mem.jobs.records[0].status.value == "SUCCEEDED"


def test_jobs_reply_goes_to_the_requester_only(shared_fleet: Fleet) -> None:
    mem = memory_broker(shared_fleet, extra_policies=(WATCH_ALL_POLICY,))
    thing = mem.thing(0)
    watcher = mem.connected(1)
    watcher.subscribe(f"$aws/things/{thing}/jobs/#", "$aws/things/+/jobs/get/accepted")
    device = mem.connected(0)
    device.send(Publish(topic=f"$aws/things/{thing}/jobs/get", payload=b"{}", qos=Q1, packet_id=1))
    replies = _publishes(device.received())
    # Not subscribed, yet answered (spec §1.1), at the request's QoS.
    assert [(p.topic, p.qos) for p in replies] == [(f"$aws/things/{thing}/jobs/get/accepted", Q1)]
    assert json.loads(replies[0].payload)["queuedJobs"] == []
    assert watcher.received() == []  # replies skip the subscribers
    mem.jobs.queue_job(thing, "job-1")  # notifications do reach them
    assert [p.topic for p in _publishes(watcher.received())] == [
        f"$aws/things/{thing}/jobs/notify",
        f"$aws/things/{thing}/jobs/notify-next",
    ]


def test_jobs_reply_qos_is_capped_by_the_requester_grant(mem: MemoryBroker) -> None:
    thing = mem.thing(0)
    device = mem.connected(0)
    device.subscribe(f"$aws/things/{thing}/jobs/get/+", qos=Q0)
    device.send(Publish(topic=f"$aws/things/{thing}/jobs/get", payload=b"{}", qos=Q1, packet_id=1))
    replies = _publishes(device.received())
    assert [p.qos for p in replies] == [Q0]


def test_jobs_reply_qos_follows_later_subscriptions(mem: MemoryBroker) -> None:
    # The broker remembers each session's reply QoS; SUBSCRIBE and UNSUBSCRIBE must reset it.
    thing = mem.thing(0)
    device = mem.connected(0)
    request = Publish(topic=f"$aws/things/{thing}/jobs/get", payload=b"{}", qos=Q1, packet_id=1)
    device.subscribe(f"$aws/things/{thing}/jobs/get/+", qos=Q0)
    device.send(request)
    assert [p.qos for p in _publishes(device.received())] == [Q0]
    device.subscribe(f"$aws/things/{thing}/jobs/get/accepted", qos=Q1)
    device.send(dataclasses.replace(request, packet_id=2))
    assert [p.qos for p in _publishes(device.received())] == [Q1]
    device.send(Unsubscribe(packet_id=3, topic_filters=(f"$aws/things/{thing}/jobs/get/accepted",)))
    device.send(dataclasses.replace(request, packet_id=4))
    assert [p.qos for p in _publishes(device.received())] == [Q0]


def test_publish_on_another_things_topic_closes(mem: MemoryBroker) -> None:
    device = mem.connected(0)
    device.send(
        Publish(topic=f"$aws/things/{mem.thing(1)}/jobs/get", payload=b"{}", qos=Q1, packet_id=1)
    )
    assert device.received() == []  # no PUBACK
    assert device.closed()
    assert mem.jobs.requests == []
    assert mem.broker.counters.denials.count("iot:Publish") == 1


def test_subscribe_to_another_things_topic_closes(mem: MemoryBroker) -> None:
    device = mem.connected(0)
    own = f"$aws/things/{mem.thing(0)}/jobs/notify"
    other = f"$aws/things/{mem.thing(1)}/jobs/notify"
    device.send(Subscribe(packet_id=1, topics=((own, Q1), (other, Q1))))
    assert device.received() == []  # no SUBACK at all
    assert device.closed()
    assert mem.broker.subscription_count == 0
    assert mem.broker.counters.denials.count("iot:Subscribe") == 1


def test_subscribe_checks_the_filter_as_sent(mem: MemoryBroker) -> None:
    device = mem.connected(0)
    device.send(Subscribe(packet_id=1, topics=(("$aws/things/+/jobs/notify", Q1),)))
    assert device.closed()  # `+` is literal for iot:Subscribe: not this thing's filter


def test_routing_at_the_lower_qos_with_receive_checks(open_mem: MemoryBroker) -> None:
    receiver = open_mem.connected(0)
    assert receiver.subscribe("open/+", qos=Q0).return_codes == (SubAckReturnCode.GRANTED_QOS_0,)
    sender = open_mem.connected(1)
    sender.send(Publish(topic="open/secret", payload=b"s", qos=Q1, packet_id=1))
    sender.send(Publish(topic="open/public", payload=b"p", qos=Q1, packet_id=2))
    assert sender.received() == [PubAck(packet_id=1), PubAck(packet_id=2)]
    # iot:Receive is only granted on open/public*: the other message is dropped, counted.
    assert receiver.received() == [Publish(topic="open/public", payload=b"p", qos=Q0)]
    counters = open_mem.broker.counters
    assert counters.denials.count("iot:Receive") == 1
    assert (counters.messages_in, counters.messages_out) == (2, 1)
    assert not receiver.closed()  # a Receive denial never closes


def test_unsubscribe_stops_delivery(open_mem: MemoryBroker) -> None:
    receiver = open_mem.connected(0)
    receiver.subscribe("open/public")
    receiver.send(Unsubscribe(packet_id=9, topic_filters=("open/public", "open/never")))
    assert receiver.received() == [UnsubAck(packet_id=9)]
    open_mem.broker.publish_internal("open/public", b"x")
    assert receiver.received() == []
    assert open_mem.broker.subscription_count == 0


def test_publish_internal_routes_with_receive_checks(open_mem: MemoryBroker) -> None:
    receiver = open_mem.connected(0)
    receiver.subscribe("open/#")
    open_mem.broker.publish_internal("open/public/a", b"1", qos=0)
    open_mem.broker.publish_internal("open/private", b"2")
    assert receiver.received() == [Publish(topic="open/public/a", payload=b"1")]
    assert open_mem.broker.counters.denials.count("iot:Receive") == 1


def test_retained_messages(open_mem: MemoryBroker) -> None:
    early = open_mem.connected(0)
    early.subscribe("open/public")
    sender = open_mem.connected(1)
    sender.send(Publish(topic="open/public", payload=b"r", qos=Q1, retain=True, packet_id=1))
    # Forwarded to an established subscription with RETAIN 0 (MQTT-3.3.1-9).
    [forwarded] = _publishes(early.received())
    assert (forwarded.retain, forwarded.payload) == (False, b"r")
    assert open_mem.broker.retained_count == 1

    late = open_mem.connected(2)
    ack = late.subscribe("open/+", packet_id=3)
    assert ack == SubAck(packet_id=3, return_codes=(SubAckReturnCode.GRANTED_QOS_1,))
    [retained] = _publishes(late.received())
    assert (retained.topic, retained.payload, retained.retain, retained.qos) == (
        "open/public",
        b"r",
        True,
        Q1,
    )

    sender.send(Publish(topic="open/public", payload=b"", retain=True))  # clears it
    assert open_mem.broker.retained_count == 0
    assert not sender.closed()


def test_retained_message_is_receive_checked(open_mem: MemoryBroker) -> None:
    sender = open_mem.connected(1)
    sender.send(Publish(topic="open/hidden", payload=b"h", retain=True))
    late = open_mem.connected(0)
    late.subscribe("open/hidden")
    assert late.received() == []
    assert open_mem.broker.counters.denials.count("iot:Receive") == 1


def test_retain_on_a_reserved_topic_closes(mem: MemoryBroker) -> None:
    device = mem.connected(0)
    device.send(Publish(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"{}", retain=True))
    assert device.closed()
    assert mem.jobs.requests == []
    assert mem.broker.counters.denials.count("iot:RetainPublish") == 1


def test_retain_without_retain_publish_grant_closes(shared_fleet: Fleet) -> None:
    publish_only = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": "arn:aws:iot:*:*:topic/plain/*",
                }
            ],
        }
    )
    mem = memory_broker(shared_fleet, extra_policies=(publish_only,))
    device = mem.connected(0)
    device.send(Publish(topic="plain/a", payload=b"1"))
    assert not device.closed()
    device.send(Publish(topic="plain/a", payload=b"1", retain=True))
    assert device.closed()
    assert mem.broker.retained_count == 0
    assert mem.broker.counters.denials.count("iot:RetainPublish") == 1


def test_subscription_limit_per_connection(shared_fleet: Fleet) -> None:
    mem = memory_broker(
        shared_fleet, config=BrokerConfig(max_subscriptions=3), extra_policies=(OPEN_TOPICS_POLICY,)
    )
    device = mem.connected(0)
    device.subscribe("open/a", "open/b", "open/c")
    device.subscribe("open/a", packet_id=2)  # a replaced filter is no new subscription
    assert not device.closed()
    device.send(Subscribe(packet_id=3, topics=(("open/d", Q1),)))
    assert device.closed()
    assert mem.broker.counters.protocol_errors == 1


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(tuple(f"open/{n}" for n in range(9)), id="nine-filters"),
        pytest.param(("open/" + "/".join("abcdefgh"),), id="eight-slashes"),
        pytest.param(("open/" + "x" * 300,), id="over-256-bytes"),
    ],
)
def test_subscribe_over_aws_limits_closes(open_mem: MemoryBroker, filters: tuple[str, ...]) -> None:
    device = open_mem.connected(0)
    device.send(Subscribe(packet_id=1, topics=tuple((f, Q1) for f in filters)))
    assert device.received() == []
    assert device.closed()
    assert open_mem.broker.counters.protocol_errors == 1
