"""Retained messages: one per topic, cleared by an empty payload, found by filter."""

from __future__ import annotations

from simfleet.emulator.mqtt import QoS, RetainedMessage, RetainedStore


def msg(topic: str, payload: bytes = b"x", qos: QoS = QoS.AT_LEAST_ONCE) -> RetainedMessage:
    return RetainedMessage(topic=topic, payload=payload, qos=qos)


def test_last_message_per_topic_is_kept() -> None:
    store = RetainedStore()
    store.retain(msg("a/b", b"1"))
    store.retain(msg("a/b", b"2", QoS.AT_MOST_ONCE))
    assert len(store) == 1
    assert store.get("a/b") == msg("a/b", b"2", QoS.AT_MOST_ONCE)


def test_empty_payload_clears_the_topic() -> None:
    store = RetainedStore()
    store.retain(msg("a/b"))
    store.retain(msg("a/b", b""))
    store.retain(msg("never/set", b""))
    assert len(store) == 0
    assert store.get("a/b") is None


def test_matching_uses_filter_rules_and_topic_order() -> None:
    store = RetainedStore()
    for topic in ("b/1", "a/1", "a/2/x", "$aws/things/t/shadow"):
        store.retain(msg(topic))
    assert [m.topic for m in store.matching("a/+")] == ["a/1"]
    assert [m.topic for m in store.matching("#")] == ["a/1", "a/2/x", "b/1"]
    assert [m.topic for m in store.matching("$aws/#")] == ["$aws/things/t/shadow"]
    assert store.matching("c") == []
