"""Mutual TLS for the broker: the server context, and a small TLS driver per connection.

Why our own driver rather than ``loop.create_server(ssl=...)``: CPython's asyncio TLS
transport (``asyncio.sslproto.SSLProtocol``) allocates and zero-fills a 256 KiB read buffer
for every connection (its ``max_size``), and no argument of ``create_server`` changes it:
~280 KB of RSS per idle connection, against the ~60 KB target of issue #3. This driver runs
the same ``ssl.SSLObject`` over two memory BIOs from a plain TCP ``asyncio.Protocol`` and
keeps no buffer between reads: ~29 KB per idle connection, mostly OpenSSL's own state.
It also batches what the broker writes during one loop iteration into one TLS write and
one socket send.

The handshake has no timer of its own: the broker's connect timeout starts at the TCP
accept and closes a client that has not finished TLS and sent CONNECT in time (asyncio's
``ssl_handshake_timeout``, 60 s by default, would cover the handshake only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from pathlib import Path

from simfleet.emulator.broker.broker import Broker
from simfleet.emulator.broker.connection import MqttConnection

log = logging.getLogger("simfleet.emulator.broker")

# Spec §5: AWS serves MQTT on 443 to clients that offer this ALPN; clients on 8883 offer none.
# A client offering only other protocols gets no ALPN answer and may carry on.
ALPN_MQTT = "x-amzn-mqtt-ca"
_READ_SIZE = 16 * 1024  # one TLS record's plaintext at most (RFC 8446 §5.1)


def ssl_context_for_fleet(
    server_cert: Path | str,
    server_key: Path | str,
    ca_file: Path | str,
    *,
    session_tickets: int = 0,
) -> ssl.SSLContext:
    """TLS 1.2+, the fleet's server certificate, a client certificate required and
    trusted only if it chains to ``ca_file`` (no system roots).

    ``session_tickets``: TLS 1.3 tickets sent after each handshake. Our choice is none:
    OpenSSL 3.0 spends ~165 us of server CPU per ticket (half again a handshake's cost),
    and MQTT clients seldom resume (paho never does). Pass 2 (OpenSSL's default) to serve
    clients that resume as AWS lets them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server_cert, server_key)
    context.load_verify_locations(cafile=ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    # A client may not make us redo the (costly) handshake on demand over TLS 1.2.
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols([ALPN_MQTT])
    context.num_tickets = session_tickets
    return context


class TlsClientProtocol(asyncio.Protocol):
    """TLS over one accepted TCP connection, feeding an ``MqttConnection``; it is that
    connection's ``ClientTransport``."""

    __slots__ = (
        "_broker",
        "_closing",
        "_connection",
        "_handshaken",
        "_incoming",
        "_loop",
        "_outgoing",
        "_pending",
        "_reading",
        "_ssl",
        "_transport",
    )

    def __init__(
        self, broker: Broker, context: ssl.SSLContext, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._broker = broker
        self._loop = loop
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._transport: asyncio.Transport | None = None
        self._connection: MqttConnection | None = None
        self._handshaken = False
        self._closing = False
        self._reading = False
        self._pending: list[bytes] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connection = self._broker.open_connection(self)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._incoming.write(data)
        if not self._handshaken and not self._handshake():
            return
        connection = self._connection
        assert connection is not None
        self._reading = True
        try:
            while True:
                plain = self._ssl.read(_READ_SIZE)
                if not plain:
                    break
                connection.data_received(plain)
                if self.closing:  # the broker closed the connection: ignore the rest
                    return
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:  # close_notify: the client is done
            self.close()
        except ssl.SSLError as exc:
            self._broker.counters.tls_failures += 1
            log.warning("%s: TLS error %s; closing", connection.label, exc.reason or exc)
            self._abort()
        finally:
            self._reading = False
        self._flush()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._pending = None
        connection, self._connection = self._connection, None  # no cycle left for the GC
        if connection is not None:
            connection.connection_lost()

    @property
    def closing(self) -> bool:
        return self._closing

    # -- ClientTransport, for the broker -------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        pending = self._pending
        if pending is None:
            self._pending = [data]
            if not self._reading:  # data_received flushes on its way out
                self._loop.call_soon(self._flush)
        else:
            pending.append(data)

    def close(self) -> None:
        if self._closing:
            return
        self._flush()
        self._closing = True
        if self._handshaken:
            with contextlib.suppress(ssl.SSLError):
                self._ssl.unwrap()  # queue our close_notify; the client's is not awaited
            self._send_outgoing()
        if self._transport is not None:
            self._transport.close()

    def write_buffer_size(self) -> int:
        transport = self._transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def peer_certificate(self) -> bytes | None:
        return self._ssl.getpeercert(binary_form=True) if self._handshaken else None

    def peer_address(self) -> str | None:
        peer = None if self._transport is None else self._transport.get_extra_info("peername")
        if not peer:
            return None
        host = str(peer[0])
        return host.partition("%")[0]  # an IPv6 zone is no part of aws:SourceIp

    # -- internals ----------------------------------------------------------------------------

    def _handshake(self) -> bool:
        """Advance the handshake; True once it is complete."""
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._send_outgoing()
            return False
        except ssl.SSLError as exc:
            self._broker.counters.tls_failures += 1
            who = self._connection.label if self._connection is not None else "client"
            log.warning("%s: TLS handshake failed: %s; closing", who, exc.reason or exc)
            self._send_outgoing()  # the alert tells the client why
            self._closing = True
            if self._transport is not None:
                self._transport.close()
            return False
        self._handshaken = True
        self._ack_now()
        return True

    def _ack_now(self) -> None:
        """Acknowledge the client's Finished at once. With no session ticket to send, the
        ACK would wait for the kernel's delayed-ACK timer, and a client without TCP_NODELAY
        (paho) holds its CONNECT behind it (Nagle): 40 ms more per connect, measured."""
        sock = None if self._transport is None else self._transport.get_extra_info("socket")
        if sock is not None and hasattr(socket, "TCP_QUICKACK"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def _flush(self) -> None:
        """Encrypt what the broker wrote, then send every TLS byte waiting to go out (tickets
        and alerts included, which OpenSSL may produce while reading)."""
        pending = self._pending
        if self._closing:
            return
        if pending is not None:
            self._pending = None
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            try:
                view = memoryview(data)
                while view:
                    view = view[self._ssl.write(view) :]
            except ssl.SSLError as exc:
                self._broker.counters.tls_failures += 1
                log.warning("TLS write failed: %s; closing", exc.reason or exc)
                self._abort()
                return
        self._send_outgoing()

    def _send_outgoing(self) -> None:
        out = self._outgoing.read()
        if out and self._transport is not None:
            self._transport.write(out)

    def _abort(self) -> None:
        self._closing = True
        self._pending = None
        if self._transport is not None:
            self._transport.abort()
