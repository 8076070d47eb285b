"""`MqttTransport`: a device's Jobs API over MQTT (spec §1.1) with paho-mqtt, under gevent.

    call(request) ─▶ JobsClient.send ─▶ paho publish, QoS 1 ─────────────────▶ endpoint
                                                                                 │
    waiter ◀── JobsClient.receive (clientToken) ◀── on_message ◀── SocketDriver ◀┘
      │                                                            (hub watchers)
      └─▶ one RequestReport, from the caller's greenlet

One device is one MQTT 3.1.1 connection with its own TLS context (`simfleet.device.tls`):
client ID = thing name, SNI = the host name (AWS requires SNI, spec §5), TCP_NODELAY, clean
session, keep-alive (60 s by default), ALPN `x-amzn-mqtt-ca` on port 443 or when asked (spec
§5), and optionally the last TLS session offered again on reconnect. `SocketDriver`
(`mqtt_loop.py`) moves the bytes; nothing here calls select() or starts a thread.

Choices:
- A new paho `Client` per connection: paho re-sends unacknowledged QoS 1 publishes after a
  reconnect, and a Jobs request from before a drop must fail with the connection
  (ConnectionLost) rather than be applied later behind the agent's back. A fresh client also
  leaves no state of the old connection behind.
- Subscriptions (QoS 1, one SUBSCRIBE, one `subscribe` row): `notify-next` and the accepted /
  rejected topics of the four requests, i.e. `JobsClient.subscriptions()` without `notify`,
  which no workflow reads (docs/devices.md); AWS sends replies to the requester whether or not
  it subscribed (spec §1.1), and the subscriptions set their QoS.
- notify-next messages queue in arrival order until `next_notification` takes them; the queue
  is emptied by `connect`, as a new connection starts from what the service says then.
- Replies are timed from the publish to their arrival in the hub (not to the caller's wake-up).
"""

from __future__ import annotations

import enum
import math
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import gevent  # type: ignore[import-untyped]
import paho.mqtt.client as mqtt
from gevent.event import AsyncResult, Event  # type: ignore[import-untyped]
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from simfleet.device.errors import (
    ConnectFailed,
    ConnectionLost,
    DeviceError,
    JobsRejected,
    RequestTimedOut,
)
from simfleet.device.mqtt_config import LastWill, MqttConfig
from simfleet.device.mqtt_loop import SocketDriver
from simfleet.device.reports import (
    CONNECT,
    DISCONNECT,
    MQTT,
    SUBSCRIBE,
    Reporter,
    RequestReport,
    request_name,
)
from simfleet.device.tls import MQTT_ALPN, DeviceSSLContext, connect_failure_reason
from simfleet.jobs import JobsClient, JobsProtocolError, JobsRequest, NotifyNext, Rejected
from simfleet.jobs.client import ReplyReceived
from simfleet.jobs.responses import Accepted

__all__ = ["ConnectionState", "LastWill", "MqttConfig", "MqttTransport"]

# A DISCONNECT the socket could not take at once gets this long before the socket is closed.
DISCONNECT_FLUSH_TIMEOUT: Final = 1.0

_TIMEOUT: Final = "timeout"
# MQTT 3.1.1 §3.2.2.3, by the names paho gives the refusals in its MQTT 5 vocabulary.
_CONNACK_REFUSALS: Final = {
    "Unsupported protocol version": "CONNACK 1 unacceptable protocol version",
    "Client identifier not valid": "CONNACK 2 identifier rejected",
    "Server unavailable": "CONNACK 3 server unavailable",
    "Bad user name or password": "CONNACK 4 bad user name or password",
    "Not authorized": "CONNACK 5 not authorized",
}
_LOSSES: Final = {"Keep alive timeout": "keep-alive timeout", "Protocol error": "protocol error"}


class ConnectionState(enum.Enum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    SUBSCRIBING = "subscribing"
    ONLINE = "online"
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class _Reply:
    event: ReplyReceived
    size: int
    at: float  # time.monotonic() at arrival


_CLOSED: Final = "closed"  # a waiter's value when the connection ended under it


class MqttTransport:
    """A device's `JobsTransport` over MQTT; see the module docstring."""

    __slots__ = (
        "_client",
        "_config",
        "_context",
        "_driver",
        "_handshake",
        "_jobs",
        "_labels",
        "_lost",
        "_notices",
        "_notified",
        "_report",
        "_state",
        "_waiters",
    )

    protocol: Final = MQTT
    pushes_notifications: Final = True

    def __init__(
        self,
        thing_name: str,
        *,
        config: MqttConfig,
        ssl_context: DeviceSSLContext,
        report: Reporter,
    ) -> None:
        self._jobs = JobsClient(thing_name)  # checks the thing name
        self._config = config
        self._context = ssl_context
        if config.offers_alpn:
            ssl_context.set_alpn_protocols([MQTT_ALPN])
        self._report = report
        self._labels: Mapping[str, str] = MappingProxyType({"thing_name": thing_name})
        self._state = ConnectionState.OFFLINE
        self._lost = "not connected"
        self._client: mqtt.Client | None = None
        self._driver: SocketDriver | None = None
        self._handshake: Any = None  # AsyncResult of the CONNACK or SUBACK awaited
        self._waiters: dict[str, Any] = {}  # clientToken -> AsyncResult of its reply
        self._notices: list[NotifyNext] = []
        self._notified: Any = None  # Event, made when a caller first waits for a notice

    @property
    def thing_name(self) -> str:
        return self._jobs.thing_name

    @property
    def connected(self) -> bool:
        return self._state is ConnectionState.ONLINE

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def negotiated_alpn(self) -> str | None:
        """The ALPN protocol the server chose on the current connection (None: none)."""
        sock = self._socket()
        return None if sock is None else sock.selected_alpn_protocol()

    @property
    def tls_session_reused(self) -> bool:
        """True when the current connection resumed the previous TLS session."""
        sock = self._socket()
        return sock is not None and sock.session_reused

    # -- JobsTransport ---------------------------------------------------------------------------

    def connect(self) -> None:
        """TCP, TLS, CONNECT → CONNACK (the `connect` row), then SUBSCRIBE → SUBACK (the
        `subscribe` row). Raises ConnectFailed; does nothing when already online."""
        if self._state is ConnectionState.ONLINE:
            return
        self._close("reconnecting")
        self._notices.clear()
        client = self._new_client()
        self._client = client
        self._state = ConnectionState.CONNECTING
        started = time.perf_counter()
        try:
            failure = self._open(client)
            if failure is None:
                self._row(CONNECT, started)
                started = time.perf_counter()
                self._state = ConnectionState.SUBSCRIBING
                failure = self._subscribe(client)
                name = SUBSCRIBE
            else:
                name = CONNECT
        except BaseException:  # the caller's greenlet killed (a Locust user stopping)
            self._close("connect interrupted")
            raise
        if failure is not None:
            self._close(failure.reason)
            self._lost = failure.reason
            self._row(name, started, error=failure)
            raise failure
        self._row(SUBSCRIBE, started)
        self._state = ConnectionState.ONLINE
        sock = self._socket()
        if self._config.resume_tls_session and sock is not None:
            self._context.keep_session(sock)

    def disconnect(self) -> None:
        """Send DISCONNECT and close (the `disconnect` row); never raises."""
        client = self._client
        if self._state is not ConnectionState.ONLINE or client is None:
            self._close("disconnected")
            return
        started = time.perf_counter()
        self._state = ConnectionState.CLOSING
        waiter = self._handshake = AsyncResult()
        try:
            client.disconnect()  # written at once when the socket takes it; paho then closes it
            if client.socket() is not None and self._driver is not None:
                self._driver.flush()
                waiter.wait(DISCONNECT_FLUSH_TIMEOUT)
            sent = client.socket() is None
        finally:
            self._close("disconnected")
        self._row(DISCONNECT, started, error=None if sent else ConnectionLost(_TIMEOUT))

    def drop(self) -> None:
        """A crash: close the socket with no DISCONNECT (the broker then publishes the will)."""
        self._close("dropped")

    def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
        name = request_name(request)
        labels = self._labels_of(request)
        client, driver = self._client, self._driver
        if self._state is not ConnectionState.ONLINE or client is None or driver is None:
            error: ConnectionLost | RequestTimedOut | JobsRejected = ConnectionLost(self._lost)
            self._emit(name, 0.0, error=error, context=labels)
            raise error
        sent = time.monotonic()
        outgoing = self._jobs.send(request, now=sent, timeout=timeout)
        token = outgoing.client_token
        waiter = self._waiters[token] = AsyncResult()
        try:
            client.publish(outgoing.topic, outgoing.payload, qos=1)
            driver.flush()
            reply = waiter.wait(timeout)
        finally:
            if self._waiters.pop(token, None) is not None:  # unanswered: forget it
                self._jobs.expire(time.monotonic())
        if not isinstance(reply, _Reply):
            error = ConnectionLost(self._lost) if reply == _CLOSED else RequestTimedOut(_TIMEOUT)
            self._emit(name, (time.monotonic() - sent) * 1000, error=error, context=labels)
            raise error
        response = reply.event.response
        duration = (reply.at - sent) * 1000
        if isinstance(response, Rejected):
            error = JobsRejected(response.code, response.message)
            self._emit(name, duration, size=reply.size, error=error, context=labels)
            raise error
        self._emit(name, duration, size=reply.size, context=labels)
        return response

    def next_notification(self, timeout: float) -> NotifyNext | None:
        if not self._notices and self._state is ConnectionState.ONLINE:
            if self._notified is None:
                self._notified = Event()
            self._notified.clear()
            self._notified.wait(timeout)
        if self._notices:
            return self._notices.pop(0)
        if self._state is not ConnectionState.ONLINE:
            raise ConnectionLost(self._lost)
        return None

    # -- connecting ------------------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        config = self._config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.thing_name,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.connect_timeout = config.connect_timeout
        client.tls_set_context(self._context)
        if config.will is not None:
            client.will_set(config.will.topic, config.will.payload, qos=config.will.qos)
        client.on_socket_open = _no_delay
        client.on_socket_close = self._on_socket_close
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _open(self, client: mqtt.Client) -> ConnectFailed | None:
        """TCP connect, TLS handshake, CONNECT, CONNACK, within the connect timeout."""
        waiter = self._handshake = AsyncResult()
        timer = gevent.Timeout(self._config.connect_timeout)
        timer.start()
        try:
            client.connect(self._config.host, self._config.port, self._config.keep_alive)
            if client.socket() is not None:  # else it closed under the CONNECT: waiter says
                self._driver = SocketDriver(
                    client, keep_alive=self._config.keep_alive, on_failure=self._on_failure
                )
            outcome = waiter.get()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            return ConnectFailed(_TIMEOUT)
        except OSError as exc:  # ssl.SSLError included
            failure = ConnectFailed(connect_failure_reason(exc))
            failure.__cause__ = exc
            return failure
        finally:
            timer.close()
        if outcome is None:
            return None
        return ConnectFailed("no CONNACK: connection closed" if outcome == _CLOSED else outcome)

    def _subscribe(self, client: mqtt.Client) -> ConnectFailed | None:
        waiter = self._handshake = AsyncResult()
        filters = [f for f in self._jobs.subscriptions() if not f.endswith("/notify")]
        client.subscribe([(topic_filter, 1) for topic_filter in filters])
        if self._driver is not None:
            self._driver.flush()
        outcome = waiter.wait(self._config.connect_timeout)
        if outcome is None:
            return ConnectFailed(_TIMEOUT)
        if outcome == _CLOSED:
            return ConnectFailed("no SUBACK: connection closed")
        return None if outcome == "" else ConnectFailed(outcome)

    # -- paho's callbacks: on the hub (SocketDriver), or inline in the caller's paho call --------

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._handshake is not None and self._state is ConnectionState.CONNECTING:
            refused = reason.is_failure
            name = reason.getName()
            self._handshake.set(_CONNACK_REFUSALS.get(name, f"CONNACK {name}") if refused else None)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _props: Any,
    ) -> None:
        if self._handshake is not None and self._state is ConnectionState.SUBSCRIBING:
            refused = any(reason.is_failure for reason in reasons)  # 0x80 (MQTT-3.9.3)
            self._handshake.set("SUBACK failure" if refused else "")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        try:
            event = self._jobs.receive(message.topic, payload)
        except JobsProtocolError:
            return  # not a reply AWS would send: the request it answers times out
        if isinstance(event, ReplyReceived):
            token = event.request.client_token
            waiter = self._waiters.pop(token, None) if token is not None else None
            if waiter is not None:
                waiter.set(_Reply(event=event, size=len(payload), at=time.monotonic()))
        elif isinstance(event, NotifyNext):
            self._notices.append(event)
            if self._notified is not None:
                self._notified.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._state is ConnectionState.CLOSING:
            self._went_offline("disconnected")
        else:
            self._went_offline(_LOSSES.get(reason.getName(), "connection lost"))

    def _on_socket_close(self, client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
        driver = self._driver
        if driver is not None and driver.client is client:
            driver.stop()
            self._driver = None

    def _on_failure(self, error: Exception) -> None:
        self._close(f"protocol error ({type(error).__name__})")

    # -- ending ----------------------------------------------------------------------------------

    def _close(self, reason: str) -> None:
        """Close the socket with no goodbye, if one is open, and go offline for `reason`."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.stop()
        client, self._client = self._client, None
        if client is not None:
            sock = client.socket()
            if sock is not None:
                sock.close()
        self._went_offline(reason)

    def _went_offline(self, reason: str) -> None:
        if self._state is not ConnectionState.OFFLINE:
            self._lost = reason
        self._state = ConnectionState.OFFLINE
        self._jobs.expire(math.inf)
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.set(_CLOSED)
        if self._handshake is not None:
            self._handshake.set(_CLOSED)
            self._handshake = None
        if self._notified is not None:
            self._notified.set()

    # -- helpers ---------------------------------------------------------------------------------

    def _socket(self) -> Any:
        client = self._client
        return None if client is None else client.socket()

    def _row(self, name: str, started: float, *, error: DeviceError | None = None) -> None:
        self._emit(name, (time.perf_counter() - started) * 1000, error=error, context=self._labels)

    def _emit(
        self,
        name: str,
        duration_ms: float,
        *,
        context: Mapping[str, str],
        size: int = 0,
        error: DeviceError | None = None,
    ) -> None:
        self._report(
            RequestReport(
                protocol=MQTT,
                name=name,
                duration_ms=duration_ms,
                size=size,
                error=error,
                context=context,
            )
        )

    def _labels_of(self, request: JobsRequest) -> Mapping[str, str]:
        job_id = getattr(request, "job_id", None)
        if job_id is None:
            return self._labels
        return {"thing_name": self.thing_name, "job_id": job_id}


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Called after the TLS handshake and before CONNECT is written: without TCP_NODELAY,
    Nagle holds each small MQTT packet until the last one is acknowledged."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
