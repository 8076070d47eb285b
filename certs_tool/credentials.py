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
        self._not_after = now + timedelta(days=days)
        self._hash = self._ca_key_type.signature_hash()
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key())
        common = (
            x509.CertificateBuilder()
            .issuer_name(authority.cert.subject)
            .not_valid_before(now - BACKDATE)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(aki, critical=False)
        )
        # Builders are immutable, so one per key usage serves every certificate of a run.
        self._builders = {
            is_rsa: common.add_extension(_key_usage(is_rsa=is_rsa), critical=True)
            for is_rsa in (False, True)
        }

    @property
    def not_after(self) -> datetime:
        return self._not_after

    def issue(self, thing_name: str, key_type: KeyType) -> DeviceCredential:
        key = key_type.generate()
        public = key.public_key()
        cert = (
            self._builders[key_type.is_rsa]
            # CN = thing name: the HTTPS Jobs policy resolves the thing from
            # ${iot:Certificate.Subject.CommonName}, since thing variables do not work there.
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .sign(self._authority.key, self._hash)
        )
        return DeviceCredential(
            thing_name=thing_name,
            key_type=key_type,
            key_pem=private_key_pem(key),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            certificate_id=certificate_id(cert),
            not_after=self._not_after,
        )


def _key_usage(*, is_rsa: bool) -> x509.KeyUsage:
    # RSA key exchange (TLS 1.2 RSA suites) needs keyEncipherment; ECDSA keys only sign.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
