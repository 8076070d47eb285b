"""The encoder refuses records it cannot put on the wire faithfully, and frames the rest."""

from __future__ import annotations

import pytest

from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Packet,
    PingReq,
    PubAck,
    Publish,
    QoS,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    encode,
)
from simfleet.emulator.mqtt.encoder import encode_remaining_length


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        pytest.param(
            Publish(topic="t", payload=b"", qos=QoS.AT_LEAST_ONCE),
            "packet identifier",
            id="qos1-without-id",
        ),
        pytest.param(
            Publish(topic="t", payload=b"", qos=QoS.AT_LEAST_ONCE, packet_id=0),
            "packet identifier",
            id="qos1-id-0",
        ),
        pytest.param(
            Publish(topic="t", payload=b"", qos=QoS.AT_LEAST_ONCE, packet_id=65536),
            "packet identifier",
            id="qos1-id-65536",
        ),
        pytest.param(
            Publish(topic="t", payload=b"", packet_id=1), "no packet identifier", id="qos0-with-id"
        ),
        pytest.param(Publish(topic="t", payload=b"", dup=True), "DUP", id="qos0-dup"),
        pytest.param(Publish(topic="t" * 65536, payload=b""), "65535", id="topic-too-long"),
        pytest.param(PubAck(packet_id=0), "packet identifier", id="puback-id-0"),
        pytest.param(UnsubAck(packet_id=70000), "packet identifier", id="unsuback-id-big"),
        pytest.param(Subscribe(packet_id=1, topics=()), "at least one", id="subscribe-empty"),
        pytest.param(SubAck(packet_id=1, return_codes=()), "at least one", id="suback-empty"),
        pytest.param(
            Unsubscribe(packet_id=1, topic_filters=()), "at least one", id="unsubscribe-empty"
        ),
        pytest.param(
            ConnAck(session_present=True, return_code=ConnectReturnCode.NOT_AUTHORIZED),
            "session_present",
            id="refused-connack-with-session",
        ),
        pytest.param(Connect(client_id="c", keep_alive=70000), "keep_alive", id="keep-alive-big"),
        pytest.param(Connect(client_id="c", password=b"p"), "username", id="password-no-user"),
        pytest.param(Connect(client_id="c" * 65536), "65535", id="client-id-too-long"),
    ],
)
def test_unencodable_records_raise_value_error(packet: Packet, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(packet)


def test_non_packets_raise_type_error() -> None:
    with pytest.raises(TypeError, match="not an MQTT packet"):
        encode("PINGREQ")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        pytest.param(PubAck(packet_id=0x1234), b"\x40\x02\x12\x34", id="puback"),
        pytest.param(UnsubAck(packet_id=1), b"\xb0\x02\x00\x01", id="unsuback"),
        pytest.param(PingReq(), b"\xc0\x00", id="pingreq"),
        pytest.param(
            ConnAck(session_present=True), b"\x20\x02\x01\x00", id="connack-session-present"
        ),
        pytest.param(
            Publish(
                topic="a", payload=b"x", qos=QoS.AT_LEAST_ONCE, retain=True, dup=True, packet_id=2
            ),
            b"\x3b\x06\x00\x01a\x00\x02x",
            id="publish-flags",
        ),
        pytest.param(
            Subscribe(packet_id=1, topics=(("a/+", QoS.AT_LEAST_ONCE),)),
            b"\x82\x08\x00\x01\x00\x03a/+\x01",
            id="subscribe-flags-0b0010",
        ),
        pytest.param(
            Connect(client_id="c", keep_alive=60),
            b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c",
            id="connect-minimal",
        ),
    ],
)
def test_known_encodings(packet: Packet, wire: bytes) -> None:
    assert encode(packet) == wire


@pytest.mark.parametrize(
    ("length", "wire"),
    [
        pytest.param(0, b"\x00", id="0"),
        pytest.param(127, b"\x7f", id="127"),
        pytest.param(128, b"\x80\x01", id="128"),
        pytest.param(16383, b"\xff\x7f", id="16383"),
        pytest.param(16384, b"\x80\x80\x01", id="16384"),
        pytest.param(2097151, b"\xff\xff\x7f", id="2097151"),
        pytest.param(2097152, b"\x80\x80\x80\x01", id="2097152"),
        pytest.param(268435455, b"\xff\xff\xff\x7f", id="max"),
    ],
)
def test_remaining_length_table_of_spec_2_2_3(length: int, wire: bytes) -> None:
    assert encode_remaining_length(length) == wire


def test_remaining_length_over_the_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="remaining length"):
        encode_remaining_length(268435456)
