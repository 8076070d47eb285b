"""A client ID's session: outbound QoS 1 state that may outlive its connection (spec §6).

A session holds the QoS 1 messages sent and not yet acknowledged (at most ``max_inflight``,
AWS's 100) and those waiting for room or for the client to come back (at most
``max_queued``). Its subscriptions live in the broker's index, keyed by the session itself.

Choices:
- iot:Receive is checked on every transmission, a redelivery included (spec §4: "every
  delivery"), with the authorizer of the connection the message goes out on; a message that
  waited in an offline queue is checked against the principal that comes back for it. A
  denied message is dropped and counted by the policy's DenialCounter.
- Unacknowledged messages are sent again, with DUP, only when a persistent session resumes:
  MQTT 3.1.1 §4.4 makes that the only required redelivery, and AWS documents no timer.
- A resumed session gets its queue as fast as its window drains: AWS's replay limit of
  10 messages/s (spec §6) is not emulated, since it would only slow a load test down.
- QoS 0 messages are never queued: one to an offline session, or to a client with more than
  ``max_write_buffer`` bytes unsent, is dropped (AWS stores QoS 1 messages only, spec §6).
- A message offered to a connected client takes a token of its publishes-per-second quota
  (spec §6, in + out) before anything else, whatever its QoS or Receive check; without one it
  is dropped (broker.py, "Quotas"). Redeliveries and the queue's drain take none.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol, TypeAlias

from simfleet.emulator.broker.config import BrokerConfig
from simfleet.emulator.broker.counters import BrokerCounters
from simfleet.emulator.broker.ports import Cancellable
from simfleet.emulator.mqtt import QoS

Message: TypeAlias = tuple[str, bytes, bool]  # topic, payload, retain flag to send


class Outlet(Protocol):
    """The live connection a session sends through."""

    def may_receive(self, topic: str) -> bool: ...

    def take_publish_token(self) -> bool: ...

    def congested(self) -> bool: ...

    def send_publish(
        self, topic: str, payload: bytes, *, packet_id: int | None, dup: bool, retain: bool
    ) -> None: ...


class Session:
    __slots__ = (
        "_config",
        "_counters",
        "_inflight",
        "_next_id",
        "_queue",
        "client_id",
        "expires_at",
        "expiry_timer",
        "outlet",
        "persistent",
        "reply_qos",
    )

    def __init__(
        self,
        client_id: str,
        *,
        persistent: bool,
        config: BrokerConfig,
        counters: BrokerCounters,
    ) -> None:
        self.client_id = client_id
        # Jobs reply topic -> the QoS this session is granted for it (None: not subscribed).
        # A device asks on a handful of reply topics thousands of times, and a full index
        # match per reply was the broker's costliest step; the broker clears this on every
        # SUBSCRIBE and UNSUBSCRIBE of the session.
        self.reply_qos: dict[str, QoS | None] = {}
        self.persistent = persistent
        self.outlet: Outlet | None = None
        self.expires_at = 0.0
        self.expiry_timer: Cancellable | None = None
        self._config = config
        self._counters = counters
        self._inflight: dict[int, Message] = {}  # in sending order
        self._queue: deque[Message] | None = None  # made on first use: most never queue
        self._next_id = 1

    def __repr__(self) -> str:
        return f"<Session {self.client_id!r} persistent={self.persistent}>"

    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    @property
    def queued_count(self) -> int:
        return 0 if self._queue is None else len(self._queue)

    def deliver(self, topic: str, payload: bytes, qos: QoS, *, retain: bool = False) -> None:
        """Send a message now if the connection and window allow, else keep it (QoS 1)."""
        outlet = self.outlet
        if outlet is not None and not outlet.take_publish_token():
            self._counters.messages_dropped += 1
            return
        if not qos:
            if outlet is None or outlet.congested():
                self._counters.messages_dropped += 1
            elif outlet.may_receive(topic):
                outlet.send_publish(topic, payload, packet_id=None, dup=False, retain=retain)
            return
        message = (topic, payload, retain)
        if (
            outlet is not None
            and not self._queue
            and len(self._inflight) < self._config.max_inflight
        ):
            self._transmit(outlet, message)
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if len(queue) >= self._config.max_queued:
            queue.popleft()
            self._counters.messages_dropped += 1
        queue.append(message)

    def acknowledge(self, packet_id: int) -> None:
        """A PUBACK from the client: free the window, then send what waited for it.

        An unknown identifier is ignored (a late PUBACK for a message already dropped)."""
        if self._inflight.pop(packet_id, None) is not None and self.outlet is not None:
            self._drain(self.outlet)

    def attach(self, outlet: Outlet) -> None:
        """Make ``outlet`` the session's connection; resend unacknowledged messages with DUP
        (MQTT-4.4.0-1), then what is queued, in order."""
        self.outlet = outlet
        for packet_id, (topic, payload, retain) in list(self._inflight.items()):
            if outlet.may_receive(topic):
                outlet.send_publish(topic, payload, packet_id=packet_id, dup=True, retain=retain)
            else:
                del self._inflight[packet_id]
        self._drain(outlet)

    def detach(self) -> None:
        self.outlet = None

    def _drain(self, outlet: Outlet) -> None:
        queue = self._queue
        limit = self._config.max_inflight
        while queue and len(self._inflight) < limit:
            self._transmit(outlet, queue.popleft())
        if queue is not None and not queue:
            self._queue = None

    def _transmit(self, outlet: Outlet, message: Message) -> None:
        topic, payload, retain = message
        if not outlet.may_receive(topic):
            return
        packet_id = self._allocate_id()
        self._inflight[packet_id] = message
        outlet.send_publish(topic, payload, packet_id=packet_id, dup=False, retain=retain)

    def _allocate_id(self) -> int:
        # At most max_inflight (<= 65535) identifiers are taken, so a free one exists.
        packet_id = self._next_id
        while packet_id in self._inflight:
            packet_id = packet_id % 0xFFFF + 1
        self._next_id = packet_id % 0xFFFF + 1
        return packet_id
