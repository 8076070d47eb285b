"""device_ssl_context: what it trusts, what it presents, what it refuses, and session reuse.

Handshakes run in-process over socketpairs against the emulator's own server context
(`simfleet.emulator.broker.tls`), non-blocking and pumped by hand: no thread, no port.
"""

from __future__ import annotations

import errno
import shutil
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet, init_fleet
from simfleet.device import ConnectFailed
from simfleet.device.tls import (
    MQTT_ALPN,
    DeviceSSLContext,
    connect_failure_reason,
    device_ssl_context,
)
from simfleet.emulator.broker.tls import ssl_context_for_fleet

PUMP_ROUNDS = 50


def context_of(fleet: Fleet, index: int = 0, **options: list[str]) -> DeviceSSLContext:
    device = fleet.devices[index]
    return device_ssl_context(
        fleet.ca_cert_path, fleet.cert_path(device), fleet.key_path(device), **options
    )


def server_context(fleet: Fleet, *, session_tickets: int = 0) -> ssl.SSLContext:
    return ssl_context_for_fleet(
        fleet.server_cert_path, fleet.server_key_path, fleet.ca_cert_path,
        session_tickets=session_tickets,
    )  # fmt: skip


@pytest.fixture
def pairs() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def connect(
    client_context: ssl.SSLContext,
    server: ssl.SSLContext,
    pairs: list[socket.socket],
    *,
    server_hostname: str = "localhost",
) -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    """A TLS connection over a socketpair through `client_context.wrap_socket`, as paho makes
    it; then one byte from the server, so that the client reads any TLS 1.3 ticket."""
    near, far = socket.socketpair()
    pairs.extend((near, far))
    near.setblocking(False)
    far.setblocking(False)
    client = client_context.wrap_socket(
        near, server_hostname=server_hostname, do_handshake_on_connect=False
    )
    accepted = server.wrap_socket(far, server_side=True, do_handshake_on_connect=False)
    pairs.extend((client, accepted))
    pending = [client, accepted]
    for _ in range(PUMP_ROUNDS):
        for side in list(pending):
            try:
                side.do_handshake()
                pending.remove(side)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        if not pending:
            break
    assert not pending, "the handshake did not finish"
    accepted.send(b"x")
    for _ in range(PUMP_ROUNDS):
        try:
            assert client.recv(1) == b"x"
            break
        except ssl.SSLWantReadError:
            pass
    return client, accepted


def test_the_context_trusts_the_given_ca_only_and_checks_the_server(shared_fleet: Fleet) -> None:
    context = context_of(shared_fleet)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.cert_store_stats()["x509_ca"] == 1  # no system store
    ca = context.get_ca_certs(binary_form=True)
    assert ca == [ssl.PEM_cert_to_DER_cert(shared_fleet.ca_cert_path.read_text())]


@pytest.mark.parametrize(
    ("alpn", "negotiated"),
    [pytest.param(None, None, id="no-alpn"), pytest.param([MQTT_ALPN], MQTT_ALPN, id="alpn")],
)
def test_the_device_certificate_is_presented_and_alpn_offered(
    shared_fleet: Fleet, pairs: list[socket.socket], alpn: list[str] | None, negotiated: str | None
) -> None:
    options = {} if alpn is None else {"alpn": alpn}
    client, accepted = connect(context_of(shared_fleet, 1, **options), server_context(shared_fleet),
                               pairs)  # fmt: skip
    device_pem = shared_fleet.cert_path(shared_fleet.devices[1]).read_text()
    assert accepted.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(device_pem)
    assert client.selected_alpn_protocol() == negotiated


def test_a_server_certificate_from_another_ca_is_refused(
    shared_fleet: Fleet, pairs: list[socket.socket], tmp_path: Path
) -> None:
    init_fleet(tmp_path / "other", name="other")
    device = shared_fleet.devices[0]
    context = device_ssl_context(
        tmp_path / "other" / "ca" / "ca.pem",
        shared_fleet.cert_path(device),
        shared_fleet.key_path(device),
    )
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        connect(context, server_context(shared_fleet), pairs)
    assert connect_failure_reason(refused.value) == "tls: certificate verify failed"


def test_the_server_name_is_checked(shared_fleet: Fleet, pairs: list[socket.socket]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        connect(context_of(shared_fleet), server_context(shared_fleet), pairs,
                server_hostname="elsewhere.example")  # fmt: skip


@pytest.mark.parametrize(
    ("keep", "resumed"),
    [pytest.param(True, True, id="kept"), pytest.param(False, False, id="not-kept")],
)
def test_a_kept_session_is_resumed_on_the_next_connection(
    shared_fleet: Fleet, pairs: list[socket.socket], keep: bool, resumed: bool
) -> None:
    context = context_of(shared_fleet)
    server = server_context(shared_fleet, session_tickets=2)
    first, _ = connect(context, server, pairs)
    assert first.session_reused is False
    if keep:
        context.keep_session(first)
    second, _ = connect(context, server, pairs)
    assert second.session_reused is resumed
    context.forget_session()
    third, _ = connect(context, server, pairs)
    assert third.session_reused is False


def _copy_device(fleet: Fleet, tmp_path: Path, index: int) -> tuple[Path, Path]:
    device = fleet.devices[index]
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(fleet.cert_path(device), cert)
    shutil.copy(fleet.key_path(device), key)
    return cert, key


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        pytest.param("no-ca", "tls: CA file not found", id="missing-ca"),
        pytest.param("no-cert", "tls: certificate not found", id="missing-certificate"),
        pytest.param("no-key", "tls: key not found", id="missing-key"),
        pytest.param("other-key", "tls: key does not match certificate", id="key-mismatch"),
        pytest.param("garbage-cert", "tls: certificate or key not valid (pem lib)", id="pem"),
        pytest.param("garbage-ca", "tls: CA file not valid", id="garbage-ca"),
    ],
)
def test_credentials_that_cannot_be_used_raise_connect_failed(
    shared_fleet: Fleet, tmp_path: Path, breakage: str, reason: str
) -> None:
    cert, key = _copy_device(shared_fleet, tmp_path, 0)
    ca = tmp_path / "ca.pem"
    shutil.copy(shared_fleet.ca_cert_path, ca)
    match breakage:
        case "no-ca":
            ca.unlink()
        case "no-cert":
            cert.unlink()
        case "no-key":
            key.unlink()
        case "other-key":
            shutil.copy(shared_fleet.key_path(shared_fleet.devices[1]), key)
        case "garbage-cert":
            cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        case "garbage-ca":
            ca.write_text("not a certificate\n")
    with pytest.raises(ConnectFailed) as failed:
        device_ssl_context(ca, cert, key)
    assert failed.value.reason.startswith(reason)
    assert isinstance(failed.value.__cause__, OSError)  # ssl.SSLError included


def test_a_context_is_refused_after_ssl_was_patched_under_it(
    shared_fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What gevent's monkey-patching does to the module when it comes after this one's import.
    monkeypatch.setattr(ssl, "SSLContext", type("Patched", (ssl.SSLContext,), {}))
    with pytest.raises(RuntimeError, match="monkey-patched"):
        context_of(shared_fleet)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
                     "tcp: connection refused", id="refused"),
        pytest.param(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
                     "tcp: connection reset by peer", id="reset"),
        pytest.param(OSError(errno.ENETUNREACH, ""), "tcp: network is unreachable",
                     id="errno-only"),
        pytest.param(TimeoutError("timed out"), "timeout", id="timeout"),
        pytest.param(socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
                     "dns: name or service not known", id="dns"),
        pytest.param(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
                     "tls: eof occurred in violation of protocol", id="tls-eof"),
    ],
)  # fmt: skip
def test_connect_failures_have_short_stable_reasons(error: OSError, reason: str) -> None:
    assert connect_failure_reason(error) == reason
