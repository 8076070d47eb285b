"""Encode MQTT 3.1.1 packet records to bytes.

``encode`` checks what the wire format needs (packet identifiers in 1..65535, a packet
identifier exactly on QoS 1 publishes, string and remaining-length bounds, non-empty
lists) and raises ValueError otherwise: handing it a bad record is a bug in our code, not
in the peer's. Topic syntax is not re-checked here: the server only sends topics it has
decoded or built from validated parts, and PUBLISH encoding is on the hot path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from simfleet.emulator.mqtt.packets import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)

MAX_REMAINING_LENGTH = 268_435_455  # §2.2.3: four 7-bit digits
_MAX_STRING = 65535
_HEADER_ID = struct.Struct(">BBH")  # first byte, remaining length 2, packet identifier
_PROTOCOL = b"\x00\x04MQTT\x04"  # §3.1.2.1-2: protocol name "MQTT", level 4


def encode(packet: Packet) -> bytes:
    """The wire bytes of ``packet``; ValueError if it cannot be encoded faithfully."""
    encoder = _ENCODERS.get(type(packet))
    if encoder is None:
        raise TypeError(f"not an MQTT packet: {packet!r}")
    return encoder(packet)


def encode_remaining_length(length: int) -> bytes:
    """The variable-length encoding of ``length`` (§2.2.3), minimal form."""
    if length < 0x80:
        return bytes((length,))
    if length > MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {length} over {MAX_REMAINING_LENGTH}")
    out = bytearray()
    while True:
        digit = length & 0x7F
        length >>= 7
        if length:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _encode_publish(packet: Publish) -> bytes:
    topic = packet.topic.encode("utf-8")
    topic_len = len(topic)
    if topic_len > _MAX_STRING:
        raise ValueError("topic longer than 65535 bytes")
    first = 0x30 | (packet.dup << 3) | (packet.qos << 1) | packet.retain
    packet_id = packet.packet_id
    if packet.qos:
        if packet_id is None or not 0 < packet_id <= 0xFFFF:
            raise ValueError("a QoS 1 PUBLISH needs a packet identifier in 1..65535")
        length = topic_len + 4 + len(packet.payload)
        head = topic_len.to_bytes(2, "big") + topic + packet_id.to_bytes(2, "big")
    else:
        if packet_id is not None:
            raise ValueError("a QoS 0 PUBLISH has no packet identifier (§2.3.1)")
        if packet.dup:
            raise ValueError("DUP must be 0 on a QoS 0 PUBLISH (§3.3.1.1)")
        length = topic_len + 2 + len(packet.payload)
        head = topic_len.to_bytes(2, "big") + topic
    if length < 0x80:
        return bytes((first, length)) + head + packet.payload
    return b"".join((bytes((first,)), encode_remaining_length(length), head, packet.payload))


def _encode_subscribe(packet: Subscribe) -> bytes:
    if not packet.topics:
        raise ValueError("SUBSCRIBE needs at least one topic filter (§3.8.3)")
    parts = [_packet_id(packet.packet_id).to_bytes(2, "big")]
    for topic_filter, qos in packet.topics:
        parts.append(_string(topic_filter))
        parts.append(bytes((qos,)))
    return _frame(0x82, b"".join(parts))


def _encode_connect(packet: Connect) -> bytes:
    if not 0 <= packet.keep_alive <= 0xFFFF:
        raise ValueError("keep_alive must be in 0..65535")
    if packet.password is not None and packet.username is None:
        raise ValueError("a password needs a username in MQTT 3.1.1 (§3.1.2.9)")
    flags = int(packet.clean_session) << 1
    payload = [_string(packet.client_id)]
    will = packet.will
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (int(will.retain) << 5)
        payload.append(_string(will.topic))
        payload.append(_binary(will.payload))
    if packet.username is not None:
        flags |= 0x80
        payload.append(_string(packet.username))
    if packet.password is not None:
        flags |= 0x40
        payload.append(_binary(packet.password))
    header = _PROTOCOL + bytes((flags,)) + packet.keep_alive.to_bytes(2, "big")
    return _frame(0x10, header + b"".join(payload))


def _frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_remaining_length(len(body)) + body


def _packet_id(packet_id: int) -> int:
    if not 0 < packet_id <= 0xFFFF:
        raise ValueError(f"packet identifier {packet_id} not in 1..65535 (§2.3.1)")
    return packet_id


def _string(text: str) -> bytes:
    return _binary(text.encode("utf-8"))


def _binary(data: bytes) -> bytes:
    if len(data) > _MAX_STRING:
        raise ValueError("string or binary field longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def _encode_puback(packet: PubAck) -> bytes:
    return _HEADER_ID.pack(0x40, 2, _packet_id(packet.packet_id))


def _encode_suback(packet: SubAck) -> bytes:
    if not packet.return_codes:
        raise ValueError("SUBACK needs at least one return code")
    body = _packet_id(packet.packet_id).to_bytes(2, "big") + bytes(packet.return_codes)
    return _frame(0x90, body)


def _encode_unsubscribe(packet: Unsubscribe) -> bytes:
    if not packet.topic_filters:
        raise ValueError("UNSUBSCRIBE needs at least one topic filter (§3.10.3)")
    parts = [_packet_id(packet.packet_id).to_bytes(2, "big")]
    parts.extend(_string(f) for f in packet.topic_filters)
    return _frame(0xA2, b"".join(parts))


def _encode_unsuback(packet: UnsubAck) -> bytes:
    return _HEADER_ID.pack(0xB0, 2, _packet_id(packet.packet_id))


def _encode_connack(packet: ConnAck) -> bytes:
    if packet.session_present and packet.return_code is not ConnectReturnCode.ACCEPTED:
        raise ValueError("session_present must be 0 on a refused CONNACK (§3.2.2.2)")
    return bytes((0x20, 2, int(packet.session_present), packet.return_code))


# Keyed by exact record type: one dict lookup instead of a chain of isinstance checks.
_ENCODERS: dict[type[Any], Callable[[Any], bytes]] = {
    Publish: _encode_publish,
    PubAck: _encode_puback,
    Subscribe: _encode_subscribe,
    SubAck: _encode_suback,
    Unsubscribe: _encode_unsubscribe,
    UnsubAck: _encode_unsuback,
    Connect: _encode_connect,
    ConnAck: _encode_connack,
    PingReq: lambda _: b"\xc0\x00",
    PingResp: lambda _: b"\xd0\x00",
    Disconnect: lambda _: b"\xe0\x00",
}
