"""Sans-io MQTT 3.1.1 for the emulator, in AWS IoT Core's profile (QoS 0 and 1).

- ``packets``: frozen packet records and enums.
- ``encode`` / ``PacketDecoder``: bytes out, bytes in (any split), strict validation.
- ``topics``: topic name and filter validation (§4.7 and AWS limits), ``filter_matches``.
- ``SubscriptionIndex``: trie routing; ``RetainedStore``: retained messages.

No sockets, threads, asyncio or clocks here: the server driver moves the bytes.
"""

from simfleet.emulator.mqtt.decoder import AWS_MAX_PAYLOAD_SIZE, PacketDecoder
from simfleet.emulator.mqtt.encoder import encode
from simfleet.emulator.mqtt.errors import (
    InvalidTopic,
    MalformedPacket,
    MqttError,
    MqttProtocolError,
    PacketTooLarge,
    UnsupportedProtocolVersion,
    UnsupportedQoS,
)
from simfleet.emulator.mqtt.index import SubscriptionIndex
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
    Publish,
    QoS,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)
from simfleet.emulator.mqtt.retained import RetainedMessage, RetainedStore
from simfleet.emulator.mqtt.topics import (
    AWS_TOPIC_LIMITS,
    TopicLimits,
    filter_matches,
    validate_topic_filter,
    validate_topic_name,
)

__all__ = [
    "AWS_MAX_PAYLOAD_SIZE",
    "AWS_TOPIC_LIMITS",
    "ConnAck",
    "Connect",
    "ConnectReturnCode",
    "Disconnect",
    "InvalidTopic",
    "MalformedPacket",
    "MqttError",
    "MqttProtocolError",
    "Packet",
    "PacketDecoder",
    "PacketTooLarge",
    "PacketType",
    "PingReq",
    "PingResp",
    "PubAck",
    "Publish",
    "QoS",
    "RetainedMessage",
    "RetainedStore",
    "SubAck",
    "SubAckReturnCode",
    "Subscribe",
    "SubscriptionIndex",
    "TopicLimits",
    "UnsubAck",
    "Unsubscribe",
    "UnsupportedProtocolVersion",
    "UnsupportedQoS",
    "Will",
    "encode",
    "filter_matches",
    "validate_topic_filter",
    "validate_topic_name",
]
