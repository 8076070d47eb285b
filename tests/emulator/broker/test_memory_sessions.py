"""QoS 1 windows, persistent sessions, redelivery and expiry, in memory (spec §6)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from certs_tool import Fleet
from certs_tool.policy.document import parse_policy
from simfleet.emulator.broker import BrokerConfig
from simfleet.emulator.mqtt import ConnAck, PubAck, Publish, QoS
from tests.emulator.broker.helpers import OPEN_TOPICS_POLICY, MemoryBroker, memory_broker

Q0, Q1 = QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE


def _open(fleet: Fleet, **config: object) -> MemoryBroker:
    return memory_broker(
        fleet,
        config=BrokerConfig(**config),  # type: ignore[arg-type]
        extra_policies=(OPEN_TOPICS_POLICY,),
    )


def _payloads(packets: Sequence[object]) -> list[bytes]:
    return [p.payload for p in packets if isinstance(p, Publish)]


def _send(mem: MemoryBroker, *payloads: bytes, qos: QoS = Q1) -> None:
    for payload in payloads:
        mem.broker.publish_internal("open/public", payload, qos=qos)


def test_inflight_window_holds_back_the_rest(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, max_inflight=2)
    device = mem.connected(0)
    device.subscribe("open/public")
    _send(mem, b"1", b"2", b"3", b"4")
    first = device.received()
    assert _payloads(first) == [b"1", b"2"]
    ids = [p.packet_id for p in first if isinstance(p, Publish) and p.packet_id is not None]
    assert len(set(ids)) == 2
    device.send(PubAck(packet_id=ids[0]))
    assert _payloads(device.received()) == [b"3"]
    device.send(PubAck(packet_id=0xBEEF))  # unknown: ignored
    assert device.received() == []
    assert not device.closed()


def test_qos0_is_not_held_by_the_window(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, max_inflight=1)
    device = mem.connected(0)
    device.subscribe("open/public")
    _send(mem, b"1", b"2")
    _send(mem, b"zero", qos=Q0)
    assert _payloads(device.received()) == [b"1", b"zero"]


def test_persistent_session_redelivers_with_dup(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet)
    device = mem.connected(0, clean=False)
    device.subscribe("open/public")
    _send(mem, b"sent")
    [sent] = [p for p in device.received() if isinstance(p, Publish)]
    device.drop()  # never acknowledged
    _send(mem, b"queued-1", b"queued-2")
    _send(mem, b"qos0-lost", qos=Q0)
    assert mem.broker.session_count == 1

    again = mem.client(0)
    assert again.connect(mem.thing(0), clean=False) == ConnAck(session_present=True)
    packets = [p for p in again.received() if isinstance(p, Publish)]
    assert [(p.payload, p.dup) for p in packets] == [
        (b"sent", True),
        (b"queued-1", False),
        (b"queued-2", False),
    ]
    assert packets[0].packet_id == sent.packet_id  # MQTT-4.4.0-1: the same identifier
    assert mem.broker.counters.messages_dropped == 1  # the QoS 0 one
    _send(mem, b"live")  # the subscription came back with the session
    assert _payloads(again.received()) == [b"live"]


def test_clean_session_discards_the_kept_one(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet)
    device = mem.connected(0, clean=False)
    device.subscribe("open/public")
    device.drop()
    _send(mem, b"while-away")
    again = mem.client(0)
    assert again.connect(mem.thing(0), clean=True) == ConnAck(session_present=False)
    assert again.received() == []
    assert mem.broker.subscription_count == 0
    again.drop()
    assert mem.broker.session_count == 0  # a clean session ends with its connection


def test_offline_queue_is_bounded_keeping_the_newest(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, max_queued=2)
    device = mem.connected(0, clean=False)
    device.subscribe("open/public")
    device.drop()
    _send(mem, b"1", b"2", b"3", b"4")
    assert mem.broker.counters.messages_dropped == 2
    again = mem.client(0)
    again.connect(mem.thing(0), clean=False)
    assert _payloads(again.received()) == [b"3", b"4"]


def test_persistent_session_expires(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, session_expiry=60.0)
    device = mem.connected(0, clean=False)
    device.subscribe("open/public")
    device.drop()
    mem.scheduler.advance(59)
    assert mem.broker.session_count == 1
    mem.scheduler.advance(1)
    assert (mem.broker.session_count, mem.broker.subscription_count) == (0, 0)
    again = mem.client(0)
    assert again.connect(mem.thing(0), clean=False) == ConnAck(session_present=False)


def test_expiry_timer_firing_early_rearms(shared_fleet: Fleet) -> None:
    """A timer that fires before the clock reaches the deadline (the wall clock stepped
    back) re-arms for the rest instead of dropping the session early."""
    mem = _open(shared_fleet, session_expiry=60.0)
    mem.connected(0, clean=False).drop()
    mem.scheduler.fire_all_now()
    assert mem.broker.session_count == 1
    assert mem.scheduler.pending == 1
    mem.scheduler.advance(60)
    assert mem.broker.session_count == 0


def test_reconnect_cancels_expiry(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, session_expiry=60.0)
    mem.connected(0, clean=False).drop()
    again = mem.connected(0, clean=False, keep_alive=1200)
    mem.scheduler.advance(120)
    assert mem.broker.session_count == 1
    assert not again.closed()


def test_takeover_resumes_a_persistent_session(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet)
    first = mem.connected(0, clean=False)
    first.subscribe("open/public")
    _send(mem, b"unacked")
    second = mem.client(0)
    assert second.connect(mem.thing(0), clean=False) == ConnAck(session_present=True)
    assert first.closed()
    assert [(p.payload, p.dup) for p in second.received() if isinstance(p, Publish)] == [
        (b"unacked", True)
    ]


def test_qos0_to_a_stalled_client_is_dropped(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet, max_write_buffer=1000)
    device = mem.connected(0)
    device.subscribe("open/public")
    device.transport.backlog = 1001
    _send(mem, b"dropped", qos=Q0)
    _send(mem, b"kept")
    assert _payloads(device.received()) == [b"kept"]
    assert mem.broker.counters.messages_dropped == 1


def test_receive_is_checked_again_on_redelivery(shared_fleet: Fleet) -> None:
    mem = _open(shared_fleet)
    device = mem.connected(0, clean=False)
    device.subscribe("open/public")
    _send(mem, b"before")
    device.drop()
    jobs_only = tuple(parse_policy(raw) for _, raw in shared_fleet.policy_documents())
    mem.principals.change(mem.fleet.devices[0], policies=jobs_only)
    again = mem.client(0)
    again.connect(mem.thing(0), clean=False)
    assert again.received() == []  # the new principal may not receive open/public
    assert mem.broker.counters.denials.count("iot:Receive") == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("connect_timeout", 0, id="connect-timeout"),
        pytest.param("session_expiry", -1, id="expiry"),
        pytest.param("max_subscriptions", 0, id="subscriptions"),
        pytest.param("max_inflight", 70000, id="inflight-over-ids"),
        pytest.param("region", "", id="region"),
    ],
)
def test_config_refuses_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.partition("_")[0]):
        BrokerConfig(**{field: value})  # type: ignore[arg-type]
