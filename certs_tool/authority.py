"""The fleet's certificate authority: creating it (with the emulator's server certificate) and
loading it back for signing."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs_tool.errors import AlreadyExistsError, FleetError, InvalidInputError, PassphraseError
from certs_tool.files import PRIVATE, PUBLIC, storage_errors, write_file_atomic
from certs_tool.fleet import FleetMetadata, FleetPaths, read_metadata, write_metadata
from certs_tool.keys import KeyType, PrivateKey, private_key_pem

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest TLS server validity common clients still accept
# Certificates start an hour in the past so that a device whose clock runs behind, or an AWS
# region a few seconds behind ours, does not see a certificate from the future.
BACKDATE = timedelta(hours=1)
FLEET_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def certificate_id(cert: x509.Certificate) -> str:
    """AWS IoT's certificateId: lowercase hex SHA-256 of the DER encoding (spec §5)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def der_certificate_id(der: bytes) -> str:
    """`certificate_id` of a certificate still in DER form (what TLS hands a server)."""
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True, kw_only=True)
class SigningAuthority:
    """A loaded CA, ready to sign: what minting workers need and nothing more."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc


def init_fleet(
    root: Path,
    *,
    key_type: KeyType = KeyType.EC_P256,
    name: str | None = None,
    passphrase: bytes | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> FleetMetadata:
    """Create the fleet directory with a new CA and a server certificate for the emulator.

    An existing CA is kept unless `force`: replacing it orphans every device already minted.
    """
    paths = FleetPaths(root)
    if name is not None and not FLEET_NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid fleet name {name!r}: use 1-64 characters of [a-zA-Z0-9_-]"
        )
    if paths.ca_cert.exists() and not force:
        raise AlreadyExistsError(
            f"{paths.ca_cert} already exists; use --force to replace the CA "
            "(every device minted under the old one stops being trusted)"
        )
    now = now or datetime.now(UTC)
    with storage_errors(root):
        if force:
            # Devices minted under the old CA would no longer chain to anything: drop them with
            # it, manifest first, so no record ever points at a credential of another CA.
            paths.manifest.unlink(missing_ok=True)
            shutil.rmtree(paths.devices, ignore_errors=True)
        for directory in (
            root,
            paths.ca_cert.parent,
            paths.server_cert.parent,
            paths.devices,
            paths.policies,
        ):
            directory.mkdir(parents=True, exist_ok=True)

    ca_key = key_type.generate()
    ca_cert = _build_ca(ca_key, key_type, now)
    ca_id = certificate_id(ca_cert)
    server_key = KeyType.EC_P256.generate()
    server_cert = _build_server(server_key, ca_cert, ca_key, key_type, now)

    # Key before certificate: a crash in between leaves no certificate, so a re-run starts over.
    write_file_atomic(paths.ca_key, private_key_pem(ca_key, passphrase), mode=PRIVATE)
    write_file_atomic(paths.ca_cert, _pem(ca_cert), mode=PUBLIC)
    write_file_atomic(paths.server_key, private_key_pem(server_key), mode=PRIVATE)
    write_file_atomic(paths.server_cert, _pem(server_cert) + _pem(ca_cert), mode=PUBLIC)
    metadata = FleetMetadata(
        name=name or f"simfleet-{ca_id[:6]}",
        ca_certificate_id=ca_id,
        ca_key_type=key_type,
        ca_key_encrypted=passphrase is not None,
    )
    write_metadata(paths, metadata)
    return metadata


def load_authority(root: Path, passphrase: bytes | None) -> SigningAuthority:
    """Load the CA for signing; PassphraseError when the passphrase is missing or wrong."""
    paths = FleetPaths(root)
    metadata = read_metadata(paths)
    try:
        cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        key_pem = paths.ca_key.read_bytes()
    except OSError as exc:
        raise FleetError(
            f"cannot read the fleet CA in {paths.ca_cert.parent}: {exc.strerror}"
        ) from None
    except ValueError:
        raise FleetError(f"{paths.ca_cert} is not a PEM certificate") from None
    if certificate_id(cert) != metadata.ca_certificate_id:
        raise FleetError(f"{paths.ca_cert} is not the CA recorded in {paths.metadata}")
    if metadata.ca_key_encrypted and not passphrase:
        raise PassphraseError(
            "the CA key is encrypted: set CERTS_TOOL_CA_PASSPHRASE or run on a terminal"
        )
    try:
        key = serialization.load_pem_private_key(
            key_pem, password=passphrase if metadata.ca_key_encrypted else None
        )
    except ValueError:
        if metadata.ca_key_encrypted:
            raise PassphraseError("wrong passphrase for the CA key") from None
        raise FleetError(f"{paths.ca_key} is not a PEM private key") from None
    except TypeError as exc:
        raise FleetError(f"{paths.ca_key}: {exc}") from None
    if not isinstance(key, PrivateKey):
        raise FleetError(f"{paths.ca_key} holds a key type certs-tool does not sign with")
    if key.public_key() != cert.public_key():
        raise FleetError(f"{paths.ca_key} does not match {paths.ca_cert}")
    return SigningAuthority(cert=cert, key=key)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _serial() -> int:
    return x509.random_serial_number()


def _build_ca(key: PrivateKey, key_type: KeyType, now: datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "simfleet"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"simfleet fleet CA {os.urandom(4).hex()}"),
        ]
    )
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        # pathlen 0: this CA signs end-entity certificates only.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, key_type.signature_hash())
    )


def _build_server(
    key: PrivateKey,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    ca_key_type: KeyType,
    now: datetime,
) -> x509.Certificate:
    public = key.public_key()
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, ca_key_type.signature_hash())
    )
