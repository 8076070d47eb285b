"""One client connection: bytes in, packets dispatched to the broker, packets out.

States: AWAITING_CONNECT until an accepted CONNECT (the only packet allowed first, and only
once, MQTT-3.1.0-1/2), then CONNECTED, then CLOSED for good. A protocol error, a timeout or
a policy denial closes the connection; the broker then ignores anything still arriving.

Timers come from the broker's scheduler and decisions from its clock: a timer that fires
early (the clock says the deadline has not passed) re-arms itself for the rest, so that a
busy connection costs one timer per keep-alive period rather than one per packet.

Quotas: ``publish_quota`` (set at CONNECT when the broker has quotas) is the connection's
publishes-per-second bucket, in and out; a packet over the payload limit is counted as the
payload-size quota.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simfleet.emulator.broker.ports import Cancellable, ClientTransport
from simfleet.emulator.broker.session import Session
from simfleet.emulator.mqtt import (
    Connect,
    Disconnect,
    MqttProtocolError,
    PacketDecoder,
    PacketTooLarge,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    QoS,
    Subscribe,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    encode,
)
from simfleet.emulator.policy import Authorizer
from simfleet.emulator.quotas import Quota, TokenBucket

if TYPE_CHECKING:
    from simfleet.emulator.broker.broker import Broker

_PINGRESP = encode(PingResp())


class ConnectionState(enum.Enum):
    AWAITING_CONNECT = "awaiting-connect"
    CONNECTED = "connected"
    CLOSED = "closed"


class MqttConnection:
    """Made by ``Broker.open_connection`` when a client's TCP connection is accepted."""

    __slots__ = (
        "_broker",
        "_decoder",
        "_handlers",
        "_idle_limit",
        "_last_seen",
        "_timer",
        "authorizer",
        "certificate_id",
        "client_id",
        "publish_quota",
        "session",
        "state",
        "transport",
        "will",
    )

    def __init__(self, broker: Broker, transport: ClientTransport) -> None:
        self._broker = broker
        self.transport = transport
        self.state = ConnectionState.AWAITING_CONNECT
        self._decoder = PacketDecoder(max_payload_size=broker.config.max_payload_size)
        self.client_id: str | None = None
        self.certificate_id: str | None = None  # set at an accepted CONNECT
        self.session: Session | None = None
        self.authorizer: Authorizer | None = None
        self.will: Will | None = None
        self.publish_quota: TokenBucket | None = None
        self._idle_limit = 0.0
        self._last_seen = 0.0
        self._timer: Cancellable | None = broker.scheduler.call_later(
            broker.config.connect_timeout, self._connect_timed_out
        )

    def __repr__(self) -> str:
        return f"<MqttConnection {self.client_id!r} {self.state.value}>"

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    @property
    def label(self) -> str:
        """Who this is, for the one log line a misbehaving client gets."""
        return f"client {self.client_id or '-'} from {self.transport.peer_address() or '-'}"

    # -- from the transport ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.state is ConnectionState.CLOSED:
            return
        decoder = self._decoder
        decoder.feed(data)
        broker = self._broker
        try:
            packet = decoder.next_packet()
            if packet is None:
                return
            self._last_seen = broker.clock.now()
            while packet is not None:
                handler = _HANDLERS.get(type(packet))
                if handler is None:
                    broker.protocol_error(self, f"unexpected {type(packet).__name__} from a client")
                    return
                handler(self, packet)
                if self.closed:
                    return
                packet = decoder.next_packet()
        except UnsupportedProtocolVersion as exc:
            broker.refuse_version(self, exc)
        except PacketTooLarge as exc:
            broker.quota_exceeded(self, Quota.PAYLOAD_SIZE, exc.reason)
        except MqttProtocolError as exc:
            broker.protocol_error(self, exc.reason)
        except Exception as exc:  # contain our own bug to this one connection
            broker.internal_error(self, exc)

    def connection_lost(self) -> None:
        """The network connection ended, whoever ended it."""
        self._broker.connection_lost(self)

    # -- to the client ---------------------------------------------------------------------

    def may_receive(self, topic: str) -> bool:
        authorizer = self.authorizer
        return authorizer is not None and authorizer.can_receive(topic)

    def take_publish_token(self) -> bool:
        """Room for one more PUBLISH, in or out, in this connection's publishes-per-second
        quota (always, with the quota off); a PUBLISH without room is counted."""
        bucket = self.publish_quota
        broker = self._broker
        if bucket is None or bucket.take(broker.clock.now()):
            return True
        if broker.quotas is not None:
            broker.quotas.exceeded(Quota.PUBLISHES_PER_CONNECTION)
        return False

    def congested(self) -> bool:
        return self.transport.write_buffer_size() > self._broker.config.max_write_buffer

    def send_publish(
        self, topic: str, payload: bytes, *, packet_id: int | None, dup: bool, retain: bool
    ) -> None:
        qos = QoS.AT_MOST_ONCE if packet_id is None else QoS.AT_LEAST_ONCE
        self.transport.write(
            encode(
                Publish(
                    topic=topic,
                    payload=payload,
                    qos=qos,
                    retain=retain,
                    dup=dup,
                    packet_id=packet_id,
                )
            )
        )
        self._broker.counters.messages_out += 1

    # -- lifecycle, driven by the broker ---------------------------------------------------

    def start_keep_alive(self, seconds: float) -> None:
        """CONNECT accepted: from now on, close after ``seconds`` without a packet."""
        self.state = ConnectionState.CONNECTED
        self._cancel_timer()
        self._idle_limit = seconds
        self._timer = self._broker.scheduler.call_later(seconds, self._check_idle)

    def shut(self) -> None:
        """Stop for good: no timer, no more input, transport closing."""
        if self.state is ConnectionState.CLOSED:
            return
        self.state = ConnectionState.CLOSED
        self._cancel_timer()
        self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _connect_timed_out(self) -> None:
        self._timer = None
        if self.state is ConnectionState.AWAITING_CONNECT:
            self._broker.connect_timed_out(self)

    def _check_idle(self) -> None:
        self._timer = None
        if self.state is not ConnectionState.CONNECTED:
            return
        broker = self._broker
        left = self._last_seen + self._idle_limit - broker.clock.now()
        if left > 0:
            self._timer = broker.scheduler.call_later(left, self._check_idle)
        else:
            broker.keep_alive_expired(self)

    # -- packets -----------------------------------------------------------------------------

    def _on_connect(self, packet: Connect) -> None:
        if self.state is not ConnectionState.AWAITING_CONNECT:
            self._broker.protocol_error(self, "second CONNECT")  # MQTT-3.1.0-2
        else:
            self._broker.on_connect(self, packet)

    def _on_publish(self, packet: Publish) -> None:
        if self._require_connected("PUBLISH"):
            self._broker.on_publish(self, packet)

    def _on_puback(self, packet: PubAck) -> None:
        if self._require_connected("PUBACK") and self.session is not None:
            self.session.acknowledge(packet.packet_id)

    def _on_subscribe(self, packet: Subscribe) -> None:
        if self._require_connected("SUBSCRIBE"):
            self._broker.on_subscribe(self, packet)

    def _on_unsubscribe(self, packet: Unsubscribe) -> None:
        if self._require_connected("UNSUBSCRIBE"):
            self._broker.on_unsubscribe(self, packet)

    def _on_pingreq(self, packet: PingReq) -> None:
        if self._require_connected("PINGREQ"):
            self.transport.write(_PINGRESP)

    def _on_disconnect(self, packet: Disconnect) -> None:
        if self._require_connected("DISCONNECT"):
            self.will = None  # MQTT-3.14.4-3: a clean DISCONNECT discards the will
            self._broker.disconnect(self)

    def _require_connected(self, what: str) -> bool:
        if self.state is ConnectionState.CONNECTED:
            return True
        self._broker.protocol_error(self, f"{what} before CONNECT")  # MQTT-3.1.0-1
        return False


_HANDLERS: dict[type[Any], Callable[[MqttConnection, Any], None]] = {
    Connect: MqttConnection._on_connect,
    Publish: MqttConnection._on_publish,
    PubAck: MqttConnection._on_puback,
    Subscribe: MqttConnection._on_subscribe,
    Unsubscribe: MqttConnection._on_unsubscribe,
    PingReq: MqttConnection._on_pingreq,
    Disconnect: MqttConnection._on_disconnect,
}
