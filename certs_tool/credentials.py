"""Issuing one device credential in memory: the hot path of minting, kept free of I/O so that
the benchmark can measure it alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs_tool.authority import BACKDATE, SigningAuthority, certificate_id
from certs_tool.keys import KeyType, key_type_of, private_key_pem


@dataclass(frozen=True, kw_only=True)
class DeviceCredential:
    thing_name: str
    key_type: KeyType
    key_pem: bytes
    cert_pem: bytes
    certificate_id: str
    not_after: datetime


class Issuer:
    """Signs device certificates under one CA. Built once per worker process: the parts of every
    certificate that do not depend on the device (issuer name, AKI, validity) are computed here."""

    def __init__(self, authority: SigningAuthority, *, now: datetime, days: int) -> None:
        self._authority = authority
        self._ca_key_type = key_type_of(authority.key)
        # X.509 times have whole seconds; the manifest must say exactly what the certificate says.
        now = now.replace(microsecond=0)
        self._not_before = now - BACKDATE
        self._not_after = now + timedelta(days=days)
        self._aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key())
        self._eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
        self._basic = x509.BasicConstraints(ca=False, path_length=None)

    @property
    def not_after(self) -> datetime:
        return self._not_after

    def issue(self, thing_name: str, key_type: KeyType) -> DeviceCredential:
        key = key_type.generate()
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            # CN = thing name: the HTTPS Jobs policy resolves the thing from
            # ${iot:Certificate.Subject.CommonName}, since thing variables do not work there.
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
            .issuer_name(self._authority.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(self._basic, critical=True)
            .add_extension(_key_usage(key_type), critical=True)
            .add_extension(self._eku, critical=False)
            .add_extension(self._aki, critical=False)
            .sign(self._authority.key, self._ca_key_type.signature_hash())
        )
        return DeviceCredential(
            thing_name=thing_name,
            key_type=key_type,
            key_pem=private_key_pem(key),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            certificate_id=certificate_id(cert),
            not_after=self._not_after,
        )


def _key_usage(key_type: KeyType) -> x509.KeyUsage:
    # RSA key exchange (TLS 1.2 RSA suites) needs keyEncipherment; ECDSA keys only sign.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_type.is_rsa,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
