"""The package's public API is exactly what ``__all__`` promises."""

from __future__ import annotations

from simfleet.emulator import mqtt

EXPECTED = {
    # codec
    "encode",
    "PacketDecoder",
    "AWS_MAX_PAYLOAD_SIZE",
    # packets
    "Packet",
    "PacketType",
    "QoS",
    "ConnectReturnCode",
    "SubAckReturnCode",
    "Will",
    "Connect",
    "ConnAck",
    "Publish",
    "PubAck",
    "Subscribe",
    "SubAck",
    "Unsubscribe",
    "UnsubAck",
    "PingReq",
    "PingResp",
    "Disconnect",
    # errors
    "MqttError",
    "MqttProtocolError",
    "MalformedPacket",
    "InvalidTopic",
    "PacketTooLarge",
    "UnsupportedQoS",
    "UnsupportedProtocolVersion",
    # topics, routing, retained messages
    "TopicLimits",
    "AWS_TOPIC_LIMITS",
    "validate_topic_name",
    "validate_topic_filter",
    "filter_matches",
    "SubscriptionIndex",
    "RetainedMessage",
    "RetainedStore",
}


def test_all_is_the_curated_api() -> None:
    assert set(mqtt.__all__) == EXPECTED
    for name in mqtt.__all__:
        assert getattr(mqtt, name) is not None


def test_errors_form_one_tree() -> None:
    for name in ("MalformedPacket", "InvalidTopic", "PacketTooLarge", "UnsupportedQoS"):
        assert issubclass(getattr(mqtt, name), mqtt.MqttProtocolError)
    assert issubclass(mqtt.UnsupportedProtocolVersion, mqtt.MqttProtocolError)
    assert issubclass(mqtt.MqttProtocolError, mqtt.MqttError)
