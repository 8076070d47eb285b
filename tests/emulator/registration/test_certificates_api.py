"""The certificate operations through boto3 over TLS: CA and device certificates, registered,
described, listed, updated and deleted, and what AWS refuses, with AWS's codes and statuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certs_tool import Fleet
from tests.emulator.registration.helpers import (
    DAY,
    NOW,
    Running,
    ed25519_key,
    issue,
    other_ca,
    pem,
    rsa_key,
)


def _error(call: Callable[[], object]) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


# --- CA certificates ------------------------------------------------------------------------


def test_a_ca_registered_sni_only_is_described_and_listed(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    description = iot.describe_ca_certificate(certificateId=ca_registered)["certificateDescription"]
    assert description["certificateArn"] == running.arn("cacert", ca_registered)
    assert description["status"] == "ACTIVE"
    assert description["certificateMode"] == "SNI_ONLY"
    assert description["autoRegistrationStatus"] == "DISABLE"
    assert description["certificatePem"] == fleet.ca_cert_path.read_text()
    assert description["ownedBy"] == running.ready["account_id"]
    assert description["validity"]["notBefore"] < description["validity"]["notAfter"]
    listed = iot.list_ca_certificates()["certificates"]
    assert [(c["certificateId"], c["status"]) for c in listed] == [(ca_registered, "ACTIVE")]

    code, status, response = _error(
        lambda: iot.register_ca_certificate(caCertificate=fleet.ca_cert_path.read_text())
    )
    assert (code, status) == ("ResourceAlreadyExistsException", 409)
    assert response["resourceId"] == ca_registered
    assert response["resourceArn"] == running.arn("cacert", ca_registered)


def test_default_mode_proves_the_key_with_the_registration_code(iot: Any, fleet: Fleet) -> None:
    ca_certificate, ca_key = other_ca()
    code = iot.get_registration_code()["registrationCode"]
    assert code == iot.get_registration_code()["registrationCode"]
    assert len(code) == 64
    verification = issue(fleet, name=code, issuer=(ca_certificate, ca_key))
    answer = iot.register_ca_certificate(
        caCertificate=pem(ca_certificate),
        verificationCertificate=pem(verification),
        allowAutoRegistration=True,
        tags=[{"Key": "fleet", "Value": "other"}],
    )
    description = iot.describe_ca_certificate(certificateId=answer["certificateId"])
    assert description["certificateDescription"]["certificateMode"] == "DEFAULT"
    assert description["certificateDescription"]["status"] == "INACTIVE"  # setAsActive unset
    assert description["certificateDescription"]["autoRegistrationStatus"] == "ENABLE"
    tags = iot.list_tags_for_resource(resourceArn=answer["certificateArn"])["tags"]
    assert tags == [{"Key": "fleet", "Value": "other"}]


@pytest.mark.parametrize(
    ("case", "code"),
    [
        pytest.param("no-verification", "InvalidRequestException", id="no-verification"),
        pytest.param("wrong-code", "RegistrationCodeValidationException", id="wrong-code"),
        pytest.param("not-signed", "CertificateValidationException", id="not-signed-by-ca"),
        pytest.param("not-a-ca", "CertificateValidationException", id="not-a-ca"),
        pytest.param("garbage", "CertificateValidationException", id="not-pem"),
    ],
)
def test_what_register_ca_certificate_refuses(iot: Any, fleet: Fleet, case: str, code: str) -> None:
    ca_certificate, ca_key = other_ca()
    registration_code = iot.get_registration_code()["registrationCode"]
    arguments: dict[str, Any] = {"caCertificate": pem(ca_certificate)}
    if case == "wrong-code":
        wrong = issue(fleet, name="not-the-code", issuer=(ca_certificate, ca_key))
        arguments["verificationCertificate"] = pem(wrong)
    elif case == "not-signed":
        arguments["verificationCertificate"] = pem(issue(fleet, name=registration_code))
    elif case == "not-a-ca":
        arguments = {"caCertificate": pem(issue(fleet)), "certificateMode": "SNI_ONLY"}
    elif case == "garbage":
        arguments = {
            "caCertificate": "-----BEGIN CERTIFICATE-----\nnope\n",
            "certificateMode": "SNI_ONLY",
        }
    assert _error(lambda: iot.register_ca_certificate(**arguments))[:2] == (code, 400)
    assert iot.list_ca_certificates()["certificates"] == []


def test_a_ca_is_deleted_only_inactive_and_unused(
    iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    device = fleet.devices[0]
    iot.register_certificate(certificatePem=fleet.cert_path(device).read_text())

    def delete() -> object:
        return iot.delete_ca_certificate(certificateId=ca_registered)

    assert _error(delete)[:2] == ("CertificateStateException", 406)
    iot.update_ca_certificate(
        certificateId=ca_registered, newStatus="INACTIVE", newAutoRegistrationStatus="ENABLE"
    )
    description = iot.describe_ca_certificate(certificateId=ca_registered)["certificateDescription"]
    assert (description["status"], description["autoRegistrationStatus"]) == ("INACTIVE", "ENABLE")
    # An INACTIVE CA registers no more devices.
    second = fleet.devices[1]

    def register() -> object:
        return iot.register_certificate(certificatePem=fleet.cert_path(second).read_text())

    assert _error(register)[:2] == ("CertificateStateException", 406)
    assert _error(delete)[:2] == ("CertificateStateException", 406)  # a device is registered
    iot.delete_certificate(certificateId=device.certificate_id)
    delete()
    assert _error(lambda: iot.describe_ca_certificate(certificateId=ca_registered))[:2] == (
        "ResourceNotFoundException",
        404,
    )


def test_unimplemented_ca_members_are_refused_with_501(iot: Any, ca_registered: str) -> None:
    code, status, _ = _error(
        lambda: iot.update_ca_certificate(
            certificateId=ca_registered, registrationConfig={"templateBody": "{}"}
        )
    )
    assert (code, status) == ("NotImplementedException", 501)


# --- device certificates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(({}, "INACTIVE"), id="default-inactive"),
        pytest.param(({"setAsActive": True}, "ACTIVE"), id="set-as-active"),
        pytest.param(({"status": "REVOKED", "setAsActive": True}, "REVOKED"), id="status-wins"),
    ],
)
def test_register_certificate_sets_the_status_asked(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str, case: tuple[dict[str, Any], str]
) -> None:
    arguments, status = case
    device = fleet.devices[0]
    answer = iot.register_certificate(
        certificatePem=fleet.cert_path(device).read_text(),
        caCertificatePem=fleet.ca_cert_path.read_text(),
        **arguments,
    )
    assert answer["certificateId"] == device.certificate_id
    assert answer["certificateArn"] == running.arn("cert", device.certificate_id)
    description = iot.describe_certificate(certificateId=device.certificate_id)
    described = description["certificateDescription"]
    assert (described["status"], described["caCertificateId"]) == (status, ca_registered)
    assert described["certificateMode"] == "SNI_ONLY"
    assert described["validity"]["notAfter"] == device.not_after


def test_register_without_ca_and_already_exists(running: Running, iot: Any, fleet: Fleet) -> None:
    device = fleet.devices[0]
    certificate = fleet.cert_path(device).read_text()
    answer = iot.register_certificate_without_ca(certificatePem=certificate, status="ACTIVE")
    assert answer["certificateId"] == device.certificate_id
    described = iot.describe_certificate(certificateId=device.certificate_id)
    assert "caCertificateId" not in described["certificateDescription"]
    assert described["certificateDescription"]["certificateMode"] == "SNI_ONLY"
    for call in (
        lambda: iot.register_certificate_without_ca(certificatePem=certificate),
        lambda: iot.register_certificate(certificatePem=certificate),
    ):
        code, status, response = _error(call)
        assert (code, status) == ("ResourceAlreadyExistsException", 409)
        assert response["resourceId"] == device.certificate_id
        assert response["resourceArn"] == answer["certificateArn"]


def _bad_certificate(case: str, fleet: Fleet) -> x509.Certificate:
    match case:
        case "expired":
            return issue(fleet, not_before=NOW - 3 * DAY, not_after=NOW - DAY)
        case "not-yet-valid":
            return issue(fleet, not_before=NOW + DAY, not_after=NOW + 2 * DAY)
        case "rsa-1024":
            return issue(fleet, key=rsa_key(1024))
        case "ed25519":
            return issue(fleet, key=ed25519_key())
        case "sha224":  # not among AWS's (SHA-1, which neither accepts, cannot be made here)
            return issue(fleet, algorithm=hashes.SHA224())
        case _:
            return issue(fleet, issuer=other_ca())


@pytest.mark.parametrize(
    "case",
    ["expired", "not-yet-valid", "rsa-1024", "ed25519", "sha224", "unregistered-issuer"],
)
def test_what_register_certificate_refuses(
    iot: Any, fleet: Fleet, ca_registered: str, case: str
) -> None:
    certificate = pem(_bad_certificate(case, fleet))
    code, status, response = _error(lambda: iot.register_certificate(certificatePem=certificate))
    assert (code, status) == ("CertificateValidationException", 400)
    assert response["Error"]["Message"]
    if case != "unregistered-issuer":  # without a CA, only the certificate itself is checked
        without = _error(lambda: iot.register_certificate_without_ca(certificatePem=certificate))
        assert without[:2] == ("CertificateValidationException", 400)
    assert iot.list_certificates()["certificates"] == []


@pytest.mark.parametrize(
    ("case", "code"),
    [
        pytest.param("ca-not-registered", "InvalidRequestException", id="ca-not-registered"),
        pytest.param("not-signed-by-ca", "CertificateValidationException", id="wrong-ca"),
        pytest.param("internal-status", "InvalidRequestException", id="internal-status"),
    ],
)
def test_what_register_certificate_refuses_about_its_ca(
    iot: Any, fleet: Fleet, ca_registered: str, case: str, code: str
) -> None:
    certificate = fleet.cert_path(fleet.devices[0]).read_text()
    arguments: dict[str, Any] = {"certificatePem": certificate}
    if case == "ca-not-registered":
        arguments["caCertificatePem"] = pem(other_ca()[0])
    elif case == "not-signed-by-ca":
        foreign, _ = other_ca()
        iot.register_ca_certificate(caCertificate=pem(foreign), certificateMode="SNI_ONLY")
        arguments["caCertificatePem"] = pem(foreign)
    else:
        arguments["status"] = "PENDING_TRANSFER"
    assert _error(lambda: iot.register_certificate(**arguments))[:2] == (code, 400)


def test_list_certificates_pages_keep_their_place_while_deleting(
    running: Running, iot: Any, fleet: Fleet
) -> None:
    registered = [
        issue(fleet, name=f"d{i}", not_after=NOW + timedelta(days=i + 1)) for i in range(5)
    ]
    ids = [
        iot.register_certificate_without_ca(certificatePem=pem(c))["certificateId"]
        for c in registered
    ]
    seen, marker = [], None
    while True:
        page = iot.list_certificates(
            pageSize=2, ascendingOrder=True, **({"marker": marker} if marker else {})
        )
        for listed in page["certificates"]:
            seen.append(listed["certificateId"])
            iot.delete_certificate(certificateId=listed["certificateId"])  # INACTIVE by default
        marker = page.get("nextMarker")
        if marker is None:
            break
    assert seen == ids
    assert iot.list_certificates()["certificates"] == []
    code, status, _ = _error(lambda: iot.list_certificates(marker="bm9wZQ=="))
    assert (code, status) == ("InvalidRequestException", 400)


def test_listings_newest_first_and_by_ca(iot: Any, fleet: Fleet, ca_registered: str) -> None:
    for device in fleet.devices:
        iot.register_certificate(certificatePem=fleet.cert_path(device).read_text())
    solo = iot.register_certificate_without_ca(certificatePem=pem(issue(fleet, name="solo")))
    newest_first = [c["certificateId"] for c in iot.list_certificates()["certificates"]]
    assert newest_first[0] == solo["certificateId"]
    by_ca = iot.list_certificates_by_ca(caCertificateId=ca_registered, ascendingOrder=True)
    assert [c["certificateId"] for c in by_ca["certificates"]] == [
        d.certificate_id for d in fleet.devices
    ]
    assert iot.list_certificates_by_ca(caCertificateId="0" * 64)["certificates"] == []


def test_force_delete_detaches_policies(iot: Any, fleet: Fleet) -> None:
    device = fleet.devices[0]
    arn = iot.register_certificate_without_ca(certificatePem=fleet.cert_path(device).read_text())[
        "certificateArn"
    ]
    iot.create_policy(
        policyName="p", policyDocument=next(iter(fleet.policy_documents()))[1].decode()
    )
    iot.attach_policy(policyName="p", target=arn)

    def delete(**force: bool) -> object:
        return iot.delete_certificate(certificateId=device.certificate_id, **force)

    assert _error(delete)[:2] == ("DeleteConflictException", 409)
    delete(forceDelete=True)
    assert iot.list_targets_for_policy(policyName="p")["targets"] == []
    iot.delete_policy(policyName="p")
