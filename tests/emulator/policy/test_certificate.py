"""Reading a peer certificate into the policy engine's principal (spec §4, §5)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certs_tool.authority import certificate_id
from simfleet.emulator.policy import (
    JobsApi,
    Protocol,
    ThingIdentity,
    certificate_info,
    compile_policies,
    context_from_certificate,
)
from tests.emulator.policy.helpers import ACCOUNT, REGION, THING, jobs_https_policy

START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def make_certificate(*, alt_names: bool = True) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AnyCompany"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Seattle"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "SN-7"),
            x509.NameAttribute(NameOID.COMMON_NAME, THING),
        ]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simfleet test CA")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x921285CBB7A5E086)
        .not_valid_before(START)
        .not_valid_after(START + datetime.timedelta(days=1))
    )
    if alt_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("dev-001.example"),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.9")),
                    x509.UniformResourceIdentifier("urn:simfleet:dev-001"),
                    x509.RFC822Name("dev@example.com"),
                    x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir")])),
                ]
            ),
            critical=False,
        ).add_extension(x509.IssuerAlternativeName([x509.DNSName("ca.example")]), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def cert() -> x509.Certificate:
    return make_certificate()


def test_certificate_id_is_sha256_of_der(cert: x509.Certificate) -> None:
    expected = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert certificate_id(cert) == expected
    assert len(expected) == 64
    assert expected == expected.lower()


def test_certificate_info_reads_subject_issuer_and_serial(cert: x509.Certificate) -> None:
    info = certificate_info(cert)
    assert info.certificate_id == certificate_id(cert)
    assert info.serial_number == str(0x921285CBB7A5E086)
    assert dict(info.subject) == {
        "Country": ("US",),
        "Organization": ("Example Corp", "AnyCompany"),
        "SerialNumber": ("SN-7",),
        "CommonName": (THING,),
    }  # Locality is not one of the attributes AWS exposes
    assert dict(info.issuer) == {"CommonName": ("simfleet test CA",)}


def test_certificate_info_reads_alternative_names(cert: x509.Certificate) -> None:
    info = certificate_info(cert)
    assert dict(info.subject_alt_names) == {
        "DNSName": ("dev-001.example",),
        "IPAddress": ("10.0.0.9",),
        "UniformResourceIdentifier": ("urn:simfleet:dev-001",),
        "RFC822Name": ("dev@example.com",),
        "DirectoryName": ("CN=dir",),
    }
    assert dict(info.issuer_alt_names) == {"DNSName": ("ca.example",)}


def test_certificate_without_alternative_names() -> None:
    info = certificate_info(make_certificate(alt_names=False))
    assert dict(info.subject_alt_names) == {}
    assert dict(info.issuer_alt_names) == {}


def test_context_from_certificate_drives_the_https_policy(cert: x509.Certificate) -> None:
    context = context_from_certificate(
        cert,
        protocol=Protocol.HTTPS,
        region=REGION,
        account_id=ACCOUNT,
        attached_things=(ThingIdentity(name=THING),),
        source_ip="127.0.0.1",
    )
    assert context.client_id is None
    assert context.certificate == certificate_info(cert)
    device = compile_policies([jobs_https_policy()], context)
    assert device.can_call_jobs(JobsApi.GET_PENDING_JOB_EXECUTIONS, THING)
    assert not device.can_call_jobs(JobsApi.GET_PENDING_JOB_EXECUTIONS, "dev-002")


def test_context_from_certificate_over_mqtt(cert: x509.Certificate) -> None:
    context = context_from_certificate(
        cert,
        protocol=Protocol.MQTT,
        region=REGION,
        account_id=ACCOUNT,
        client_id=THING,
        attached_things=(ThingIdentity(name=THING),),
    )
    assert context.connected_thing == ThingIdentity(name=THING)
