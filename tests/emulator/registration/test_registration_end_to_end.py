"""A fleet registered from scratch through boto3 on an emulator started without it
(`--no-register-fleet`), then its devices connect over mutual TLS; a certificate set INACTIVE
loses its connection and its next CONNECT; the registry survives a restart; clean-up in the
order AWS requires leaves nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certs_tool import Fleet
from simfleet.emulator.broker.counters import RefusalReason
from tests.emulator.registration.helpers import (
    TIMEOUT,
    Running,
    create_fleet_policies,
    register_device,
)


def _register_fleet(iot: Any, fleet: Fleet, *, with_ca: bool) -> list[str]:
    if with_ca:
        iot.register_ca_certificate(
            caCertificate=fleet.ca_cert_path.read_text(),
            certificateMode="SNI_ONLY",
            setAsActive=True,
        )
    create_fleet_policies(iot, fleet)
    return [register_device(iot, fleet, d, with_ca=with_ca) for d in fleet.devices]


@pytest.mark.parametrize(
    "with_ca", [pytest.param(True, id="with-ca"), pytest.param(False, id="without-ca")]
)
def test_a_fleet_registered_through_the_api_connects(
    running: Running, iot: Any, fleet: Fleet, with_ca: bool
) -> None:
    first = fleet.devices[0]
    before = running.device(first)
    # Nothing is registered yet: TLS completes, the CONNECT is closed with no CONNACK (AWS).
    assert before.connect() is None
    before.close()
    refused = running.emulator.broker.counters.connects_refused
    assert refused == {RefusalReason.UNKNOWN_CERTIFICATE: 1}

    arns = _register_fleet(iot, fleet, with_ca=with_ca)

    assert [a.rsplit("/", 1)[1] for a in arns] == [d.certificate_id for d in fleet.devices]
    for device in fleet.devices:
        client = running.device(device)
        assert client.connect() == 0
        client.close()
    assert running.jobs_status(first) == (200, None)
    counters = running.emulator.broker.counters
    assert counters.connects_accepted == len(fleet.devices)


def test_an_inactive_certificate_is_disconnected_and_refused(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    create_fleet_policies(iot, fleet)
    kept, revoked = fleet.devices[:2]
    register_device(iot, fleet, kept)
    register_device(iot, fleet, revoked)
    other, device = running.device(kept), running.device(revoked)
    assert other.connect() == 0
    assert device.connect() == 0

    iot.update_certificate(certificateId=revoked.certificate_id, newStatus="INACTIVE")

    assert device.disconnected.wait(TIMEOUT)
    assert not other.disconnected.is_set()
    device.stop()
    again = running.device(revoked)
    assert again.connect() is None
    again.stop()
    refused = running.emulator.broker.counters.connects_refused
    assert refused == {RefusalReason.INACTIVE_CERTIFICATE: 1}
    assert running.jobs_status(revoked) == (400, "CertificateValidationException")
    assert running.jobs_status(kept) == (200, None)
    # ACTIVE again: it connects again.
    iot.update_certificate(certificateId=revoked.certificate_id, newStatus="ACTIVE")
    back = running.device(revoked)
    assert back.connect() == 0
    back.close()
    other.close()


def test_revoked_closes_every_connection_of_the_certificate(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    create_fleet_policies(iot, fleet)
    device = fleet.devices[0]
    register_device(iot, fleet, device)
    client = running.device(device)
    assert client.connect() == 0
    iot.update_certificate(certificateId=device.certificate_id, newStatus="REVOKED")
    assert client.disconnected.wait(TIMEOUT)
    client.stop()
    description = iot.describe_certificate(certificateId=device.certificate_id)
    assert description["certificateDescription"]["status"] == "REVOKED"


def test_the_registry_survives_a_restart(fleet: Fleet, tmp_path: Path) -> None:
    first = Running(fleet, tmp_path / "state")
    try:
        _register_fleet(first.iot(), fleet, with_ca=False)
    finally:
        first.close()
    second = Running(fleet, tmp_path / "state")
    try:
        client = second.device(fleet.devices[1])
        assert client.connect() == 0
        client.close()
        listed = second.iot().list_certificates()["certificates"]
        assert {c["certificateId"] for c in listed} == {d.certificate_id for d in fleet.devices}
    finally:
        second.close()


def test_clean_up_in_aws_order_leaves_nothing(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    arns = _register_fleet(iot, fleet, with_ca=False)
    iot.create_thing_group(thingGroupName="fleet-group", tags=[{"Key": "fleet", "Value": "x"}])
    for device in fleet.devices:
        iot.add_thing_to_thing_group(thingGroupName="fleet-group", thingName=device.thing_name)
    [policy] = fleet.devices[0].policies
    first = fleet.devices[0]

    # Each step AWS refuses until the one before it is done.
    with pytest.raises(iot.exceptions.CertificateStateException):
        iot.delete_certificate(certificateId=first.certificate_id)
    with pytest.raises(iot.exceptions.DeleteConflictException):
        iot.delete_policy(policyName=policy)
    with pytest.raises(iot.exceptions.InvalidRequestException, match="still attached"):
        iot.delete_thing(thingName=first.thing_name)
    iot.update_certificate(certificateId=first.certificate_id, newStatus="INACTIVE")
    with pytest.raises(iot.exceptions.DeleteConflictException, match="Things must be detached"):
        iot.delete_certificate(certificateId=first.certificate_id)
    iot.detach_thing_principal(thingName=first.thing_name, principal=arns[0])
    with pytest.raises(iot.exceptions.DeleteConflictException, match="policies must be detached"):
        iot.delete_certificate(certificateId=first.certificate_id)

    for device, arn in zip(fleet.devices, arns, strict=True):
        iot.update_certificate(certificateId=device.certificate_id, newStatus="INACTIVE")
        iot.detach_policy(policyName=policy, target=arn)
        if device is not first:
            iot.detach_thing_principal(thingName=device.thing_name, principal=arn)
        iot.delete_certificate(certificateId=device.certificate_id)
        iot.delete_thing(thingName=device.thing_name)
    iot.delete_thing_group(thingGroupName="fleet-group")
    iot.delete_policy(policyName=policy)
    iot.update_ca_certificate(certificateId=ca_registered, newStatus="INACTIVE")
    iot.delete_ca_certificate(certificateId=ca_registered)

    assert iot.list_certificates()["certificates"] == []
    assert iot.list_ca_certificates()["certificates"] == []
    assert iot.list_things()["things"] == []
    assert iot.list_thing_groups()["thingGroups"] == []
    assert iot.list_policies()["policies"] == []
    # Gone for the broker too.
    client = running.device(first)
    assert client.connect() is None
    client.stop()
