"""What AWS checks in a certificate it registers (certificate_checks.py), without I/O: validity
period at the time given, key algorithm and size, signature algorithm, CA constraints, issuer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from certs_tool import Fleet
from simfleet.emulator.certificate_checks import (
    check_ca,
    check_usable,
    is_issued_by,
    load_certificate,
)
from simfleet.emulator.errors import AwsError
from tests.emulator.registration.helpers import DAY, NOW, ed25519_key, issue, other_ca, pem, rsa_key

AT = NOW.timestamp()

Make = Callable[[Fleet], x509.Certificate]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(issue, None, id="ec-p256"),
        pytest.param(
            lambda f: issue(f, key=ec.generate_private_key(ec.SECP384R1())), None, id="ec-p384"
        ),
        pytest.param(
            lambda f: issue(f, key=ec.generate_private_key(ec.SECP521R1())), None, id="ec-p521"
        ),
        pytest.param(lambda f: issue(f, key=rsa_key(2048)), None, id="rsa-2048"),
        pytest.param(lambda f: issue(f, algorithm=hashes.SHA512()), None, id="ecdsa-sha512"),
        pytest.param(
            lambda f: issue(f, key=ec.generate_private_key(ec.SECP224R1())),
            "secp224r1",
            id="ec-p224",
        ),
        pytest.param(lambda f: issue(f, key=rsa_key(1024)), "1024 bits", id="rsa-1024"),
        pytest.param(lambda f: issue(f, key=ed25519_key()), "Ed25519", id="ed25519"),
        pytest.param(
            lambda f: issue(f, algorithm=hashes.SHA224()), "signature algorithm", id="sha224"
        ),
        pytest.param(
            lambda f: issue(f, not_before=NOW - 2 * DAY, not_after=NOW - DAY),
            "expired",
            id="expired",
        ),
        pytest.param(
            lambda f: issue(f, not_before=NOW + DAY, not_after=NOW + 2 * DAY),
            "not valid before",
            id="not-yet-valid",
        ),
    ],
)
def test_check_usable(shared_fleet: Fleet, make: Make, message: str | None) -> None:
    certificate = make(shared_fleet)
    if message is None:
        check_usable(certificate, AT)
        return
    with pytest.raises(AwsError) as raised:
        check_usable(certificate, AT)
    assert (raised.value.code, raised.value.status) == ("CertificateValidationException", 400)
    assert message in raised.value.message


def test_the_validity_period_is_read_at_the_time_given(shared_fleet: Fleet) -> None:
    certificate = issue(shared_fleet, not_before=NOW, not_after=NOW + DAY)
    check_usable(certificate, AT + 1)
    with pytest.raises(AwsError):
        check_usable(certificate, AT - 1)
    with pytest.raises(AwsError):
        check_usable(certificate, (NOW + 2 * DAY).timestamp())


def test_rsa_pss_signatures_with_sha256_are_accepted(shared_fleet: Fleet) -> None:
    key = rsa_key(2048)
    ca_certificate, _ = other_ca()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_certificate.subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(
            key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH),
        )
    )
    check_usable(certificate, AT)


def test_check_ca_wants_a_ca(shared_fleet: Fleet) -> None:
    check_ca(load_certificate(shared_fleet.ca_cert_path.read_text()), AT)
    with pytest.raises(AwsError, match="not a CA"):
        check_ca(issue(shared_fleet), AT)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", id="bad-der"
        ),
        pytest.param("hello", id="not-pem"),
    ],
)
def test_load_certificate_refuses_what_is_not_one(text: str) -> None:
    with pytest.raises(AwsError) as raised:
        load_certificate(text)
    assert raised.value.code == "CertificateValidationException"


def test_is_issued_by(shared_fleet: Fleet) -> None:
    fleet_ca = load_certificate(shared_fleet.ca_cert_path.read_text())
    device = load_certificate(shared_fleet.cert_path(shared_fleet.devices[0]).read_text())
    assert is_issued_by(device, fleet_ca)
    foreign: Any = other_ca()
    assert not is_issued_by(device, foreign[0])
    assert not is_issued_by(fleet_ca, device)
    assert is_issued_by(load_certificate(pem(issue(shared_fleet, issuer=foreign))), foreign[0])
