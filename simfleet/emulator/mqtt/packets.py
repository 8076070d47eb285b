"""MQTT 3.1.1 control packets as frozen records, in AWS IoT Core's profile of the protocol.

AWS IoT Core supports QoS 0 and 1 only (spec §6; AWS "differences from the MQTT
specification"), so ``QoS`` has no member 2 and the QoS 2 flow packets (PUBREC, PUBREL,
PUBCOMP) have no record: the decoder refuses them with ``UnsupportedQoS``.

The records hold plain data. The decoder only builds valid ones; ``encode`` refuses the
ones it cannot put on the wire faithfully. Sequences are tuples so that records stay
hashable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class QoS(IntEnum):
    """Quality of service levels AWS IoT Core supports (spec §6)."""

    AT_MOST_ONCE = 0
    AT_LEAST_ONCE = 1


class PacketType(IntEnum):
    """The control packet type in the high nibble of the first byte (§2.2.1)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnectReturnCode(IntEnum):
    """CONNACK return codes (§3.2.2.3)."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


class SubAckReturnCode(IntEnum):
    """SUBACK return codes (§3.9.3); no QoS 2 grant in AWS's profile."""

    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    FAILURE = 0x80


@dataclass(frozen=True, kw_only=True, slots=True)
class Will:
    """The will message of a CONNECT (§3.1.2.5)."""

    topic: str
    payload: bytes
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Connect:
    """CONNECT for protocol "MQTT" level 4; other versions raise UnsupportedProtocolVersion."""

    client_id: str
    clean_session: bool = True
    keep_alive: int = 0
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnAck:
    session_present: bool = False
    return_code: ConnectReturnCode = ConnectReturnCode.ACCEPTED


@dataclass(frozen=True, kw_only=True, slots=True)
class Publish:
    """PUBLISH; ``packet_id`` is None exactly when ``qos`` is 0 (§3.3.2.2)."""

    topic: str
    payload: bytes
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PubAck:
    packet_id: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Subscribe:
    """SUBSCRIBE: at least one (topic filter, requested QoS) pair (§3.8.3)."""

    packet_id: int
    topics: tuple[tuple[str, QoS], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class SubAck:
    """SUBACK: one return code per filter of the SUBSCRIBE, in order (§3.9.3)."""

    packet_id: int
    return_codes: tuple[SubAckReturnCode, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Unsubscribe:
    packet_id: int
    topic_filters: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class UnsubAck:
    packet_id: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PingReq:
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class PingResp:
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class Disconnect:
    pass


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
)
