"""Who may call: TLS trust, the registered certificate and its status, no certificate at all,
and how long an idle keep-alive connection lives."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet, load_fleet, mint_devices
from simfleet.emulator.jobs_http import JobsHttpConfig
from simfleet.emulator.records import CertificateStatus
from tests.conftest import MakeFleet
from tests.emulator.jobs_http.helpers import ACCOUNT, REGION, Served, device_context


def _first_byte(port: int, context: ssl.SSLContext, target: str) -> bytes:
    """The first byte answered to a GET, or b"" if the connection was refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                # With TLS 1.3 the server judges the client certificate after the client's
                # side of the handshake is done, so a refusal may show only on this read.
                return tls.recv(1)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_certificate_of_another_ca_is_refused_at_the_handshake(
    served: Served, make_fleet: MakeFleet, things: list[str]
) -> None:
    target = f"/things/{things[0]}/jobs"
    member = device_context(served.fleet, served.fleet.devices[0])
    assert _first_byte(served.port, member, target) == b"H"  # HTTP/1.1 200
    stranger = make_fleet(count=1, name="stranger")
    foreign = device_context(stranger, stranger.devices[0], trust=served.fleet)
    assert _first_byte(served.port, foreign, target) == b""
    assert served.server.counters.device.snapshot() == {"GetPendingJobExecutions": {"ok": 1}}


def test_no_certificate_and_no_signature_is_403(served: Served, things: list[str]) -> None:
    answer = served.anonymous().request("GET", f"/things/{things[0]}/jobs")
    assert (answer.status, answer.error_type) == (403, "MissingAuthenticationTokenException")
    assert (
        served.server.counters.sigv4.count(
            "GetPendingJobExecutions", "MissingAuthenticationTokenException"
        )
        == 1
    )
    assert served.server.counters.device.snapshot() == {}


def test_an_inactive_certificate_is_refused_until_reactivated(
    served: Served, things: list[str]
) -> None:
    device = served.device(0)
    target = f"/things/{things[0]}/jobs"
    assert device.request("GET", target).status == 200
    certificate_id = served.fleet.devices[0].certificate_id

    served.call(
        lambda: served.registry.set_certificate_status(certificate_id, CertificateStatus.INACTIVE)
    )
    # Checked on every call, on the same keep-alive connection.
    refused = device.request("GET", target)
    assert (refused.status, refused.error_type) == (400, "CertificateValidationException")
    assert "INACTIVE" in refused.body["message"]

    served.call(
        lambda: served.registry.set_certificate_status(certificate_id, CertificateStatus.ACTIVE)
    )
    assert device.request("GET", target).status == 200


def test_an_unregistered_certificate_of_the_fleet_ca_is_refused(
    make_fleet: MakeFleet, tmp_path: Path
) -> None:
    fleet = make_fleet(count=1)
    served = Served(fleet, tmp_path / "state")
    try:
        mint_devices(fleet.root, count=2, workers=1)  # minted after registration
        grown = load_fleet(fleet.root)
        newcomer = served.device(1, fleet=grown)
        answer = newcomer.request("GET", f"/things/{grown.devices[1].thing_name}/jobs")
        assert (answer.status, answer.error_type) == (400, "CertificateValidationException")
        assert grown.devices[1].certificate_id in answer.body["message"]
    finally:
        served.close()


def test_policy_denials_are_counted_by_action(served: Served, things: list[str]) -> None:
    device = served.device(0)
    for _ in range(2):
        assert device.request("GET", f"/things/{things[3]}/jobs").status == 403
    assert device.request("PUT", f"/things/{things[3]}/jobs/$next").status == 403
    counters = served.server.counters
    assert counters.policy_denials.snapshot() == {
        "iotjobsdata:GetPendingJobExecutions": 2,
        "iotjobsdata:StartNextPendingJobExecution": 1,
    }
    assert counters.device.count("GetPendingJobExecutions", "ForbiddenException") == 2


@pytest.fixture
def short_keepalive(shared_fleet: Fleet, tmp_path: Path) -> Iterator[Served]:
    config = JobsHttpConfig(region=REGION, account_id=ACCOUNT, keepalive_timeout_seconds=0.3)
    served = Served(shared_fleet, tmp_path / "state", config=config)
    yield served
    served.close()


def test_an_idle_connection_is_closed_after_the_keepalive_timeout(
    short_keepalive: Served, things: list[str]
) -> None:
    device = short_keepalive.device(0)
    target = f"/things/{things[0]}/jobs"
    assert device.request("GET", target).status == 200
    time.sleep(1.0)
    assert device.connection.sock is not None
    assert device.connection.sock.recv(1) == b""  # the server closed it


def test_the_default_keepalive_outlives_a_short_idle(served: Served, things: list[str]) -> None:
    device = served.device(0)
    target = f"/things/{things[0]}/jobs"
    assert device.request("GET", target).status == 200
    sock = device.connection.sock
    time.sleep(1.0)
    assert device.request("GET", target).status == 200
    assert device.connection.sock is sock
    assert JobsHttpConfig(region=REGION, account_id=ACCOUNT).keepalive_timeout_seconds >= 120


def test_close_ends_idle_connections(served: Served, things: list[str]) -> None:
    device = served.device(0)
    assert device.request("GET", f"/things/{things[0]}/jobs").status == 200
    served.run(served.server.close())
    with pytest.raises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
        device.request("GET", f"/things/{things[0]}/jobs")
