"""Decoders for the bodies of every packet but PUBLISH (see ``decoder`` for the framing).

Each takes the buffer, the body's bounds and the payload limit, and returns a record or
raises an ``MqttProtocolError``; every field overrun is MalformedPacket.
"""

from __future__ import annotations

from collections.abc import Callable

from simfleet.emulator.mqtt.errors import (
    MalformedPacket,
    PacketTooLarge,
    UnsupportedProtocolVersion,
    UnsupportedQoS,
)
from simfleet.emulator.mqtt.packets import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PacketType,
    PingReq,
    PingResp,
    PubAck,
    QoS,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)
from simfleet.emulator.mqtt.topics import validate_topic_filter, validate_topic_name

QOS_BY_BITS = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE)
_SUBACK_CODES = {code.value: code for code in SubAckReturnCode}


def _connect(buf: bytes, start: int, stop: int, max_payload: int) -> Connect:
    reader = _Reader(buf, start, stop, "CONNECT")
    name = reader.string("protocol name")
    level = reader.byte("protocol level")
    if name not in ("MQTT", "MQIsdp"):
        raise MalformedPacket("CONNECT for an unknown protocol name")
    if name != "MQTT" or level != 4:
        raise UnsupportedProtocolVersion(
            f"protocol {name} level {level} is not MQTT 3.1.1",
            protocol_name=name,
            protocol_level=level,
        )
    flags = reader.byte("connect flags")
    keep_alive = reader.uint16("keep alive")
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")  # §3.1.2.3
    will_qos = (flags >> 3) & 3
    client_id = reader.string("client identifier")
    will = None
    if flags & 0x04:
        if will_qos == 3:
            raise MalformedPacket("will QoS 3")
        if will_qos == 2:
            raise UnsupportedQoS("will with QoS 2")
        will_topic = reader.string("will topic")
        validate_topic_name(will_topic, None)
        will_payload = reader.binary("will message")
        if len(will_payload) > max_payload:
            raise PacketTooLarge(f"will payload over {max_payload} bytes")
        will = Will(
            topic=will_topic,
            payload=will_payload,
            qos=QOS_BY_BITS[will_qos],
            retain=bool(flags & 0x20),
        )
    elif flags & 0x38:
        raise MalformedPacket("will QoS or retain set without a will")  # §3.1.2-11, -13
    username = reader.string("user name") if flags & 0x80 else None
    if flags & 0x40:
        if username is None:
            raise MalformedPacket("password without a user name")  # §3.1.2-22
        password: bytes | None = reader.binary("password")
    else:
        password = None
    reader.finish()
    return Connect(
        client_id=client_id,
        clean_session=bool(flags & 0x02),
        keep_alive=keep_alive,
        username=username,
        password=password,
        will=will,
    )


def _connack(buf: bytes, start: int, stop: int, max_payload: int) -> ConnAck:
    if stop - start != 2:
        raise MalformedPacket("CONNACK remaining length is not 2")
    ack_flags, code = buf[start], buf[start + 1]
    if ack_flags & 0xFE:
        raise MalformedPacket("CONNACK reserved flags set")
    if code > ConnectReturnCode.NOT_AUTHORIZED:
        raise MalformedPacket(f"CONNACK return code {code}")
    return ConnAck(session_present=bool(ack_flags), return_code=ConnectReturnCode(code))


def _puback(buf: bytes, start: int, stop: int, max_payload: int) -> PubAck:
    return PubAck(packet_id=_only_id(buf, start, stop, "PUBACK"))


def _unsuback(buf: bytes, start: int, stop: int, max_payload: int) -> UnsubAck:
    return UnsubAck(packet_id=_only_id(buf, start, stop, "UNSUBACK"))


def _subscribe(buf: bytes, start: int, stop: int, max_payload: int) -> Subscribe:
    reader = _Reader(buf, start, stop, "SUBSCRIBE")
    packet_id = reader.packet_id()
    topics: list[tuple[str, QoS]] = []
    while not reader.at_end():
        topic_filter = reader.string("topic filter")
        validate_topic_filter(topic_filter, None)
        requested = reader.byte("requested QoS")
        if requested > 2:
            raise MalformedPacket(f"SUBSCRIBE requested QoS byte {requested:#04x}")
        if requested == 2:
            raise UnsupportedQoS("SUBSCRIBE with QoS 2")
        topics.append((topic_filter, QOS_BY_BITS[requested]))
    if not topics:
        raise MalformedPacket("SUBSCRIBE without topic filters")  # §3.8.3-3
    return Subscribe(packet_id=packet_id, topics=tuple(topics))


def _suback(buf: bytes, start: int, stop: int, max_payload: int) -> SubAck:
    reader = _Reader(buf, start, stop, "SUBACK")
    packet_id = reader.packet_id()
    codes: list[SubAckReturnCode] = []
    while not reader.at_end():
        code = reader.byte("return code")
        if code == 2:
            raise UnsupportedQoS("SUBACK granting QoS 2")
        if code not in _SUBACK_CODES:
            raise MalformedPacket(f"SUBACK return code {code:#04x}")
        codes.append(_SUBACK_CODES[code])
    if not codes:
        raise MalformedPacket("SUBACK without return codes")
    return SubAck(packet_id=packet_id, return_codes=tuple(codes))


def _unsubscribe(buf: bytes, start: int, stop: int, max_payload: int) -> Unsubscribe:
    reader = _Reader(buf, start, stop, "UNSUBSCRIBE")
    packet_id = reader.packet_id()
    filters: list[str] = []
    while not reader.at_end():
        topic_filter = reader.string("topic filter")
        validate_topic_filter(topic_filter, None)
        filters.append(topic_filter)
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without topic filters")  # §3.10.3-2
    return Unsubscribe(packet_id=packet_id, topic_filters=tuple(filters))


def _pingreq(buf: bytes, start: int, stop: int, max_payload: int) -> PingReq:
    _empty(start, stop, "PINGREQ")
    return PingReq()


def _pingresp(buf: bytes, start: int, stop: int, max_payload: int) -> PingResp:
    _empty(start, stop, "PINGRESP")
    return PingResp()


def _disconnect(buf: bytes, start: int, stop: int, max_payload: int) -> Disconnect:
    _empty(start, stop, "DISCONNECT")
    return Disconnect()


BODY_DECODERS: dict[int, Callable[[bytes, int, int, int], Packet]] = {
    PacketType.CONNECT: _connect,
    PacketType.CONNACK: _connack,
    PacketType.PUBACK: _puback,
    PacketType.SUBSCRIBE: _subscribe,
    PacketType.SUBACK: _suback,
    PacketType.UNSUBSCRIBE: _unsubscribe,
    PacketType.UNSUBACK: _unsuback,
    PacketType.PINGREQ: _pingreq,
    PacketType.PINGRESP: _pingresp,
    PacketType.DISCONNECT: _disconnect,
}


class _Reader:
    """Sequential field reader over one packet body; every overrun is MalformedPacket."""

    __slots__ = ("_buf", "_packet", "_pos", "_stop")

    def __init__(self, buf: bytes, start: int, stop: int, packet: str) -> None:
        self._buf = buf
        self._pos = start
        self._stop = stop
        self._packet = packet

    def at_end(self) -> bool:
        return self._pos >= self._stop

    def finish(self) -> None:
        if self._pos != self._stop:
            raise MalformedPacket(f"{self._packet} has trailing bytes")

    def byte(self, field: str) -> int:
        self._want(1, field)
        self._pos += 1
        return self._buf[self._pos - 1]

    def uint16(self, field: str) -> int:
        self._want(2, field)
        self._pos += 2
        return (self._buf[self._pos - 2] << 8) | self._buf[self._pos - 1]

    def packet_id(self) -> int:
        self._want(2, "packet identifier")
        self._pos += 2
        return nonzero_id(self._buf, self._pos - 2)

    def binary(self, field: str) -> bytes:
        size = self.uint16(f"{field} length")
        self._want(size, field)
        self._pos += size
        return self._buf[self._pos - size : self._pos]

    def string(self, field: str) -> str:
        return utf8(self.binary(field), field)

    def _want(self, size: int, field: str) -> None:
        if self._pos + size > self._stop:
            raise MalformedPacket(f"{self._packet} {field} overruns the packet")


def utf8(data: bytes, field: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket(f"{field} is not valid UTF-8") from None
    if "\x00" in text:
        raise MalformedPacket(f"{field} contains U+0000")
    return text


def nonzero_id(buf: bytes, pos: int) -> int:
    packet_id = (buf[pos] << 8) | buf[pos + 1]
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")  # §2.3.1-1
    return packet_id


def _only_id(buf: bytes, start: int, stop: int, packet: str) -> int:
    if stop - start != 2:
        raise MalformedPacket(f"{packet} remaining length is not 2")
    return nonzero_id(buf, start)


def _empty(start: int, stop: int, packet: str) -> None:
    if stop != start:
        raise MalformedPacket(f"{packet} remaining length is not 0")
