"""Subscription index: a trie over topic levels, so routing never scans all subscriptions.

``match(topic)`` visits, per topic level, only the exact child and the ``+`` child of the
nodes reached so far, and collects the ``#`` children on the way: its cost grows with the
topic's depth and the number of matching filters, not with the number of subscriptions.

Overlapping subscriptions (§3.3.5): a subscriber whose several filters match a topic gets
one delivery at the maximum QoS of those filters. MQTT-3.3.5-1 requires the maximum; the
extra copy per filter is a MAY we do not take. What AWS IoT Core does here is not
documented [U].
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from simfleet.emulator.mqtt.packets import QoS

K = TypeVar("K", bound=Hashable)


class _Node(Generic[K]):
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K]] = {}
        self.subscribers: dict[K, QoS] = {}  # keys whose filter ends at this node


class SubscriptionIndex(Generic[K]):
    """Topic filters mapped to subscribers (opaque hashable keys) with their granted QoS.

    Filters must be valid (``topics.validate_topic_filter``); topics passed to ``match``
    must be valid topic names. One subscriber has at most one entry per filter: adding the
    same filter again replaces its QoS (§3.8.4).
    """

    def __init__(self) -> None:
        self._root: _Node[K] = _Node()
        self._filters: dict[K, dict[str, QoS]] = {}
        self._count = 0

    def __len__(self) -> int:
        """The number of (filter, subscriber) subscriptions."""
        return self._count

    def add(self, topic_filter: str, key: K, qos: QoS) -> bool:
        """Subscribe ``key`` to ``topic_filter``; True if new, False if its QoS was replaced."""
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        is_new = key not in node.subscribers
        node.subscribers[key] = qos
        self._filters.setdefault(key, {})[topic_filter] = qos
        if is_new:
            self._count += 1
        return is_new

    def remove(self, topic_filter: str, key: K) -> bool:
        """Unsubscribe ``key`` from ``topic_filter``; False if it was not subscribed."""
        filters = self._filters.get(key)
        if filters is None or topic_filter not in filters:
            return False
        del filters[topic_filter]
        if not filters:
            del self._filters[key]
        path = [self._root]
        levels = topic_filter.split("/")
        for level in levels:
            path.append(path[-1].children[level])
        del path[-1].subscribers[key]
        self._count -= 1
        # Prune the nodes left empty, deepest first, so the trie does not grow forever.
        for depth in range(len(levels), 0, -1):
            node = path[depth]
            if node.subscribers or node.children:
                break
            del path[depth - 1].children[levels[depth - 1]]
        return True

    def remove_all(self, key: K) -> int:
        """Drop every subscription of ``key``; the number removed."""
        filters = list(self._filters.get(key, ()))
        for topic_filter in filters:
            self.remove(topic_filter, key)
        return len(filters)

    def filters_of(self, key: K) -> dict[str, QoS]:
        """A copy of ``key``'s subscriptions: filter to granted QoS."""
        return dict(self._filters.get(key, {}))

    def match(self, topic: str) -> dict[K, QoS]:
        """Every subscriber with a filter matching ``topic``, at its maximum granted QoS."""
        levels = topic.split("/")
        depth = len(levels)
        found: dict[K, QoS] = {}
        if topic.startswith("$"):
            # §4.7.2: filters starting with a wildcard do not match `$` topics, so skip
            # the root's `+` and `#` children and start below the literal first level.
            first = self._root.children.get(levels[0])
            if first is None:
                return found
            stack = [(first, 1)]
        else:
            stack = [(self._root, 0)]
        while stack:
            node, i = stack.pop()
            children = node.children
            multi = children.get("#")
            if multi is not None:  # `#` also matches the parent level (§4.7.1.2)
                _merge(found, multi.subscribers)
            if i == depth:
                _merge(found, node.subscribers)
                continue
            child = children.get(levels[i])
            if child is not None:
                stack.append((child, i + 1))
            child = children.get("+")
            if child is not None:
                stack.append((child, i + 1))
        return found


def _merge(found: dict[K, QoS], subscribers: dict[K, QoS]) -> None:
    if not found:
        found.update(subscribers)
        return
    for key, qos in subscribers.items():
        previous = found.get(key)
        if previous is None or qos > previous:
            found[key] = qos
