"""Incremental MQTT 3.1.1 decoder: bytes in any split, packet records out.

Usage by a driver::

    decoder.feed(data)
    while (packet := decoder.next_packet()) is not None:
        handle(packet)

``next_packet`` returns None while a packet is incomplete and raises an
``MqttProtocolError`` once the buffered bytes cannot start or finish a valid packet. The
packets before the bad one are returned first, so a driver can serve them and then close.
After an error the decoder stays failed and raises the same error again.

It decodes every packet type of AWS's profile, server-bound or not (round trips, test
clients); whether a packet may arrive in a given state is the session's business.

Choices:
- The first byte is checked as soon as it arrives and the remaining length as soon as its
  digits show it too large, so a client announcing 256 MB is refused at the header and
  nothing is buffered for it.
- QoS 2 (PUBLISH, SUBSCRIBE request, will, SUBACK grant) and the QoS 2 flow packets raise
  ``UnsupportedQoS``: AWS IoT Core closes the connection (its docs: no PUBACK/SUBACK for
  QoS 2; live reports: TLS closed on a QoS 2 SUBSCRIBE or PUBLISH, aws-iot-device-sdk-
  embedded-C PR #1941; CONNECT refused with a QoS 2 will, espMqttClient #116). We do not
  grant QoS 2 subscriptions at QoS 1.
- CONNECT for "MQTT" level 3/5 or "MQIsdp" (MQTT 3.1) raises UnsupportedProtocolVersion
  (AWS speaks 3.1.1 and 5; this emulator 3.1.1 only): answer CONNACK 0x01 (§3.1.2.2).
- DUP set on a QoS 0 PUBLISH is malformed ([MQTT-3.3.1-2] binds the sender; a peer that
  breaks it is confused about its own retransmissions).
- A non-minimal remaining length (e.g. 0x80 0x00) is accepted: 3.1.1, unlike MQTT 5, does
  not require the shortest form.
- UTF-8 strings must decode strictly (no surrogates, no overlong forms) and contain no
  U+0000 (§1.5.3); other control characters are allowed (a SHOULD NOT in §1.5.3).
- ``max_payload_size`` (AWS: 128 KiB) bounds PUBLISH and will payloads;
  ``max_packet_size`` bounds the remaining length of any packet.
"""

from __future__ import annotations

from simfleet.emulator.mqtt.bodies import BODY_DECODERS, QOS_BY_BITS, nonzero_id, utf8
from simfleet.emulator.mqtt.errors import (
    InvalidTopic,
    MalformedPacket,
    MqttProtocolError,
    PacketTooLarge,
    UnsupportedQoS,
)
from simfleet.emulator.mqtt.packets import Packet, PacketType, Publish

AWS_MAX_PAYLOAD_SIZE = 128 * 1024  # spec §6: "Payload 128 KB"
_HEADROOM = 8 * 1024  # topic, client id, credentials around a maximal payload
_REQUIRED_FLAGS = {
    PacketType.PUBREL: 0b0010,
    PacketType.SUBSCRIBE: 0b0010,
    PacketType.UNSUBSCRIBE: 0b0010,
}
_QOS2_FLOW = (PacketType.PUBREC, PacketType.PUBREL, PacketType.PUBCOMP)


def _first_byte_problem(first: int) -> MqttProtocolError | None:
    """What is wrong with a first byte, if anything (§2.2.1, §2.2.2)."""
    kind, flags = first >> 4, first & 0x0F
    if kind in (0, 15):
        return MalformedPacket(f"reserved packet type {kind}")
    packet_type = PacketType(kind)
    if packet_type is PacketType.PUBLISH:
        return _publish_flags_problem(flags)
    if flags != _REQUIRED_FLAGS.get(packet_type, 0):
        return MalformedPacket(f"reserved flags {flags:#06b} on {packet_type.name}")
    if packet_type in _QOS2_FLOW:
        return UnsupportedQoS(f"{packet_type.name} (QoS 2 flow)")
    return None


def _publish_flags_problem(flags: int) -> MqttProtocolError | None:
    """PUBLISH flags DUP, QoS, RETAIN (§3.3.1)."""
    qos = (flags >> 1) & 3
    if qos == 3:
        return MalformedPacket("PUBLISH with QoS 3")
    if qos == 2:
        return UnsupportedQoS("PUBLISH with QoS 2")
    if qos == 0 and flags & 0b1000:
        return MalformedPacket("DUP set on a QoS 0 PUBLISH")  # §3.3.1-2
    return None


# Indexed by first byte; each entry is built once and re-raised only on a fatal path.
_FIRST_BYTE_PROBLEMS = tuple(_first_byte_problem(b) for b in range(256))


class PacketDecoder:
    """Turn a byte stream from one peer into packet records."""

    __slots__ = (
        "_buf",
        "_chunks",
        "_error",
        "_max_packet",
        "_max_payload",
        "_need",
        "_pending",
        "_pos",
    )

    def __init__(
        self,
        *,
        max_payload_size: int = AWS_MAX_PAYLOAD_SIZE,
        max_packet_size: int | None = None,
    ) -> None:
        if max_payload_size < 0:
            raise ValueError("max_payload_size must be >= 0")
        if max_packet_size is None:
            max_packet_size = max_payload_size + _HEADROOM
        if max_packet_size < 2:
            raise ValueError("max_packet_size must be >= 2")
        self._max_payload = max_payload_size
        self._max_packet = max_packet_size
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._pending = 0  # bytes in _chunks
        self._need = 0  # bytes from _pos that complete the current packet, 0 if unknown
        self._error: MqttProtocolError | None = None

    def feed(self, data: bytes) -> None:
        """Buffer bytes received from the peer; decode them with ``next_packet``."""
        if data:
            self._chunks.append(data)
            self._pending += len(data)

    def next_packet(self) -> Packet | None:
        """The next complete packet, or None until more bytes are fed."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except MqttProtocolError as exc:
            self._error = exc
            raise

    def _next(self) -> Packet | None:
        while True:
            buf, pos = self._buf, self._pos
            end = len(buf)
            if end > pos:
                first = buf[pos]
                problem = _FIRST_BYTE_PROBLEMS[first]
                if problem is not None:
                    raise type(problem)(problem.reason)
                header = self._remaining_length(buf, pos, end)
                if header is not None:
                    start, length = header
                    stop = start + length
                    if stop <= end:
                        self._pos = stop
                        self._need = 0
                        if first >> 4 == PacketType.PUBLISH:
                            return self._publish(first, buf, start, stop)
                        return BODY_DECODERS[first >> 4](buf, start, stop, self._max_payload)
                    self._need = stop - pos
            if not self._absorb():
                return None

    def _absorb(self) -> bool:
        """Move fed chunks into the parse buffer once they can make progress."""
        if not self._pending:
            return False
        if self._need and len(self._buf) - self._pos + self._pending < self._need:
            return False  # wait for the whole packet instead of re-joining every chunk
        rest = self._buf[self._pos :]
        if not rest and len(self._chunks) == 1:
            self._buf = self._chunks[0]
        else:
            self._buf = rest + b"".join(self._chunks)
        self._pos = 0
        self._chunks.clear()
        self._pending = 0
        return True

    def _remaining_length(self, buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
        """(body start, remaining length), None if incomplete; raises when invalid (§2.2.3)."""
        value = 0
        for digit in range(4):
            i = pos + 1 + digit
            if i >= end:
                return None
            byte = buf[i]
            value += (byte & 0x7F) << (7 * digit)
            if value > self._max_packet:
                raise PacketTooLarge(f"remaining length over {self._max_packet} bytes")
            if byte < 0x80:
                return i + 1, value
        raise MalformedPacket("remaining length longer than 4 bytes")

    def _publish(self, first: int, buf: bytes, start: int, stop: int) -> Publish:
        # The hot path: one slice per field, no per-byte loop over the payload.
        p = start + 2
        if p > stop:
            raise MalformedPacket("PUBLISH too short for its topic length")
        p += (buf[start] << 8) | buf[start + 1]
        if p > stop:
            raise MalformedPacket("PUBLISH topic overruns the packet")
        topic = utf8(buf[start + 2 : p], "topic name")
        if not topic:
            raise InvalidTopic("empty topic name")
        if "+" in topic or "#" in topic:
            raise InvalidTopic("wildcard in topic name")
        qos = (first >> 1) & 3
        packet_id = None
        if qos:
            if p + 2 > stop:
                raise MalformedPacket("PUBLISH too short for its packet identifier")
            packet_id = nonzero_id(buf, p)
            p += 2
        if stop - p > self._max_payload:
            raise PacketTooLarge(f"payload over {self._max_payload} bytes")
        return Publish(
            topic=topic,
            payload=buf[p:stop],
            qos=QOS_BY_BITS[qos],
            retain=bool(first & 1),
            dup=bool(first & 8),
            packet_id=packet_id,
        )
