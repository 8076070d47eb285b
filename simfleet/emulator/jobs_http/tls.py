"""TLS for the Jobs HTTPS port: the server context (client certificate optional), and an
aiohttp site whose connections cost ~58 KB idle instead of ~295 KB.

Why our own site: `loop.create_server(ssl=...)`, which aiohttp's sites call, wraps every
connection in `asyncio.sslproto.SSLProtocol`, which allocates its read buffer at its class's
`max_size`, 256 KiB, and no argument changes it (the broker meets the same, `broker/tls.py`).
A device that polls keeps its connection between polls, so a 10,000-device HTTPS fleet would
hold ~2.9 GB. Here the server listens for plain TCP and builds the same protocol itself, from a
subclass reading 16 KiB at a time (one TLS record), with aiohttp's handler inside: asyncio's
TLS and aiohttp's HTTP unchanged, a smaller buffer. Measured with 1,000 idle keep-alive
connections: 295 KB each with aiohttp's SockSite, 58 KB with this site.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from asyncio import sslproto
from pathlib import Path

from aiohttp import web

# One TLS record's plaintext at most (RFC 8446 §5.1): a larger buffer only holds more ciphertext
# per read, and no Jobs request is near that size.
READ_BUFFER_BYTES = 16 * 1024
# asyncio's default for servers; a client that stalls its handshake is dropped after it.
HANDSHAKE_TIMEOUT_SECONDS = 60


def jobs_ssl_context(
    certificate: Path | str, private_key: Path | str, ca_file: Path | str, *, session_tickets: int
) -> ssl.SSLContext:
    """TLS 1.2+, the server certificate, a client certificate optional but, when presented,
    verified against `ca_file` only (no system roots): a certificate of another CA fails the
    handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, private_key)
    context.load_verify_locations(cafile=ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL
    # A client may not make us redo the (costly) handshake on demand over TLS 1.2.
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.num_tickets = session_tickets
    return context


class _SlimTlsProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol with a 16 KiB read buffer."""

    max_size = READ_BUFFER_BYTES


def _consume(future: asyncio.Future[None]) -> None:
    """Read a handshake's outcome: a failed handshake is logged by nobody (the client saw the
    alert), and an unread exception would be reported when the future is collected."""
    if not future.cancelled():
        future.exception()


class SlimTlsSite(web.BaseSite):
    """Serves a runner's aiohttp server over TLS on an already bound socket."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        context: ssl.SSLContext,
        *,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._sock = sock
        self._context = context
        host, port = sock.getsockname()[:2]
        self._name = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        if server is None:
            raise RuntimeError("Call runner.setup() before starting a site")
        context = self._context

        def connection() -> asyncio.BaseProtocol:
            # The protocol reports the handshake's end on this future; nobody waits for it
            # (aiohttp's handler starts once TLS is up), so its outcome is read and dropped.
            handshaken = loop.create_future()
            handshaken.add_done_callback(_consume)
            return _SlimTlsProtocol(
                loop,
                server(),
                context,
                handshaken,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
            )

        self._server = await loop.create_server(connection, sock=self._sock, backlog=self._backlog)
