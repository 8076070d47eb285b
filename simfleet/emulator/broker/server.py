"""The broker's TCP listener: one ``TlsClientProtocol`` per accepted connection."""

from __future__ import annotations

import asyncio
import ssl

from simfleet.emulator.broker.broker import Broker
from simfleet.emulator.broker.tls import TlsClientProtocol

# Listen backlog: a fleet reconnecting at once queues thousands of SYNs (the kernel caps
# it at net.core.somaxconn).
_BACKLOG = 4096


class BrokerServer:
    """``start`` listens on ``host:port`` (0 = a free port) with ``ssl_context``; ``close``
    stops listening and closes every client connection."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext) -> int:
        """Listen and return the port bound."""
        if self._server is not None:
            raise RuntimeError("the broker server is already started")
        loop = asyncio.get_running_loop()
        broker = self.broker
        self._server = await loop.create_server(
            lambda: TlsClientProtocol(broker, ssl_context, loop),
            host,
            port,
            backlog=_BACKLOG,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self.broker.close_all()
        await server.wait_closed()
        await asyncio.sleep(0)  # let the closed transports call connection_lost
