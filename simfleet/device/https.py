"""`HttpsTransport`: the Jobs HTTPS device API (`iot-jobs-data`, spec §2) over mutual TLS.

    call(request) ─▶ encode_https_request ─▶ _Connection.exchange ─▶ decode_https_response
                                             (one keep-alive TLS        or decode_https_error
                                              connection, HTTP/1.1)     ─▶ one RequestReport

One device is one TLS connection with its own certificate (the context comes from
`simfleet.device.tls.device_ssl_context`), carrying one request at a time and kept between
polls. AWS's Jobs endpoint on 8443 has no notifications (spec §2), so `next_notification`
answers None at once and the agent polls.

Why this HTTP client (issue #5 prefers httpx; benchmarks/bench_device_https.py measures the
three under gevent in one run, same codec, 100 devices): httpx drives ~2,000 calls per
CPU-second, below the 2,500 calls/s per Locust core we need. geventhttpclient's `HTTPClient`
(the pool under Locust's FastHttpSession) drives ~8,700, but its pool checks an idle socket
with `select.select()`, and gevent's select first calls the real select(), which refuses file
descriptors past 1023: the pool then takes every kept socket for dead and opens a new TLS
connection per request. Keep-alive is silently lost exactly when a process holds the
thousands of devices it is meant to (~800 calls per CPU-second, a handshake per call). A pool
is also more than a device needs. So `_Connection` owns one socket and reads answers with
geventhttpclient's llhttp parser (`HTTPSocketResponse`), writing the request head itself (a
request line and at most three header lines): ~9,600 calls per CPU-second, at any file
descriptor. It is the only class here that knows the HTTP client; changing clients means
rewriting it alone.

Sockets are the stdlib's: under Locust (gevent monkey-patched) they are cooperative.
Third-party errors are translated into `simfleet.device.errors` here, once.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import urlencode

from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPSocketResponse

from simfleet.device.errors import (
    ConnectFailed,
    ConnectionLost,
    DeviceError,
    JobsRejected,
    RequestTimedOut,
)
from simfleet.device.reports import HTTPS, Reporter, RequestReport, request_name
from simfleet.device.tls import connect_failure_reason
from simfleet.jobs import (
    DescribeRequest,
    JobsRequest,
    MalformedMessage,
    NotifyNext,
    UpdateRequest,
)
from simfleet.jobs.https import (
    ERROR_TYPE_HEADER,
    decode_https_error,
    decode_https_response,
    encode_https_request,
)
from simfleet.jobs.responses import Accepted

# Spec §2: AWS serves the Jobs device API with certificates on 8443.
DEFAULT_PORT: Final = 8443
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
# [U] AWS documents no idle timeout for 8443. We close a connection idle this long and open a
# new one at the next call: longer than any polling interval a profile uses (30-120 s), so a
# poller keeps its connection, and shorter than the emulator's 300 s (jobs_http/config.py), so
# we close first rather than race the server's close with a request in flight.
DEFAULT_KEEPALIVE_EXPIRY: Final = 240.0

_TIMEOUT: Final = "timeout"


@dataclass(frozen=True, kw_only=True)
class HttpsConfig:
    """Where the Jobs endpoint is and how the connection behaves.

    `server_name` is the name TLS verifies and sends as SNI and the `Host` header (the
    endpoint's DNS name on AWS); `host` by default. `keepalive_expiry`: seconds a connection
    may stay idle before the next call replaces it.
    """

    host: str
    port: int = DEFAULT_PORT
    server_name: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if self.keepalive_expiry <= 0:
            raise ValueError("keepalive_expiry must be positive")

    @property
    def tls_name(self) -> str:
        return self.server_name or self.host


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    error_type: str | None
    body: bytes


class _Connection:
    """One TLS connection carrying HTTP/1.1 requests one at a time.

    Raises the network's own errors (OSError, ssl.SSLError, geventhttpclient's HTTPParseError);
    the transport translates them.
    """

    def __init__(self, sock: ssl.SSLSocket, host_header: str, now: float) -> None:
        self._sock = sock
        self._host_header = host_header
        self.last_used = now
        self.closed = False

    @classmethod
    def open(cls, config: HttpsConfig, context: ssl.SSLContext, now: float) -> _Connection:
        """TCP connect, then the TLS handshake, within `config.connect_timeout`."""
        raw = socket.create_connection((config.host, config.port), config.connect_timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = context.wrap_socket(raw, server_hostname=config.tls_name)
        except BaseException:
            raw.close()
            raise
        port = "" if config.port == 443 else f":{config.port}"
        return cls(sock, f"{config.tls_name}{port}", now)

    def peer_closed(self) -> bool:
        """Whether the server closed the connection while it was idle (a keep-alive timeout, a
        shutdown): an idle connection has nothing to read, so anything readable (EOF, an alert,
        stray bytes) means it is unusable. Checked before each request, since a request sent on
        it could be processed and its answer lost."""
        self._sock.settimeout(0.0)
        try:
            self._sock.recv(1)
        except ssl.SSLWantReadError:
            return False
        except OSError:
            return True
        return True

    def exchange(
        self, method: str, target: str, body: bytes | None, *, timeout: float, now: float
    ) -> _Answer:
        """Send one request and read its whole answer; `timeout` bounds each socket wait."""
        head = f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = head.encode("ascii") + b"\r\n"
        self._sock.settimeout(timeout)
        self._sock.sendall(data + body if body is not None else data)
        # The parser is typed for gevent's socket; under Locust the stdlib's is gevent's.
        response = HTTPSocketResponse(cast(Any, self._sock), method=method)
        answer_body = response.read()
        error_type = response.get(ERROR_TYPE_HEADER)
        if response.should_close():  # `Connection: close`; the parser has closed the socket
            self.close()
        self.last_used = now
        return _Answer(
            status=response.status_code,
            error_type=error_type[0] if isinstance(error_type, list) else error_type,
            body=answer_body,
        )

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.close()


class HttpsTransport:
    """A device's `JobsTransport` over the Jobs HTTPS API; see the module docstring."""

    protocol: Final = HTTPS
    pushes_notifications: Final = False

    def __init__(
        self,
        thing_name: str,
        *,
        config: HttpsConfig,
        ssl_context: ssl.SSLContext,
        report: Reporter,
    ) -> None:
        self._thing_name = thing_name
        self._config = config
        self._context = ssl_context
        self._report = report
        self._online = False
        self._connection: _Connection | None = None

    @property
    def thing_name(self) -> str:
        return self._thing_name

    @property
    def connected(self) -> bool:
        """True from `connect` until `disconnect`, `drop` or a lost connection. The TLS
        connection under it may be replaced between calls (idle expiry, server close)."""
        return self._online

    def connect(self) -> None:
        """Open the keep-alive connection (TCP and TLS handshake); raises ConnectFailed.

        No `connect` row: HTTPS devices report calls only (docs/devices.md). Over TLS 1.3 a
        server judges the client certificate after the client's handshake ends, so a refused
        certificate surfaces at the first call, as ConnectionLost.
        """
        self._close()
        try:
            self._connection = _Connection.open(self._config, self._context, time.monotonic())
        except OSError as error:
            raise ConnectFailed(connect_failure_reason(error)) from error
        self._online = True

    def disconnect(self) -> None:
        """Close the connection. HTTP has no goodbye of its own, so this is `drop`."""
        self.drop()

    def drop(self) -> None:
        self._online = False
        self._close()

    def next_notification(self, timeout: float) -> NotifyNext | None:
        """None at once: the HTTPS API pushes nothing (spec §2)."""
        return None

    def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
        """One request and its answer, reported as one row; `timeout` bounds each wait on the
        socket (an exchange is one write and a read or two). Opens a new connection first when
        the kept one expired or the server closed it (a failure to is ConnectionLost)."""
        started = time.perf_counter()
        size = 0
        try:
            answer = self._exchange(request, timeout)
            size = len(answer.body)
            accepted = _decode(request, answer)
        except DeviceError as error:
            self._report_call(request, started, size, error)
            raise
        self._report_call(request, started, size, None)
        return accepted

    def _exchange(self, request: JobsRequest, timeout: float) -> _Answer:
        if not self._online:
            raise ConnectionLost("not connected")
        call = encode_https_request(self._thing_name, request)
        target = f"{call.path}?{urlencode(call.query)}" if call.query else call.path
        now = time.monotonic()
        connection = self._usable_connection(now)
        try:
            return connection.exchange(call.method, target, call.body, timeout=timeout, now=now)
        except TimeoutError as error:
            # The answer may still come; on this connection it would answer the next request.
            connection.close()
            raise RequestTimedOut(_TIMEOUT) from error
        except (OSError, HTTPParseError) as error:
            self.drop()
            raise ConnectionLost(_lost_reason(error)) from error

    def _usable_connection(self, now: float) -> _Connection:
        """The kept connection, or a new one when it expired or the server closed it."""
        connection = self._connection
        if connection is not None and not connection.closed:
            if now - connection.last_used <= self._config.keepalive_expiry and not (
                connection.peer_closed()
            ):
                return connection
            connection.close()
        try:
            self._connection = _Connection.open(self._config, self._context, now)
        except OSError as error:
            self.drop()
            raise ConnectionLost(connect_failure_reason(error)) from error
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _report_call(
        self, request: JobsRequest, started: float, size: int, error: DeviceError | None
    ) -> None:
        context = {"thing_name": self._thing_name}
        if isinstance(request, DescribeRequest | UpdateRequest):
            context["job_id"] = request.job_id
        self._report(
            RequestReport(
                protocol=HTTPS,
                name=request_name(request),
                duration_ms=(time.perf_counter() - started) * 1000.0,
                size=size,
                error=error,
                context=context,
            )
        )


def _decode(request: JobsRequest, answer: _Answer) -> Accepted:
    """The accepted reply, or the service's refusal as JobsRejected.

    An answer that is no Jobs answer raises DeviceError named by what came: the error type
    (`ForbiddenException`, the emulator's policy denial, has no Jobs error code), else the
    status; a 200 whose body does not decode is a `malformed reply`.
    """
    try:
        if answer.status == 200:
            return decode_https_response(request, answer.body)
        error = decode_https_error(answer.status, answer.error_type, answer.body)
    except MalformedMessage as malformed:
        if answer.status == 200:
            raise DeviceError("malformed reply") from malformed
        raise DeviceError(answer.error_type or f"HTTP {answer.status}") from malformed
    raise JobsRejected(error.code, error.message) from error


def _lost_reason(error: OSError | HTTPParseError) -> str:
    """Why a connection in use failed (timeouts aside), in the words a connect failure uses."""
    match error:
        case HTTPConnectionClosed():
            return "connection closed"
        case HTTPParseError():
            return "malformed HTTP answer"
    return connect_failure_reason(error)
