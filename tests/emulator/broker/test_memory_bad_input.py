"""Bad input closes the offending client only, with one log line (issue #3 "Bad input")."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs_tool import Fleet
from simfleet.emulator.mqtt import (
    AWS_MAX_PAYLOAD_SIZE,
    ConnAck,
    Connect,
    PingReq,
    PingResp,
    Publish,
    QoS,
    SubAck,
    Will,
    encode,
)
from simfleet.jobs import JobsTopic, MqttReply, UnknownJobsTopic
from tests.emulator.broker.helpers import OPEN_TOPICS_POLICY, MemoryBroker, memory_broker

LOGGER = "simfleet.emulator.broker"


def _publish_of(size: int) -> bytes:
    """A QoS 0 PUBLISH to `t` with a payload of `size` bytes."""
    remaining = 3 + size
    digits = bytearray()
    while True:
        digit, remaining = remaining & 0x7F, remaining >> 7
        digits.append(digit | (0x80 if remaining else 0))
        if not remaining:
            break
    return b"\x30" + bytes(digits) + b"\x00\x01t" + b"x" * size


BAD_AFTER_CONNECT = [
    pytest.param(b"\x00\x00", id="reserved-type-0"),
    pytest.param(b"\xf0\x00", id="reserved-type-15"),
    pytest.param(b"\x80\x00", id="subscribe-bad-flags"),
    pytest.param(b"\x30\xff\xff\xff\xff\x01", id="remaining-length-5-bytes"),
    pytest.param(b"\x34\x05\x00\x01t\x00\x01", id="qos2-publish"),
    pytest.param(b"\x36\x00", id="qos3-publish"),
    pytest.param(b"\x82\x06\x00\x01\x00\x01a\x02", id="qos2-subscribe"),
    pytest.param(b"\x50\x02\x00\x01", id="pubrec"),
    pytest.param(b"\x30\x03\x00\x05t", id="topic-overruns"),
    pytest.param(b"\x30\x03\x00\x01+", id="wildcard-topic"),
    pytest.param(encode(Connect(client_id="again")), id="second-connect"),
    pytest.param(encode(ConnAck()), id="server-packet-connack"),
    pytest.param(encode(SubAck(packet_id=1, return_codes=(0,))), id="server-packet-suback"),  # type: ignore[arg-type]
    pytest.param(encode(PingResp()), id="server-packet-pingresp"),
    pytest.param(_publish_of(AWS_MAX_PAYLOAD_SIZE + 1), id="payload-over-128k"),
    pytest.param(b"\x30" + b"\xff\xff\xff\x7f", id="announces-256mb"),
    pytest.param(
        encode(Publish(topic="a/" + "b/" * 8 + "c", payload=b"")), id="topic-over-7-slashes"
    ),
]


@pytest.mark.parametrize("data", BAD_AFTER_CONNECT)
def test_bad_packet_closes_that_client_only(
    mem: MemoryBroker, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    bystander = mem.connected(1)
    offender = mem.connected(0)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        offender.send_raw(data)
    assert offender.closed()
    assert offender.received() == []
    assert mem.broker.counters.protocol_errors == 1
    assert mem.broker.counters.connections_current == 1
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert mem.thing(0) in lines[0].getMessage()
    bystander.send(PingReq())
    assert bystander.received() == [PingResp()]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(PingReq()), id="pingreq"),
        pytest.param(encode(Publish(topic="a", payload=b"x")), id="publish"),
        pytest.param(b"\x82\x06\x00\x01\x00\x01a\x00", id="subscribe"),
        pytest.param(b"\x00\x00", id="garbage"),
    ],
)
def test_anything_before_connect_closes(mem: MemoryBroker, data: bytes) -> None:
    client = mem.client(0)
    client.send_raw(data)
    assert client.closed()
    assert client.received() == []
    assert mem.broker.counters.protocol_errors == 1


def test_packets_after_the_bad_one_are_ignored(mem: MemoryBroker) -> None:
    client = mem.connected(0)
    client.send_raw(b"\x00\x00" + encode(PingReq()))
    assert client.received() == []
    client.send_raw(encode(PingReq()))  # late bytes of a closed connection
    assert client.received() == []
    assert mem.broker.counters.protocol_errors == 1


def test_packets_before_the_bad_one_are_served(mem: MemoryBroker) -> None:
    client = mem.connected(0)
    client.send_raw(encode(PingReq()) + b"\x00\x00")
    assert client.received() == [PingResp()]
    assert client.closed()


def test_payload_of_128k_is_accepted(shared_fleet: Fleet) -> None:
    mem = memory_broker(shared_fleet, extra_policies=(OPEN_TOPICS_POLICY,))
    receiver = mem.connected(1)
    receiver.subscribe("open/public", qos=QoS.AT_MOST_ONCE)
    sender = mem.connected(0)
    sender.send(Publish(topic="open/public", payload=b"x" * AWS_MAX_PAYLOAD_SIZE))
    assert not sender.closed()
    [delivered] = receiver.received()
    assert isinstance(delivered, Publish)
    assert len(delivered.payload) == AWS_MAX_PAYLOAD_SIZE


class _BrokenJobs:
    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        raise RuntimeError("bug in the jobs service")


def test_exception_in_handling_is_contained(
    shared_fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    mem = memory_broker(shared_fleet)
    mem.broker._jobs = _BrokenJobs()
    bystander = mem.connected(1)
    victim = mem.connected(0)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        victim.send(Publish(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"{}"))
    assert victim.closed()
    assert mem.broker.counters.internal_errors == 1
    [line] = [r for r in caplog.records if r.name == LOGGER]
    assert "RuntimeError" in line.getMessage()
    assert line.exc_info is None  # one line; the traceback only at DEBUG
    # The broker still routes: the next request of another device is answered.
    mem.broker._jobs = mem.jobs
    topic = f"$aws/things/{mem.thing(1)}/jobs/get"
    bystander.send(Publish(topic=topic, payload=b"{}", qos=QoS.AT_LEAST_ONCE, packet_id=1))
    assert [p.topic for p in bystander.received() if isinstance(p, Publish)] == [
        f"{topic}/accepted"
    ]


def test_failing_will_is_contained(shared_fleet: Fleet, caplog: pytest.LogCaptureFixture) -> None:
    mem = memory_broker(shared_fleet)
    mem.broker._jobs = _BrokenJobs()
    client = mem.client(0)
    will = Will(topic=f"$aws/things/{mem.thing(0)}/jobs/get", payload=b"{}")
    client.send(Connect(client_id=mem.thing(0), will=will))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.drop()  # from connection_lost, outside any packet handling
    assert mem.broker.counters.internal_errors == 1
    assert mem.broker.counters.connections_current == 0
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunks=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8))
def test_arbitrary_bytes_never_escape(shared_fleet: Fleet, chunks: list[bytes]) -> None:
    """Whatever a connected client sends, the broker neither raises nor harms another client:
    the sender stays connected, or is closed with a protocol error or denial counted (or
    because it sent DISCONNECT)."""
    mem = memory_broker(shared_fleet)
    bystander = mem.connected(1)
    client = mem.connected(0)
    for chunk in chunks:
        client.send_raw(chunk)
    counters = mem.broker.counters
    assert counters.internal_errors == 0
    if client.closed() and b"\xe0\x00" not in b"".join(chunks):
        assert counters.protocol_errors + sum(counters.denials.snapshot().values()) >= 1
    bystander.send(PingReq())
    assert bystander.received() == [PingResp()]
