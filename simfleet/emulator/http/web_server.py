"""One aiohttp low-level server on one TLS socket: the driver both HTTPS APIs of the emulator
(the control plane and the Jobs device API) run on."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
SiteFactory = Callable[[web.BaseRunner, socket.socket], web.BaseSite]


class TlsWebServer:
    """`await start(host, port)` → the bound port (0 picks one); `await close()` is idempotent
    and returns only when every connection, idle keep-alive ones included, is closed."""

    def __init__(
        self,
        handler: Handler,
        site: SiteFactory,
        *,
        shutdown_timeout: float,
        keepalive_timeout: float = 3630.0,  # aiohttp's own default
        state_error: type[Exception] = RuntimeError,
    ) -> None:
        self._handler = handler
        self._site = site
        self._shutdown_timeout = shutdown_timeout
        self._keepalive_timeout = keepalive_timeout
        self._state_error = state_error
        self._runner: web.ServerRunner | None = None
        self._web_server: web.Server | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise self._state_error("the server is not started")
        return self._port

    async def start(self, host: str, port: int) -> int:
        if self._runner is not None:
            raise self._state_error("the server is already started")
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        web_server = web.Server(
            self._handler, access_log=None, keepalive_timeout=self._keepalive_timeout
        )
        runner = web.ServerRunner(web_server, shutdown_timeout=self._shutdown_timeout)
        try:
            await runner.setup()
            await self._site(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner, self._web_server = runner, web_server
        self._port = int(sock.getsockname()[1])
        return self._port

    async def close(self) -> None:
        runner, web_server = self._runner, self._web_server
        self._runner = self._web_server = None
        self._port = None
        if runner is None or web_server is None:
            return
        transports = [handler.transport for handler in web_server.connections if handler.transport]
        await runner.cleanup()
        # aiohttp closes each connection, but closing TLS waits for the peer's close_notify,
        # which an idle keep-alive client never sends: abort the rest, so that every socket
        # is closed when close() returns (connection_lost closes it on the next loop turn).
        for transport in transports:
            transport.abort()
        await asyncio.sleep(0)
