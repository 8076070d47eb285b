"""Retained messages, one per topic (§3.3.1.3).

AWS IoT Core keeps retained messages (with the ``iot:RetainPublish`` policy action) and
sends the matching ones to a new subscriber. A load test retains few topics, so
``matching`` scans them all rather than keeping a second index.
"""

from __future__ import annotations

from dataclasses import dataclass

from simfleet.emulator.mqtt.packets import QoS
from simfleet.emulator.mqtt.topics import filter_matches


@dataclass(frozen=True, kw_only=True, slots=True)
class RetainedMessage:
    topic: str
    payload: bytes
    qos: QoS


class RetainedStore:
    """The last retained message of each topic."""

    def __init__(self) -> None:
        self._messages: dict[str, RetainedMessage] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def retain(self, message: RetainedMessage) -> None:
        """Keep ``message`` for its topic; an empty payload clears the topic (§3.3.1-10/11)."""
        if message.payload:
            self._messages[message.topic] = message
        else:
            self._messages.pop(message.topic, None)

    def get(self, topic: str) -> RetainedMessage | None:
        return self._messages.get(topic)

    def matching(self, topic_filter: str) -> list[RetainedMessage]:
        """The retained messages whose topic ``topic_filter`` matches, in topic order."""
        return [
            self._messages[topic]
            for topic in sorted(self._messages)
            if filter_matches(topic_filter, topic)
        ]
