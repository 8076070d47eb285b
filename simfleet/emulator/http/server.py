"""The HTTPS driver: aiohttp over TLS with the fleet's server certificate, in front of a
`RestJsonApi`. It only moves bytes: read the request (bounded), hand it to the API, write the
answer. aiohttp's low-level `web.Server` is enough, since the API does its own routing.

One route is the server's own: `GET /metrics` answers the emulator's live counters as
Prometheus text (`metrics`, issue #4 item 5) without SigV4, but only to a loopback peer
(127.0.0.0/8, ::1), where the operator and the Locust side run. [choice] From any other
address it is an ordinary request to the API: unsigned it gets 403 like any other, signed
404 UnknownOperationException, since no AWS operation or IAM action reads it and inventing
one would put a non-AWS name in the IAM policies.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from simfleet.emulator.http.api import RestJsonApi
from simfleet.emulator.http.messages import ApiRequest
from simfleet.emulator.http.web_server import TlsWebServer
from simfleet.emulator.prometheus import CONTENT_TYPE

logger = logging.getLogger("simfleet.emulator.http")

# How long close() lets in-flight requests finish; control-plane calls take milliseconds.
SHUTDOWN_TIMEOUT_SECONDS = 2.0
METRICS_PATH = "/metrics"


def server_ssl_context(certificate: Path, private_key: Path) -> ssl.SSLContext:
    """TLS 1.2+ with the given certificate; no client certificate (SigV4 authenticates)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, private_key)
    context.verify_mode = ssl.CERT_NONE
    return context


async def _read_body(request: web.BaseRequest, limit: int) -> tuple[bytes, bool]:
    """The body and False, or b"" and True once it goes past `limit` (the rest is not read)."""
    if request.content_length is not None and request.content_length > limit:
        return b"", True
    body = bytearray()
    while chunk := await request.content.readany():
        body += chunk
        if len(body) > limit:
            return b"", True
    return bytes(body), False


def is_loopback(address: str | None) -> bool:
    """True for a peer address in 127.0.0.0/8 or ::1, IPv4-mapped (::ffff:127.x.y.z) too."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # drop an IPv6 zone ("%lo")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class HttpsApiServer:
    """Serves one RestJsonApi over HTTPS: `await start(host, port)` → the bound port.

    `metrics` returns the body of `GET /metrics` (Prometheus text); None: no such route.
    """

    def __init__(
        self,
        api: RestJsonApi,
        *,
        certificate: Path,
        private_key: Path,
        metrics: Callable[[], str] | None = None,
    ) -> None:
        self._api = api
        self._metrics = metrics
        self._ssl = server_ssl_context(certificate, private_key)
        self._server = TlsWebServer(
            self._handle,
            lambda runner, sock: web.SockSite(runner, sock, ssl_context=self._ssl),
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        )

    @property
    def port(self) -> int:
        return self._server.port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port) and return the port bound."""
        return await self._server.start(host, port)

    async def close(self) -> None:
        """Stop listening, let in-flight requests finish, close every connection. Idempotent."""
        await self._server.close()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if (
            self._metrics is not None
            and request.method == "GET"
            and request.path == METRICS_PATH
            and is_loopback(request.remote)  # the socket's peer, never a forwarded header
        ):
            return self._serve_metrics(self._metrics)
        body, oversized = await _read_body(request, self._api.max_body_bytes)
        answer = self._api.handle(
            ApiRequest.from_pairs(
                method=request.method,
                target=request.raw_path,
                headers=request.headers.items(),
                body=body,
                oversized=oversized,
                # For IAM's aws:SourceIp; from the socket, never from a forwarded header.
                source_ip=(request.remote or "").partition("%")[0] or None,
            )
        )
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    @staticmethod
    def _serve_metrics(metrics: Callable[[], str]) -> web.Response:
        try:
            text = metrics()
        except Exception as error:  # a bug behind the counters: answer it, keep serving
            logger.exception("GET /metrics failed")
            return web.Response(status=500, text=f"{type(error).__name__}\n")
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})
