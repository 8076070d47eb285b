"""The aiohttp driver of the Jobs HTTPS API: one port, TLS with the fleet's server
certificate, a client certificate optional (issue #4, item 1).

A caller that presents a certificate must chain it to the fleet CA (else the handshake fails)
and is a device: `DeviceApi`, IoT Core policies. A caller without one is an operator or a cloud
service: `SigV4JobsApi`, SigV4 for `iot-jobs-data`. AWS serves the two on different ports (8443
and 443, spec §2); one port serving both lets a device fleet and boto3 share an endpoint URL.

The verified peer certificate is read from the TLS object of the connection (aiohttp's
transport exposes it) at the connection's first request, and kept with its certificate id
for the connection's life: one connection is one TLS session, so it cannot change between the
requests of a keep-alive connection.

Why not `simfleet.emulator.http.HttpsApiServer`: its TLS context asks for no client
certificate, its handler knows one `RestJsonApi`, and its site costs 295 KB per idle
connection (tls.py). aiohttp's low-level `web.Server` is used the same way here.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from weakref import WeakKeyDictionary

from aiohttp import web

from certs_tool.authority import der_certificate_id
from simfleet.emulator.clock import Clock
from simfleet.emulator.http import ApiRequest, ApiResponse
from simfleet.emulator.http.web_server import TlsWebServer
from simfleet.emulator.jobs_http.config import JobsHttpConfig
from simfleet.emulator.jobs_http.counters import JobsHttpCounters
from simfleet.emulator.jobs_http.device_api import DeviceApi, DeviceCall
from simfleet.emulator.jobs_http.devices import DeviceAuthorizers
from simfleet.emulator.jobs_http.errors import ServerStateError
from simfleet.emulator.jobs_http.ports import (
    Authorize,
    JobsHandler,
    PrincipalSource,
    allow_every_caller,
)
from simfleet.emulator.jobs_http.sigv4_api import SigV4JobsApi
from simfleet.emulator.jobs_http.tls import SlimTlsSite, jobs_ssl_context


async def _read_body(request: web.BaseRequest, limit: int) -> tuple[bytes, bool]:
    """The body and False, or b"" and True once it goes past `limit` (the rest is not read)."""
    content = request.content
    if content.is_eof():
        # The parser has the whole body already: every body-less call, and a Jobs body (a
        # few hundred bytes) that came in the request's TLS record. One read, no await.
        body = content.read_nowait()
        return (b"", True) if len(body) > limit else (body, False)
    if request.content_length is not None and request.content_length > limit:
        return b"", True
    buffer = bytearray()
    while chunk := await content.readany():
        buffer += chunk
        if len(buffer) > limit:
            return b"", True
    return bytes(buffer), False


@dataclass(frozen=True, kw_only=True, slots=True)
class _Peer:
    """Who is at the other end of a connection: the verified client certificate's DER and id
    (None without one), and the peer's address."""

    der: bytes | None
    certificate_id: str | None
    address: str | None


_NO_PEER = _Peer(der=None, certificate_id=None, address=None)


def _read_peer(transport: asyncio.BaseTransport) -> _Peer:
    ssl_object = transport.get_extra_info("ssl_object")
    der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
    peer = transport.get_extra_info("peername")
    return _Peer(
        der=der,
        certificate_id=None if der is None else der_certificate_id(der),
        # An IPv6 zone is no part of aws:SourceIp.
        address=str(peer[0]).partition("%")[0] if peer else None,
    )


class JobsHttpServer:
    """Serves the Jobs HTTPS API: `await start(host, port)` → the bound port; `close()`."""

    def __init__(
        self,
        *,
        jobs: JobsHandler,
        principals: PrincipalSource,
        credentials: Mapping[str, str],
        certificate: Path,
        private_key: Path,
        ca_file: Path,
        config: JobsHttpConfig,
        clock: Clock,
        authorize: Authorize = allow_every_caller,
        counters: JobsHttpCounters | None = None,
    ) -> None:
        self._config = config
        self.counters = counters if counters is not None else JobsHttpCounters()
        self._ssl = jobs_ssl_context(
            certificate, private_key, ca_file, session_tickets=config.session_tickets
        )
        self.authorizers = DeviceAuthorizers(
            principals,
            region=config.region,
            account_id=config.account_id,
            denials=self.counters.policy_denials,
            max_entries=config.authorizer_cache_size,
        )
        self._devices = DeviceApi(
            jobs,
            self.authorizers,
            arn_prefix=config.arn_prefix,
            max_body_bytes=config.max_body_bytes,
            counters=self.counters.device,
        )
        self._sigv4 = SigV4JobsApi(
            jobs,
            credentials=credentials,
            region=config.region,
            arn_prefix=config.arn_prefix,
            clock=clock,
            authorize=authorize,
            counters=self.counters.sigv4,
            denials=self.counters.iam_denials,
            max_body_bytes=config.max_body_bytes,
        )
        # Each connection's peer, read at its first request: one connection is one TLS
        # session, whose certificate and address cannot change (the module docstring).
        self._peers: WeakKeyDictionary[asyncio.BaseTransport, _Peer] = WeakKeyDictionary()
        self._server = TlsWebServer(
            self._handle,
            lambda runner, sock: SlimTlsSite(runner, sock, self._ssl),
            shutdown_timeout=config.shutdown_timeout_seconds,
            keepalive_timeout=config.keepalive_timeout_seconds,
            state_error=ServerStateError,
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The server's TLS context: the emulator adds the anchors of CAs and certificates
        registered later to it (tls_trust.py), as to the broker's."""
        return self._ssl

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port) and return the port bound."""
        return await self._server.start(host, port)

    async def close(self) -> None:
        """Stop listening, let in-flight requests finish, close every connection. Idempotent."""
        await self._server.close()

    def _peer(self, request: web.BaseRequest) -> _Peer:
        transport = request.transport
        if transport is None:
            return _NO_PEER
        peer = self._peers.get(transport)
        if peer is None:
            peer = self._peers[transport] = _read_peer(transport)
        return peer

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body, oversized = await _read_body(request, self._config.max_body_bytes)
        peer = self._peer(request)
        answer: ApiResponse
        if peer.der is not None:
            answer = self._devices.handle(
                DeviceCall(
                    certificate_der=peer.der,
                    source_ip=peer.address,
                    method=request.method,
                    target=request.raw_path,
                    body=body,
                    oversized=oversized,
                    certificate_id=peer.certificate_id,
                )
            )
        else:
            answer = self._sigv4.handle(
                ApiRequest.from_pairs(
                    method=request.method,
                    target=request.raw_path,
                    headers=request.headers.items(),
                    body=body,
                    oversized=oversized,
                    source_ip=peer.address,
                )
            )
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)
