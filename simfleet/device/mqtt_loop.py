"""The network loop of one paho-mqtt connection under gevent: the hub watches its socket.

paho's own loops (`loop_forever`, `loop_start`) wait in `select()`, which refuses file
descriptors past 1023 (so a Locust process stalls at ~340 devices of three descriptors each),
and `loop_start` adds a thread and a socketpair per client. Here the hub's event loop (libev:
epoll, no descriptor limit) watches the socket and calls paho's loop pieces:

    readable            loop_read(), again while the TLS layer holds decrypted bytes
    writable            loop_write(); watched only while paho holds bytes it could not send
    every keep-alive/4  loop_misc(): a PINGREQ once the connection was quiet for keep-alive
                        seconds, and the end of a connection whose PINGRESP never came

Why watchers rather than a greenlet per connection waiting on its socket (the first design):
a parked greenlet keeps its slice of the C stack on the heap, measured at ~8.7 KB per idle
device, which alone breaks the 60 KB per device budget of issue #5; two watchers cost a few
hundred bytes. Their callbacks run on the hub and never block: paho's socket is non-blocking
and the transport's paho callbacks only queue and signal.

Why a quarter of the keep-alive: paho pings once `keep_alive` seconds passed since the last
packet either way; checking every K/4 sends that ping at most 1.25 K after the last packet,
inside the 1.5 K a broker waits (MQTT-3.1.2-24, AWS IoT Core alike). The check costs a few
microseconds, so 10,000 idle devices at K = 60 s spend well under 1% of a core on it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, Final, cast

import gevent  # type: ignore[import-untyped]
import paho.mqtt.client as mqtt

_READ: Final = 1  # libev's EV_READ / EV_WRITE, as gevent's io watchers take them
_WRITE: Final = 2


class SocketDriver:
    """Runs `client`'s network loop from hub watchers on its (connected) socket until `stop`.

    `on_failure` receives any exception paho raises inside a callback of the loop (the
    connection is then as good as lost); paho's own connection errors arrive through its
    `on_disconnect` as usual.
    """

    __slots__ = ("_on_failure", "_read", "_tick", "_write", "client")

    def __init__(
        self,
        client: mqtt.Client,
        *,
        keep_alive: float,
        on_failure: Callable[[Exception], None],
    ) -> None:
        sock = client.socket()
        if sock is None:
            raise ValueError("the client has no socket to drive")
        self.client = client
        self._on_failure = on_failure
        loop = gevent.get_hub().loop
        self._read: Any = loop.io(sock.fileno(), _READ)
        self._read.start(self._readable)
        self._write: Any = None
        self._tick: Any = None
        if keep_alive > 0:
            self._tick = loop.timer(keep_alive / 4, keep_alive / 4)
            self._tick.start(self._misc)

    def flush(self) -> None:
        """Call after queueing packets from outside the loop: if paho could not write them
        all at once, watch the socket until it can."""
        if self._read is None or not self.client.want_write():
            return
        if self._write is None:
            sock = self.client.socket()
            if sock is None:
                return
            self._write = gevent.get_hub().loop.io(sock.fileno(), _WRITE)
        if not self._write.active:
            self._write.start(self._writable)

    def stop(self) -> None:
        """Stop watching, before the socket closes: a watcher must never outlive its
        descriptor, which the kernel may hand to the next connection."""
        for watcher in (self._read, self._write, self._tick):
            if watcher is not None:
                watcher.stop()
                watcher.close()
        self._read = self._write = self._tick = None

    # -- callbacks, on the hub -------------------------------------------------------------------

    def _readable(self) -> None:
        client = self.client
        try:
            client.loop_read()
            # TLS records are decrypted whole: bytes already read from the socket may wait in
            # the SSL object, and the socket will not become readable for them.
            sock = cast("ssl.SSLSocket | None", client.socket())
            while sock is not None and sock.pending():
                client.loop_read()
                sock = cast("ssl.SSLSocket | None", client.socket())
            self.flush()  # PUBACKs and pings paho could not send at once
        except Exception as exc:  # paho's or a callback's: end this connection, not the hub
            self._on_failure(exc)

    def _writable(self) -> None:
        try:
            self.client.loop_write()
            if self._write is not None and not self.client.want_write():
                self._write.stop()
        except Exception as exc:
            self._on_failure(exc)

    def _misc(self) -> None:
        try:
            self.client.loop_misc()
            self.flush()
        except Exception as exc:
            self._on_failure(exc)
