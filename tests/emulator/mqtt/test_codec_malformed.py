"""Malformed, oversized and unsupported input: each raises the right error, with a reason."""

from __future__ import annotations

import re

import pytest

from simfleet.emulator.mqtt import (
    InvalidTopic,
    MalformedPacket,
    MqttProtocolError,
    PacketDecoder,
    PacketTooLarge,
    UnsupportedProtocolVersion,
    UnsupportedQoS,
)
from simfleet.emulator.mqtt.encoder import encode_remaining_length
from tests.emulator.mqtt.helpers import decode_all


def frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_remaining_length(len(body)) + body


def s(text: bytes) -> bytes:
    """An MQTT string field from raw bytes (possibly invalid UTF-8)."""
    return len(text).to_bytes(2, "big") + text


def connect(
    flags: int = 0x02, payload: bytes = s(b"c"), name: bytes = b"MQTT", level: int = 4
) -> bytes:
    return frame(0x10, s(name) + bytes((level, flags)) + b"\x00\x3c" + payload)


def publish(first: int = 0x32, topic: bytes = b"a/b", rest: bytes = b"\x00\x01hi") -> bytes:
    return frame(first, s(topic) + rest)


def subscribe(body: bytes, first: int = 0x82) -> bytes:
    return frame(first, b"\x00\x01" + body)


CASES = [
    # fixed header (§2.2)
    pytest.param(b"\x00\x00", MalformedPacket, "reserved packet type 0", id="reserved-type-0"),
    pytest.param(b"\xf0\x00", MalformedPacket, "reserved packet type 15", id="reserved-type-15"),
    pytest.param(
        b"\x30\x80\x80\x80\x80\x01", MalformedPacket, "longer than 4 bytes", id="5-byte-length"
    ),
    pytest.param(b"\x30\xff\xff\xff\x7f", PacketTooLarge, "remaining length", id="256MB-claim"),
    pytest.param(b"\x30\xff\xff\xff", PacketTooLarge, "remaining length", id="partial-huge-claim"),
    pytest.param(
        subscribe(s(b"a") + b"\x01", first=0x80), MalformedPacket, "flags", id="subscribe-flags-0"
    ),
    pytest.param(
        frame(0xA0, b"\x00\x01" + s(b"a")), MalformedPacket, "flags", id="unsubscribe-flags-0"
    ),
    pytest.param(b"\x41\x02\x00\x01", MalformedPacket, "flags", id="puback-flags"),
    pytest.param(b"\x11\x00", MalformedPacket, "flags", id="connect-flags"),
    pytest.param(b"\xc1\x00", MalformedPacket, "flags", id="pingreq-flags"),
    pytest.param(b"\xe2\x00", MalformedPacket, "flags", id="disconnect-flags"),
    # PUBLISH (§3.3)
    pytest.param(publish(first=0x36), MalformedPacket, "QoS 3", id="publish-qos-3"),
    pytest.param(publish(first=0x34), UnsupportedQoS, "QoS 2", id="publish-qos-2"),
    pytest.param(publish(first=0x38, rest=b"hi"), MalformedPacket, "DUP", id="dup-on-qos-0"),
    pytest.param(publish(rest=b"\x00\x00hi"), MalformedPacket, "identifier 0", id="publish-id-0"),
    pytest.param(publish(rest=b"\x00"), MalformedPacket, "packet identifier", id="publish-no-id"),
    pytest.param(frame(0x30, b"\x00\x05ab"), MalformedPacket, "overruns", id="topic-overrun"),
    pytest.param(frame(0x30, b"\x00"), MalformedPacket, "too short", id="publish-1-byte"),
    pytest.param(publish(topic=b"a/+"), InvalidTopic, "wildcard", id="publish-plus"),
    pytest.param(publish(topic=b"a/#"), InvalidTopic, "wildcard", id="publish-hash"),
    pytest.param(publish(topic=b""), InvalidTopic, "empty", id="publish-empty-topic"),
    pytest.param(publish(topic=b"a\xffb"), MalformedPacket, "UTF-8", id="utf8-invalid-byte"),
    pytest.param(publish(topic=b"\xed\xa0\x80"), MalformedPacket, "UTF-8", id="utf8-surrogate"),
    pytest.param(publish(topic=b"\xc0\x80"), MalformedPacket, "UTF-8", id="utf8-overlong-nul"),
    pytest.param(publish(topic=b"a\xe2\x82"), MalformedPacket, "UTF-8", id="utf8-truncated"),
    pytest.param(publish(topic=b"a\x00b"), MalformedPacket, "U+0000", id="utf8-nul"),
    # SUBSCRIBE / UNSUBSCRIBE (§3.8, §3.10)
    pytest.param(subscribe(b""), MalformedPacket, "without topic filters", id="subscribe-empty"),
    pytest.param(
        frame(0x82, b"\x00\x00" + s(b"a") + b"\x01"),
        MalformedPacket,
        "identifier 0",
        id="subscribe-id-0",
    ),
    pytest.param(subscribe(s(b"a") + b"\x03"), MalformedPacket, "QoS byte", id="subscribe-qos-3"),
    pytest.param(
        subscribe(s(b"a") + b"\x05"), MalformedPacket, "QoS byte", id="subscribe-reserved-bits"
    ),
    pytest.param(subscribe(s(b"a") + b"\x02"), UnsupportedQoS, "QoS 2", id="subscribe-qos-2"),
    pytest.param(subscribe(s(b"a")), MalformedPacket, "requested QoS", id="subscribe-no-qos"),
    pytest.param(subscribe(s(b"a/#/b") + b"\x01"), InvalidTopic, "'#'", id="subscribe-hash-middle"),
    pytest.param(subscribe(s(b"a+") + b"\x01"), InvalidTopic, "'+'", id="subscribe-plus-mixed"),
    pytest.param(subscribe(s(b"") + b"\x01"), InvalidTopic, "empty", id="subscribe-empty-filter"),
    pytest.param(
        subscribe(s(b"\xff") + b"\x01"), MalformedPacket, "UTF-8", id="subscribe-bad-utf8"
    ),
    pytest.param(
        frame(0xA2, b"\x00\x01"), MalformedPacket, "without topic filters", id="unsubscribe-empty"
    ),
    pytest.param(
        frame(0xA2, b"\x00\x01" + s(b"#/a")), InvalidTopic, "'#'", id="unsubscribe-bad-filter"
    ),
    # acknowledgements and empty packets
    pytest.param(b"\x40\x02\x00\x00", MalformedPacket, "identifier 0", id="puback-id-0"),
    pytest.param(b"\x40\x03\x00\x01\x00", MalformedPacket, "not 2", id="puback-length-3"),
    pytest.param(b"\xb0\x01\x01", MalformedPacket, "not 2", id="unsuback-length-1"),
    pytest.param(b"\xc0\x01\x00", MalformedPacket, "not 0", id="pingreq-with-body"),
    pytest.param(b"\xe0\x01\x00", MalformedPacket, "not 0", id="disconnect-with-body"),
    pytest.param(b"\x20\x02\x02\x00", MalformedPacket, "reserved flags", id="connack-flags"),
    pytest.param(b"\x20\x02\x00\x06", MalformedPacket, "return code 6", id="connack-code-6"),
    pytest.param(frame(0x90, b"\x00\x01\x02"), UnsupportedQoS, "QoS 2", id="suback-qos-2"),
    pytest.param(frame(0x90, b"\x00\x01\x03"), MalformedPacket, "return code", id="suback-code-3"),
    pytest.param(
        frame(0x90, b"\x00\x01"), MalformedPacket, "without return codes", id="suback-empty"
    ),
    # the QoS 2 flow AWS does not support
    pytest.param(b"\x50\x02\x00\x01", UnsupportedQoS, "PUBREC", id="pubrec"),
    pytest.param(b"\x62\x02\x00\x01", UnsupportedQoS, "PUBREL", id="pubrel"),
    pytest.param(b"\x60\x02\x00\x01", MalformedPacket, "flags", id="pubrel-flags-0"),
    pytest.param(b"\x70\x02\x00\x01", UnsupportedQoS, "PUBCOMP", id="pubcomp"),
    # CONNECT (§3.1)
    pytest.param(connect(name=b"HTTP"), MalformedPacket, "protocol name", id="connect-bad-name"),
    pytest.param(connect(flags=0x03), MalformedPacket, "reserved flag", id="connect-reserved"),
    pytest.param(connect(flags=0x0A), MalformedPacket, "without a will", id="will-qos-no-will"),
    pytest.param(connect(flags=0x22), MalformedPacket, "without a will", id="will-retain-no-will"),
    pytest.param(
        connect(flags=0x1E, payload=s(b"c") + s(b"w") + s(b"x")),
        MalformedPacket,
        "will QoS 3",
        id="will-qos-3",
    ),
    pytest.param(
        connect(flags=0x16, payload=s(b"c") + s(b"w") + s(b"x")),
        UnsupportedQoS,
        "QoS 2",
        id="will-qos-2",
    ),
    pytest.param(
        connect(flags=0x06, payload=s(b"c") + s(b"w/+") + s(b"x")),
        InvalidTopic,
        "wildcard",
        id="will-topic-wildcard",
    ),
    pytest.param(
        connect(flags=0x42, payload=s(b"c") + s(b"pw")),
        MalformedPacket,
        "password without",
        id="password-no-user",
    ),
    pytest.param(
        connect(payload=s(b"c") + b"\x00"), MalformedPacket, "trailing", id="connect-trailing"
    ),
    pytest.param(
        connect(payload=b"\x00\x05c"), MalformedPacket, "overruns", id="client-id-overrun"
    ),
    pytest.param(
        connect(flags=0x82, payload=s(b"c") + s(b"\xff")),
        MalformedPacket,
        "UTF-8",
        id="username-bad-utf8",
    ),
]


@pytest.mark.parametrize(("data", "error", "reason"), CASES)
def test_malformed_input_raises(data: bytes, error: type[MqttProtocolError], reason: str) -> None:
    with pytest.raises(error, match=re.escape(reason)) as raised:
        decode_all(data)
    assert type(raised.value) is error
    assert raised.value.reason == str(raised.value)


@pytest.mark.parametrize(
    ("name", "level"),
    [
        pytest.param(b"MQIsdp", 3, id="mqtt-3.1"),
        pytest.param(b"MQTT", 5, id="mqtt-5"),
        pytest.param(b"MQTT", 3, id="mqtt-level-3"),
    ],
)
def test_other_protocol_versions_get_connack_0x01(name: bytes, level: int) -> None:
    # Only the fixed part is read: an MQTT 5 CONNECT has properties a 3.1.1 parser would
    # misread, and the answer (CONNACK 0x01) does not depend on the rest.
    with pytest.raises(UnsupportedProtocolVersion) as raised:
        decode_all(connect(name=name, level=level, payload=b"\x00"))
    assert (raised.value.protocol_name, raised.value.protocol_level) == (name.decode(), level)


def test_huge_claim_is_refused_at_the_header() -> None:
    decoder = PacketDecoder()
    decoder.feed(b"\x30")
    assert decoder.next_packet() is None
    decoder.feed(b"\xff\xff\xff\x7f")  # 256 MB announced, nothing of it sent
    with pytest.raises(PacketTooLarge):
        decoder.next_packet()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        pytest.param(100, None, id="at-limit"),
        pytest.param(101, PacketTooLarge, id="over-limit"),
    ],
)
def test_payload_limit(payload: int, error: type[Exception] | None) -> None:
    decoder = PacketDecoder(max_payload_size=100, max_packet_size=1000)
    data = publish(rest=b"\x00\x01" + b"p" * payload)
    if error is None:
        assert len(decode_all(data, decoder)) == 1
    else:
        with pytest.raises(error, match="payload over 100"):
            decode_all(data, decoder)


def test_will_payload_limit() -> None:
    decoder = PacketDecoder(max_payload_size=3)
    with pytest.raises(PacketTooLarge, match="will payload"):
        decode_all(connect(flags=0x06, payload=s(b"c") + s(b"w") + s(b"four")), decoder)


@pytest.mark.parametrize(
    ("remaining", "error"),
    [
        pytest.param(50, None, id="at-limit"),
        pytest.param(51, PacketTooLarge, id="over-limit"),
    ],
)
def test_packet_size_limit(remaining: int, error: type[Exception] | None) -> None:
    decoder = PacketDecoder(max_packet_size=50)
    data = publish(first=0x30, rest=b"p" * (remaining - 5))  # topic field is 5 bytes
    if error is None:
        assert len(decode_all(data, decoder)) == 1
    else:
        with pytest.raises(error, match="over 50"):
            decode_all(data, decoder)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_payload_size": -1}, id="negative-payload"),
        pytest.param({"max_packet_size": 1}, id="packet-too-small"),
    ],
)
def test_decoder_limits_are_checked(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        PacketDecoder(**kwargs)
