"""A minted credential in a real mutual-TLS handshake on loopback."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs_tool import Fleet, certificate_id
from tests.conftest import MakeFleet


def _server_context(fleet: Fleet) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(fleet.server_cert_path, fleet.server_key_path)
    context.load_verify_locations(fleet.ca_cert_path)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client_context(fleet: Fleet, device_fleet: Fleet | None = None) -> ssl.SSLContext:
    """Trust `fleet`'s CA, present a device credential of `device_fleet` (default: the same)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(fleet.ca_cert_path)
    owner = device_fleet or fleet
    device = owner.devices[0]
    context.load_cert_chain(owner.cert_path(device), owner.key_path(device))
    return context


class _Server:
    """One-connection-at-a-time TLS server on 127.0.0.1 recording what each handshake gave."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.port = self._listener.getsockname()[1]
        self._context = context
        self.peer_ids: list[str] = []
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            with raw:
                try:
                    with self._context.wrap_socket(raw, server_side=True) as tls:
                        der = tls.getpeercert(binary_form=True)
                        assert der is not None
                        self.peer_ids.append(certificate_id(x509.load_der_x509_certificate(der)))
                        tls.sendall(b"ok")
                except (ssl.SSLError, OSError) as exc:
                    self.failures.append(type(exc).__name__)

    def close(self) -> None:
        # shutdown() wakes the accept() blocked in the server thread; close() alone does not.
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=10)


@pytest.fixture
def two_fleets(make_fleet: MakeFleet) -> tuple[Fleet, Fleet]:
    return make_fleet(count=1), make_fleet(count=1)


@pytest.fixture
def server(two_fleets: tuple[Fleet, Fleet]) -> Iterator[_Server]:
    running = _Server(_server_context(two_fleets[0]))
    yield running
    running.close()


def _connect(context: ssl.SSLContext, port: int) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.recv(2)


def test_minted_device_is_accepted(two_fleets: tuple[Fleet, Fleet], server: _Server) -> None:
    fleet, _ = two_fleets
    assert _connect(_client_context(fleet), server.port) == b"ok"
    # The server identifies the device exactly as AWS does: SHA-256 of the peer certificate.
    assert server.peer_ids == [fleet.devices[0].certificate_id]


def test_server_certificate_names_loopback(
    two_fleets: tuple[Fleet, Fleet], server: _Server
) -> None:
    fleet, _ = two_fleets
    context = _client_context(fleet)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.recv(2) == b"ok"


def test_device_of_another_ca_is_refused(two_fleets: tuple[Fleet, Fleet], server: _Server) -> None:
    fleet, stranger = two_fleets
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        # TLS 1.3 reports the server's refusal of the client certificate on first read.
        _connect(_client_context(fleet, device_fleet=stranger), server.port)
    assert server.peer_ids == []


def test_client_without_certificate_is_refused(
    two_fleets: tuple[Fleet, Fleet], server: _Server
) -> None:
    fleet, _ = two_fleets
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(fleet.ca_cert_path)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _connect(context, server.port)
    assert server.peer_ids == []


def test_server_of_another_ca_is_refused(two_fleets: tuple[Fleet, Fleet], server: _Server) -> None:
    _, stranger = two_fleets
    with pytest.raises(ssl.SSLCertVerificationError):
        _connect(_client_context(stranger), server.port)


def test_key_pem_is_pkcs8_unencrypted(two_fleets: tuple[Fleet, Fleet]) -> None:
    fleet, _ = two_fleets
    pem = fleet.key_path(fleet.devices[0]).read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    serialization.load_pem_private_key(pem, None)
