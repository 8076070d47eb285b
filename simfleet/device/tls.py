"""One TLS context per device: the endpoint's CA and the device's own certificate and key.

Why not the system trust store: loading it costs ~35 ms and ~800 KB per device (issue #5), and
a device trusts its endpoint's CA only (AmazonRootCA1 on AWS, the fleet CA on the emulator).
Measured with OpenSSL 3.0, a context built here holds ~25 KB: ~12.5 KB for the SSL_CTX itself,
~5.5 KB for the CA store and ~7 KB for the device's certificate and key.

`DeviceSSLContext` is an `ssl.SSLContext` that can offer its device's last TLS session again
on the next connection (issue #5: optional TLS session resumption on reconnect; it saves the
server a full handshake when it issued a ticket). paho wraps the socket itself
(`Client.tls_set_context`), so the session goes in through `wrap_socket`, the one method paho
calls.

Under gevent the class must be built over gevent's `ssl.SSLContext` (whose sockets yield to
the hub instead of blocking it): import this module after monkey-patching, as Locust does by
importing itself first. `device_ssl_context` refuses to build a context otherwise.

Credentials that cannot be loaded raise `ConnectFailed` (reason "tls: ..."; the cause is
chained): the device cannot connect, and the reason names what is wrong without the path, so
that one stats row covers every device with the same fault.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from simfleet.device.errors import ConnectFailed

MQTT_ALPN: Final = "x-amzn-mqtt-ca"  # spec §5: MQTT over TLS on port 443 offers this ALPN

# "[SSL] PEM lib (_ssl.c:3905)": the library tag and the C source line are noise in a reason.
_SSL_NOISE: Final = re.compile(r"^\[\w+\]|\(_ssl\.c:\d+\)$")
_BASE: Final = ssl.SSLContext  # gevent's when this module is imported after monkey-patching


class DeviceSSLContext(ssl.SSLContext):
    """A client context for one device; `session` is offered on the next `wrap_socket`."""

    __slots__ = ("session",)

    def __init__(self, protocol: int = ssl.PROTOCOL_TLS_CLIENT) -> None:
        # ssl.SSLContext builds itself in __new__, from the same argument.
        self.session: ssl.SSLSession | None = None

    def wrap_socket(  # noqa: PLR0917 - ssl.SSLContext's signature, as paho calls it
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=self.session if session is None else session,
        )

    def keep_session(self, sock: ssl.SSLSocket) -> None:
        """Offer `sock`'s session on the next connection. Call it once the connection has read
        from the server: TLS 1.3 tickets arrive after the handshake."""
        self.session = sock.session

    def forget_session(self) -> None:
        self.session = None


def device_ssl_context(
    ca_file: Path | str,
    cert_file: Path | str,
    key_file: Path | str,
    *,
    alpn: Sequence[str] | None = None,
) -> DeviceSSLContext:
    """A TLS 1.2+ client context that trusts `ca_file` only, presents the device's certificate,
    and checks the server's host name.

    `alpn`: protocols to offer (`[MQTT_ALPN]` for MQTT on port 443). Raises ConnectFailed when a
    file cannot be read or parsed, or the key does not match the certificate.
    """
    if ssl.SSLContext is not _BASE:
        raise RuntimeError(
            "simfleet.device.tls was imported before gevent monkey-patched ssl; "
            "patch first (import locust, or gevent.monkey.patch_all()) and import simfleet after"
        )
    context = DeviceSSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode REQUIRED, check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectFailed(_load_reason("CA file", exc)) from exc
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        # The error does not say which of the two files failed: the first unreadable one did,
        # else the contents (PEM errors name no file either).
        unreadable = [
            name
            for name, path in (("certificate", cert_file), ("key", key_file))
            if not os.access(path, os.R_OK)
        ]
        what = unreadable[0] if unreadable else "certificate or key"
        raise ConnectFailed(_load_reason(what, exc)) from exc
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def _load_reason(what: str, error: OSError) -> str:
    match error:
        case ssl.SSLError(reason="KEY_VALUES_MISMATCH"):
            return "tls: key does not match certificate"
        case ssl.SSLError():
            return f"tls: {what} not valid ({_reason(error)})"
        case FileNotFoundError():
            return f"tls: {what} not found"
    return f"tls: {what} not readable ({_strerror(error)})"


def connect_failure_reason(error: OSError) -> str:
    """Why a TCP connect or TLS handshake failed, short and stable (it names a Locust row):
    `tls: certificate verify failed`, `tcp: connection refused`, `dns: ...`, `timeout`."""
    match error:
        case ssl.SSLCertVerificationError():
            return "tls: certificate verify failed"
        case ssl.SSLError():
            return f"tls: {_reason(error)}"
        case socket.gaierror():
            return f"dns: {_strerror(error)}"
        case TimeoutError():
            return "timeout"
    return f"tcp: {_strerror(error)}"


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason code (`CERTIFICATE_VERIFY_FAILED` → `certificate verify failed`), else
    the message without its library tag and source line (`[SSL] PEM lib (_ssl.c:3905)`)."""
    reason = getattr(error, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    message = str(error.args[1]) if len(error.args) > 1 else type(error).__name__
    return _SSL_NOISE.sub("", message).strip().lower()


def _strerror(error: OSError) -> str:
    if error.strerror:
        return error.strerror.lower()
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    return type(error).__name__
