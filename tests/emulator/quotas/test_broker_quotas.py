"""The broker's quotas in memory (spec §6): CONNECT/s per client ID and per account, publishes
per second per connection in and out, subscriptions and payload from the same QuotaConfig;
and nothing of it when the quotas are off."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from certs_tool import Fleet
from simfleet.emulator.broker import RefusalReason
from simfleet.emulator.mqtt import AWS_MAX_PAYLOAD_SIZE, Connect, PubAck, Publish, QoS, Subscribe
from simfleet.emulator.quotas import Quota, QuotaConfig
from tests.emulator.broker.helpers import OPEN_TOPICS_POLICY, MemoryBroker, MemoryClient
from tests.emulator.quotas.helpers import only, quota_broker

Q0, Q1 = QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE


def _publishes(packets: Sequence[object]) -> list[Publish]:
    return [p for p in packets if isinstance(p, Publish)]


def _refused(mem: MemoryBroker, index: int) -> MemoryClient:
    """A CONNECT of device `index` that the broker closes with no CONNACK."""
    client = mem.client(index)
    client.send(Connect(client_id=mem.fleet.devices[index].client_id))
    assert client.received() == []
    assert client.closed()
    return client


def test_a_second_connect_within_the_second_is_refused(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(shared_fleet, QuotaConfig())
    first = mem.connected(0)
    mem.clock.advance(0.5)
    _refused(mem, 0)
    assert not first.closed()  # not taken over
    counters = mem.broker.counters
    assert counters.connects_refused == {RefusalReason.THROTTLED: 1}
    assert counters.takeovers == 0
    assert quotas.counters[Quota.CONNECTS_PER_CLIENT_ID] == 1

    mem.clock.advance(0.5)  # one second after the accepted CONNECT
    second = mem.connected(0)
    assert first.closed()  # now the usual takeover
    assert not second.closed()
    assert counters.takeovers == 1


def test_other_client_ids_connect_in_the_same_second(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(shared_fleet, QuotaConfig())
    clients = [mem.connected(i) for i in range(len(shared_fleet.devices))]
    assert not any(client.closed() for client in clients)
    assert set(quotas.counters.snapshot().values()) == {0}


def test_connects_per_account(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(shared_fleet, only(connects_per_account=3.0))
    for index in range(3):
        mem.connected(index)
    _refused(mem, 3)
    assert quotas.counters[Quota.CONNECTS_PER_ACCOUNT] == 1
    mem.clock.advance(1 / 3)
    mem.connected(3)
    _refused(mem, 4)


def test_a_refused_principal_takes_no_connect_token(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(shared_fleet, QuotaConfig())
    mem.principals.change(mem.fleet.devices[0], status="INACTIVE")
    _refused(mem, 0)
    mem.principals.change(mem.fleet.devices[0], status="ACTIVE")
    mem.connected(0)  # within the same second
    assert mem.broker.counters.connects_refused == {RefusalReason.INACTIVE_CERTIFICATE: 1}
    assert quotas.counters[Quota.CONNECTS_PER_CLIENT_ID] == 0


def test_inbound_publishes_over_the_rate_are_dropped_without_puback(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(
        shared_fleet, only(publishes_per_connection=3.0), extra_policies=(OPEN_TOPICS_POLICY,)
    )
    receiver = mem.connected(1)
    receiver.subscribe("open/public")
    sender = mem.connected(0)
    for packet_id in range(1, 6):
        sender.send(
            Publish(topic="open/public", payload=b"%d" % packet_id, qos=Q1, packet_id=packet_id)
        )
    assert sender.received() == [PubAck(packet_id=n) for n in (1, 2, 3)]
    assert not sender.closed()  # throttling closes nothing
    assert [p.payload for p in _publishes(receiver.received())] == [b"1", b"2", b"3"]
    assert quotas.counters[Quota.PUBLISHES_PER_CONNECTION] == 2
    assert mem.broker.counters.messages_in == 5

    mem.clock.advance(1.0)
    sender.send(Publish(topic="open/public", payload=b"again", qos=Q1, packet_id=4))
    assert sender.received() == [PubAck(packet_id=4)]  # the client's retry goes through


def test_outbound_publishes_over_the_rate_are_dropped(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(
        shared_fleet, only(publishes_per_connection=3.0), extra_policies=(OPEN_TOPICS_POLICY,)
    )
    receiver = mem.connected(0)
    receiver.subscribe("open/public")
    senders = [mem.connected(1), mem.connected(2)]
    for n, sender in enumerate(senders):  # 2 each: within each sender's own quota
        for q in (Q0, Q1):
            packet_id = None if q is Q0 else 1
            sender.send(
                Publish(topic="open/public", payload=b"%d%d" % (n, q), qos=q, packet_id=packet_id)
            )
    delivered = _publishes(receiver.received())
    assert [p.payload for p in delivered] == [b"00", b"01", b"10"]
    assert mem.broker.counters.messages_dropped == 1
    assert quotas.counters[Quota.PUBLISHES_PER_CONNECTION] == 1
    assert receiver.connection.session is not None
    assert receiver.connection.session.queued_count == 0  # dropped, not kept for later


def test_a_jobs_request_and_its_reply_both_count(shared_fleet: Fleet) -> None:
    mem, _ = quota_broker(shared_fleet, only(publishes_per_connection=2.0))
    thing = mem.thing(0)
    device = mem.connected(0)
    device.subscribe(f"$aws/things/{thing}/jobs/get/+")
    for packet_id in (1, 2):
        device.send(
            Publish(
                topic=f"$aws/things/{thing}/jobs/get", payload=b"{}", qos=Q1, packet_id=packet_id
            )
        )
    packets = device.received()
    assert packets[0] == PubAck(packet_id=1)
    assert [p.topic for p in _publishes(packets)] == [f"$aws/things/{thing}/jobs/get/accepted"]
    assert PubAck(packet_id=2) not in packets
    assert mem.jobs.requests == [f"$aws/things/{thing}/jobs/get"]  # the second never arrived


def test_subscriptions_past_the_quota_close_the_connection(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(
        shared_fleet,
        QuotaConfig.parse("subscriptions-per-connection=3"),
        extra_policies=(OPEN_TOPICS_POLICY,),
    )
    device = mem.connected(0)
    device.subscribe("open/a", "open/b", "open/c")
    device.send(Subscribe(packet_id=2, topics=(("open/d", Q1),)))
    assert device.closed()
    assert quotas.counters[Quota.SUBSCRIPTIONS_PER_CONNECTION] == 1
    assert mem.broker.counters.protocol_errors == 1


def test_a_payload_over_the_quota_closes_the_connection(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(shared_fleet, QuotaConfig(), extra_policies=(OPEN_TOPICS_POLICY,))
    device = mem.connected(0)
    device.send(Publish(topic="open/public", payload=b"x" * (AWS_MAX_PAYLOAD_SIZE + 1)))
    assert device.closed()
    assert quotas.counters[Quota.PAYLOAD_SIZE] == 1


def test_quotas_off_throttle_and_limit_nothing(shared_fleet: Fleet) -> None:
    mem, quotas = quota_broker(
        shared_fleet, QuotaConfig.off(), extra_policies=(OPEN_TOPICS_POLICY,)
    )
    for _ in range(5):  # five CONNECTs of one client ID in one instant: five takeovers
        device = mem.connected(0)
    assert mem.broker.counters.takeovers == 4
    receiver = mem.connected(1)
    for packet_id in range(1, 9):  # 64 subscriptions, 8 per SUBSCRIBE (AWS's other limit)
        receiver.subscribe(
            *(f"open/public/{packet_id}/{n}" for n in range(8)), qos=Q0, packet_id=packet_id
        )
    receiver.subscribe("open/public", qos=Q0, packet_id=9)
    for packet_id in range(1, 301):
        device.send(Publish(topic="open/public", payload=b"p", qos=Q1, packet_id=packet_id))
    assert device.received() == [PubAck(packet_id=n) for n in range(1, 301)]
    assert len(_publishes(receiver.received())) == 300
    big = b"x" * (200 * 1024)
    device.send(Publish(topic="open/public", payload=big, qos=Q1, packet_id=301))
    assert device.received() == [PubAck(packet_id=301)]
    assert [p.payload for p in _publishes(receiver.received())] == [big]
    assert not device.closed()
    assert not receiver.closed()
    assert set(quotas.counters.snapshot().values()) == {0}


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(QuotaConfig(), id="aws"),
        pytest.param(QuotaConfig.off(), id="off"),
    ],
)
def test_a_steady_client_is_never_throttled(shared_fleet: Fleet, config: QuotaConfig) -> None:
    # 50 publishes a second for 10 s, each echoed back: 100 PUBLISH a second in + out.
    mem, quotas = quota_broker(shared_fleet, config, extra_policies=(OPEN_TOPICS_POLICY,))
    device = mem.connected(0)
    device.subscribe("open/public", qos=Q0)
    for n in range(500):
        device.send(Publish(topic="open/public", payload=b"%d" % n))
        mem.clock.advance(0.02)
    assert len(_publishes(device.received())) == 500
    assert set(quotas.counters.snapshot().values()) == {0}
