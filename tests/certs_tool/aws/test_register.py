"""`register_fleet` against moto's server mode: boto3 unchanged, only the endpoint differs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs_tool import Fleet, load_fleet
from certs_tool.aws import (
    AwsInterrupted,
    CaMode,
    CertificateRefusedError,
    RegisterMode,
    RegisterOptions,
    RegisterReport,
    Stopper,
    journal_state,
    register_fleet,
)
from certs_tool.errors import FleetError
from tests.certs_tool.aws.helpers import MotoServer, caller_for, journal_lines, listing, raw_client
from tests.conftest import MakeFleet

GROUP = "fleet-group"


def register(
    fleet: Fleet, url: str, options: RegisterOptions | None = None, **kwargs: Any
) -> tuple[RegisterReport, dict[str, int]]:
    """Register with a fresh caller; the report and the calls made, by API."""
    stopper = Stopper()
    caller = caller_for(url, stopper=stopper, hook=kwargs.pop("hook", None))
    report = register_fleet(
        fleet.root, caller, options or RegisterOptions(), stopper=stopper, **kwargs
    )
    return report, dict(caller.calls())


def test_a_fleet_is_registered_whole(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=20, name="reg")
    report, calls = register(fleet, moto.url, RegisterOptions(thing_group=GROUP))
    assert (report.devices, report.registered, report.kept, report.retried) == (20, 20, 0, 0)
    # Once per fleet: the CA, the policy, the group; five calls per device.
    assert calls == {
        "RegisterCACertificate": 1, "CreatePolicy": 1, "CreateThingGroup": 1,
        "RegisterCertificate": 20, "CreateThing": 20, "AttachThingPrincipal": 20,
        "AttachPolicy": 20, "AddThingToThingGroup": 20,
    }  # fmt: skip
    client = raw_client(moto.url)
    held = listing(client, fleet.metadata.ca_certificate_id)
    assert sorted(held["things"]) == [d.thing_name for d in fleet.devices]
    assert sorted(held["certificates"]) == sorted(d.certificate_id for d in fleet.devices)
    assert held["policies"] == list(fleet.metadata.policies)
    assert held["groups"] == [GROUP]
    ca = client.describe_ca_certificate(certificateId=fleet.metadata.ca_certificate_id)
    assert ca["certificateDescription"]["status"] == "ACTIVE"
    members = client.list_things_in_thing_group(thingGroupName=GROUP)["things"]
    assert sorted(members) == sorted(held["things"])
    for device in fleet.devices:
        cert = client.describe_certificate(certificateId=device.certificate_id)
        arn = cert["certificateDescription"]["certificateArn"]
        assert cert["certificateDescription"]["status"] == "ACTIVE"
        assert client.list_thing_principals(thingName=device.thing_name)["principals"] == [arn]
        attached = client.list_attached_policies(target=arn)["policies"]
        assert [p["policyName"] for p in attached] == list(device.policies)
        thing = client.describe_thing(thingName=device.thing_name)
        assert thing["attributes"] == {"simfleet-fleet": "reg"}


def test_a_rerun_makes_no_call(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=20)
    register(fleet, moto.url, RegisterOptions(thing_group=GROUP))
    lines = journal_lines(fleet.root)
    report, calls = register(fleet, moto.url, RegisterOptions(thing_group=GROUP))
    assert calls == {}
    assert (report.registered, report.kept) == (0, 20)
    assert journal_lines(fleet.root) == lines


def test_an_interrupted_run_resumes(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=20)
    seen: list[int] = []

    def ctrl_c_after_five(done: int) -> None:
        seen.append(done)
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(AwsInterrupted, match=r"interrupted after \d+ of 20 devices"):
        register(fleet, moto.url, RegisterOptions(workers=4), on_progress=ctrl_c_after_five)
    state = journal_state(fleet.root, moto.url)
    first = len(state.certificates)
    assert 5 <= first < 20
    assert seen[0] == 0
    report, calls = register(fleet, moto.url)
    # The second run registers only what the first did not: no certificate twice.
    assert calls["RegisterCertificate"] == 20 - first
    assert report.registered + report.kept == 20
    assert report.kept >= 5
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert len(held["things"]) == len(held["certificates"]) == 20


def test_without_a_ca(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=3)
    _, calls = register(fleet, moto.url, RegisterOptions(mode=RegisterMode.WITHOUT_CA))
    assert calls["RegisterCertificateWithoutCA"] == 3
    assert "RegisterCACertificate" not in calls
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert held["ca"] == []
    assert sorted(held["certificates"]) == sorted(d.certificate_id for d in fleet.devices)


def test_default_ca_mode_proves_the_ca_key(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=1)
    sent: dict[str, Any] = {}

    def capture(*, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "RegisterCACertificate":
            sent.update(json.loads(params["body"]))

    _, calls = register(fleet, moto.url, RegisterOptions(ca_mode=CaMode.DEFAULT), hook=capture)
    assert calls["GetRegistrationCode"] == 1
    assert sent["certificateMode"] == "DEFAULT"
    proof = x509.load_pem_x509_certificate(sent["verificationCertificate"].encode())
    ca = x509.load_pem_x509_certificate(fleet.ca_cert_path.read_bytes())
    assert proof.issuer == ca.subject
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    proof.verify_directly_issued_by(ca)  # signed with the CA key: the point of the proof


def test_resources_that_already_exist_are_adopted(make_fleet: MakeFleet, moto: MotoServer) -> None:
    """A run killed between AWS's answer and the journal line left these unrecorded."""
    fleet = make_fleet(count=2)
    client = raw_client(moto.url)
    first = fleet.devices[0]
    pem = fleet.cert_path(first).read_text()
    client.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")
    name, document = next(fleet.policy_documents())
    client.create_policy(policyName=name, policyDocument=document.decode())
    report, _ = register(fleet, moto.url, RegisterOptions(mode=RegisterMode.WITHOUT_CA))
    assert report.registered == 2
    state = journal_state(fleet.root, moto.url)
    assert state.certificates[first.thing_name].id == first.certificate_id
    assert state.certificates[first.thing_name].arn.endswith(first.certificate_id)
    assert state.policies[name].endswith(f"policy/{name}")


def test_expired_certificates_are_refused_before_any_call(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    fleet = make_fleet(count=2)
    later = datetime.now(UTC) + timedelta(days=4000)
    with pytest.raises(CertificateRefusedError, match="2 device certificates have expired"):
        register(fleet, moto.url, now=later)
    assert journal_lines(fleet.root) == []


def test_a_device_minted_again_must_be_cleaned_up_first(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    fleet = make_fleet(count=1)
    register(fleet, moto.url)
    manifest = fleet.root / "manifest.jsonl"
    line = json.loads(manifest.read_text())
    line["certificateId"] = "f" * 64  # what `mint --force` would leave
    manifest.write_text(json.dumps(line) + "\n")
    with pytest.raises(FleetError, match=r"minted again.*certs-tool cleanup"):
        register(load_fleet(fleet.root), moto.url)


@pytest.fixture(scope="module")
def pem_id_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto as it is by default: certificateId = SHA-256 of the PEM text, not of the DER."""
    server = MotoServer.start(tmp_path_factory.mktemp("moto-pem") / "moto.log", pem_ids=True)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        pytest.param(RegisterMode.WITH_CA, "the fleet CA certificateId", id="ca"),
        pytest.param(RegisterMode.WITHOUT_CA, r"sim-00000\d: AWS gave certificateId", id="device"),
    ],
)
def test_a_target_computing_other_ids_is_refused(
    make_fleet: MakeFleet, pem_id_moto: MotoServer, mode: RegisterMode, message: str
) -> None:
    fleet = make_fleet(count=3)
    with pytest.raises(CertificateRefusedError, match=message):
        register(fleet, pem_id_moto.url, RegisterOptions(mode=mode))
    # What AWS created is journaled all the same, so that cleanup can remove it.
    records = [json.loads(line) for line in journal_lines(fleet.root)]
    assert records
    assert all(r["id"] != fleet.metadata.ca_certificate_id for r in records if "id" in r)


def test_journal_path_is_in_the_fleet(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=1)
    register(fleet, moto.url)
    assert (Path(fleet.root) / "aws-journal.jsonl").is_file()
