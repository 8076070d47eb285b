"""Errors of the sans-io MQTT layer.

::

    MqttError
     └── MqttProtocolError            the peer broke MQTT 3.1.1 or an AWS IoT Core limit:
          │                           log ``reason`` on one line and close the connection
          ├── MalformedPacket         bad length, flags, reserved type, UTF-8, field overrun…
          ├── InvalidTopic            topic name / filter syntax (§4.7) or AWS topic limits
          ├── PacketTooLarge          remaining length or payload over the configured limit
          ├── UnsupportedQoS          QoS 2 anywhere (AWS IoT Core closes the connection)
          └── UnsupportedProtocolVersion
                                      CONNECT for another MQTT version: answer CONNACK 0x01
                                      (unacceptable protocol version), then close (§3.1.2.2)

Every error carries ``reason``: a short, fixed-vocabulary sentence that fits the one log
line the emulator writes per offending client. Encoding a packet that cannot be represented
on the wire is a programming error and raises ``ValueError`` instead.
"""

from __future__ import annotations


class MqttError(Exception):
    """Root of the MQTT layer's errors."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MqttProtocolError(MqttError):
    """The peer violated MQTT 3.1.1 (or AWS's profile of it); close its connection."""


class MalformedPacket(MqttProtocolError):
    """Bytes that are not a well-formed MQTT 3.1.1 packet."""


class InvalidTopic(MqttProtocolError):
    """A topic name or topic filter that breaks §4.7 or the configured AWS limits."""


class PacketTooLarge(MqttProtocolError):
    """A packet or payload over the configured size limit, refused before buffering it."""


class UnsupportedQoS(MqttProtocolError):
    """QoS 2 requested: AWS IoT Core supports QoS 0 and 1 only and closes the connection."""


class UnsupportedProtocolVersion(MqttProtocolError):
    """CONNECT announced a protocol other than MQTT 3.1.1 (level 4).

    The server answers CONNACK with return code 0x01 and then closes (§3.1.2.2).
    """

    def __init__(self, reason: str, *, protocol_name: str, protocol_level: int) -> None:
        super().__init__(reason)
        self.protocol_name = protocol_name
        self.protocol_level = protocol_level
