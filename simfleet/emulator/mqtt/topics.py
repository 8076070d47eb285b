"""Topic names and topic filters: validation (MQTT 3.1.1 §4.7, AWS limits) and matching.

AWS IoT Core limits (spec §6): a topic or topic filter has at most 256 bytes and at most 7
slashes. AWS does not count the Basic Ingest prefix ``$aws/rules/<rule-name>/`` against
either limit ("excludes the first 3 mandatory segments for Basic Ingest topics"; the AWS
CRT's ``aws_mqtt5_topic_skip_aws_iot_core_uncounted_prefix`` and Greengrass's
``IotCoreTopicValidator`` skip exactly that prefix, the CRT case-insensitively). No other
``$aws`` topic is exempt, and none needs to be: the longest Jobs topic,
``$aws/things/{thing}/jobs/{jobId}/update/accepted``, has 6 slashes. The MQTT 5
``$share/<group>/`` exemption does not apply to MQTT 3.1.1. AWS states the 256-byte limit
for publish topics; we apply it to filters too, as Greengrass does.
"""

from __future__ import annotations

from dataclasses import dataclass

from simfleet.emulator.mqtt.errors import InvalidTopic

MQTT_MAX_STRING_BYTES = 65535  # §1.5.3: a UTF-8 string has a 2-byte length prefix
AWS_MAX_TOPIC_BYTES = 256
AWS_MAX_TOPIC_SLASHES = 7
_BASIC_INGEST_PREFIX = "$aws/rules/"


@dataclass(frozen=True, kw_only=True)
class TopicLimits:
    """Broker limits on topic names and filters; the defaults are AWS IoT Core's."""

    max_bytes: int = AWS_MAX_TOPIC_BYTES
    max_slashes: int = AWS_MAX_TOPIC_SLASHES
    basic_ingest_exempt: bool = True  # do not count `$aws/rules/<rule-name>/`

    def __post_init__(self) -> None:
        if not 1 <= self.max_bytes <= MQTT_MAX_STRING_BYTES:
            raise ValueError(f"max_bytes must be in 1..{MQTT_MAX_STRING_BYTES}")
        if self.max_slashes < 0:
            raise ValueError("max_slashes must be >= 0")


AWS_TOPIC_LIMITS = TopicLimits()


def validate_topic_name(topic: str, limits: TopicLimits | None = AWS_TOPIC_LIMITS) -> None:
    """Raise InvalidTopic unless ``topic`` may be published to (§4.7.3, §3.3.2.1).

    ``limits=None`` checks MQTT 3.1.1 syntax only.
    """
    _check_string(topic, "topic name")
    if "+" in topic or "#" in topic:
        raise InvalidTopic("wildcard in topic name")
    if limits is not None:
        _check_limits(topic, limits)


def validate_topic_filter(topic_filter: str, limits: TopicLimits | None = AWS_TOPIC_LIMITS) -> None:
    """Raise InvalidTopic unless ``topic_filter`` is a valid filter (§4.7.1, §4.7.3).

    ``#`` must be alone in the last level; ``+`` must be alone in its level.
    ``limits=None`` checks MQTT 3.1.1 syntax only.
    """
    _check_string(topic_filter, "topic filter")
    if "+" in topic_filter or "#" in topic_filter:
        levels = topic_filter.split("/")
        last = len(levels) - 1
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != last):
                raise InvalidTopic("'#' not alone in the last level of topic filter")
            if "+" in level and level != "+":
                raise InvalidTopic("'+' not alone in its level of topic filter")
    if limits is not None:
        _check_limits(topic_filter, limits)


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether valid ``topic_filter`` matches valid topic name ``topic`` (§4.7).

    ``#`` matches its parent level too (``a/#`` matches ``a``); ``+`` matches one level,
    empty ones included; a filter starting with a wildcard does not match a topic
    starting with ``$`` (§4.7.2).
    """
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)


def _check_string(text: str, what: str) -> None:
    if not text:
        raise InvalidTopic(f"empty {what}")  # §4.7.3: at least one character
    if "\x00" in text:
        raise InvalidTopic(f"U+0000 in {what}")  # §1.5.3
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidTopic(f"surrogate in {what}") from None  # §1.5.3: not UTF-8
    if size > MQTT_MAX_STRING_BYTES:
        raise InvalidTopic(f"{what} longer than {MQTT_MAX_STRING_BYTES} bytes")


def _check_limits(text: str, limits: TopicLimits) -> None:
    counted = _without_basic_ingest_prefix(text) if limits.basic_ingest_exempt else text
    if len(counted.encode("utf-8")) > limits.max_bytes:
        raise InvalidTopic(f"topic longer than {limits.max_bytes} bytes")
    if counted.count("/") > limits.max_slashes:
        raise InvalidTopic(f"topic has more than {limits.max_slashes} slashes")


def _without_basic_ingest_prefix(text: str) -> str:
    """``text`` less ``$aws/rules/<rule-name>/`` when it has that prefix and more after."""
    prefix_len = len(_BASIC_INGEST_PREFIX)
    if text[:prefix_len].lower() != _BASIC_INGEST_PREFIX:
        return text
    rule_end = text.find("/", prefix_len)
    if rule_end <= prefix_len or rule_end == len(text) - 1:
        return text  # no rule name, or nothing after it: not a Basic Ingest topic
    return text[rule_end + 1 :]
