"""What the broker's TLS lets through as registration changes (tls_trust.py): devices of a CA
registered through the API, and certificates registered without a CA whatever their issuer,
connect; a certificate of an unregistered foreign CA fails the handshake. TlsTrust adds an
anchor only when the issuer is not trusted already."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any

from certs_tool import Fleet
from simfleet.emulator.broker.counters import RefusalReason
from simfleet.emulator.tls_trust import TlsTrust
from tests.emulator.registration.helpers import (
    Running,
    issue,
    other_ca,
    pem,
    write_credential,
)

ALLOW_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
)


def _give_thing_and_policy(iot: Any, certificate_arn: str, thing: str) -> None:
    if "allow-all" not in {p["policyName"] for p in iot.list_policies()["policies"]}:
        iot.create_policy(policyName="allow-all", policyDocument=ALLOW_ALL)
    iot.create_thing(thingName=thing)
    iot.attach_thing_principal(thingName=thing, principal=certificate_arn)
    iot.attach_policy(policyName="allow-all", target=certificate_arn)


def test_a_device_of_a_ca_registered_later_connects(
    running: Running, iot: Any, tmp_path: Path
) -> None:
    ca_certificate, ca_key = other_ca()
    certificate_key = other_ca("device key holder")[1]
    device = issue(
        running.fleet, key=certificate_key, name="foreign-1", issuer=(ca_certificate, ca_key)
    )
    files = write_credential(tmp_path / "foreign", device, certificate_key)
    refused = running.client(*files, "foreign-1")
    assert refused.connect() is None  # its CA is not trusted: the handshake fails
    refused.stop()
    assert running.emulator.broker.counters.tls_failures == 1

    iot.register_ca_certificate(
        caCertificate=pem(ca_certificate), certificateMode="SNI_ONLY", setAsActive=True
    )
    arn = iot.register_certificate(
        certificatePem=pem(device), caCertificatePem=pem(ca_certificate), status="ACTIVE"
    )["certificateArn"]
    _give_thing_and_policy(iot, arn, "foreign-1")

    client = running.client(*files, "foreign-1")
    assert client.connect() == 0
    client.close()
    # The Jobs HTTPS API's TLS trusts it from now on too.
    assert _get_pending(running, files) == (200, {"inProgressJobs": [], "queuedJobs": []})


def _get_pending(running: Running, files: tuple[Path, Path]) -> tuple[int, Any]:
    """GetPendingJobExecutions with the device's certificate, as a device does over HTTPS."""
    context = ssl.create_default_context(cafile=running.ready["ca_file"])
    context.load_cert_chain(*files)
    connection = http.client.HTTPSConnection(
        "localhost", int(running.ready["jobs_port"]), context=context, timeout=10
    )
    try:
        connection.request("GET", "/things/foreign-1/jobs")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_certificate_registered_without_its_ca_connects(
    running: Running, iot: Any, tmp_path: Path
) -> None:
    issuer = other_ca("never registered")
    key = other_ca("key")[1]
    device = issue(running.fleet, key=key, name="solo-1", issuer=issuer)
    files = write_credential(tmp_path / "solo", device, key)
    arn = iot.register_certificate_without_ca(certificatePem=pem(device), status="ACTIVE")[
        "certificateArn"
    ]
    _give_thing_and_policy(iot, arn, "solo-1")
    client = running.client(*files, "solo-1")
    assert client.connect() == 0
    client.close()
    # A sibling signed by the same unregistered issuer is not let through by it.
    sibling = issue(running.fleet, key=key, name="solo-2", issuer=issuer)
    refused = running.client(*write_credential(tmp_path / "sibling", sibling, key), "solo-2")
    assert refused.connect() is None
    refused.stop()
    counters = running.emulator.broker.counters
    assert counters.tls_failures == 1
    assert RefusalReason.UNKNOWN_CERTIFICATE not in counters.connects_refused


def _context(fleet: Fleet) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_verify_locations(fleet.ca_cert_path)
    return context


def test_anchors_are_added_only_for_issuers_not_trusted(fleet: Fleet) -> None:
    context = _context(fleet)
    trust = TlsTrust(context, [fleet.ca_cert_path.read_bytes()])
    assert trust.anchors == 1
    assert context.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    trust.trust(fleet.ca_cert_path.read_bytes())  # the same CA again
    trust.trust(fleet.cert_path(fleet.devices[0]).read_bytes())  # the fleet CA signed it
    assert trust.anchors == 1
    assert context.cert_store_stats()["x509"] == 1

    ca_certificate, ca_key = other_ca()
    trust.trust(pem(ca_certificate).encode())  # a new CA
    trust.trust(pem(issue(fleet, issuer=(ca_certificate, ca_key))).encode())  # signed by it
    assert trust.anchors == 2
    foreign = issue(fleet, issuer=other_ca("unknown"))
    trust.trust(pem(foreign).encode())
    trust.trust(pem(foreign).encode())
    assert trust.anchors == 3
    assert context.cert_store_stats()["x509"] == 3
