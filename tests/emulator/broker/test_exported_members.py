"""The broker package's public API is exactly what ``__all__`` promises, and its TLS context
and counters are what the app relies on."""

from __future__ import annotations

import ssl

from cryptography import x509

from certs_tool import Fleet
from simfleet.emulator import broker
from simfleet.emulator.broker import BrokerCounters, RefusalReason, ssl_context_for_fleet

EXPECTED = {
    "ALPN_MQTT",
    "Broker",
    "BrokerConfig",
    "BrokerCounters",
    "BrokerServer",
    "Cancellable",
    "ClientTransport",
    "ConnectionState",
    "JobsHandler",
    "KeepAlivePolicy",
    "MqttConnection",
    "Principal",
    "PrincipalSource",
    "RefusalReason",
    "Scheduler",
    "ssl_context_for_fleet",
}


def test_all_is_the_curated_api() -> None:
    assert set(broker.__all__) == EXPECTED
    for name in broker.__all__:
        assert getattr(broker, name) is not None


def test_server_context_is_mutual_tls_with_only_the_fleet_ca(shared_fleet: Fleet) -> None:
    context = ssl_context_for_fleet(
        shared_fleet.server_cert_path, shared_fleet.server_key_path, shared_fleet.ca_cert_path
    )
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.num_tickets == 0
    fleet_ca = x509.load_pem_x509_certificate(shared_fleet.ca_cert_path.read_bytes())
    [trusted] = context.get_ca_certs(binary_form=True)
    assert x509.load_der_x509_certificate(trusted) == fleet_ca


def test_session_tickets_can_be_turned_back_on(shared_fleet: Fleet) -> None:
    context = ssl_context_for_fleet(
        shared_fleet.server_cert_path,
        shared_fleet.server_key_path,
        shared_fleet.ca_cert_path,
        session_tickets=2,
    )
    assert context.num_tickets == 2


def test_counters_snapshot_is_flat_ints() -> None:
    counters = BrokerCounters()
    counters.messages_in = 3
    counters.refused(RefusalReason.UNKNOWN_CERTIFICATE)
    counters.refused(RefusalReason.UNKNOWN_CERTIFICATE)
    counters.denials.record("iot:Receive")
    snapshot = counters.snapshot()
    assert snapshot["messages_in"] == 3
    assert snapshot["connects_refused.unknown-certificate"] == 2
    assert snapshot["policy_denials.iot:Receive"] == 1
    assert all(type(value) is int for value in snapshot.values())
