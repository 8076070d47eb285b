"""What AWS IoT checks in a certificate it is asked to register, with no I/O: time is passed in.

AWS's "Certificate signing algorithms supported by AWS IoT" (developer guide, x509-client-certs;
spec §5): keys RSA of 2048 bits or more, or EC on NIST P-256, P-384 or P-521; signatures RSA
(PKCS #1 v1.5 or PSS) or ECDSA with SHA-256/384/512, or DSA with SHA-256. A certificate outside
its validity period is refused too. Every refusal is CertificateValidationException (400).

Choices [U] (AWS documents what it accepts, not its messages): the messages say what was
found and what AWS accepts; a PEM holding several certificates is read for its first one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from simfleet.emulator.errors import AwsError

MIN_RSA_BITS: Final = 2048
_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_SIGNATURES: Final = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        SignatureAlgorithmOID.DSA_WITH_SHA256,
    }
)
_PSS_HASHES: Final = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


def certificate_invalid(message: str) -> AwsError:
    return AwsError("CertificateValidationException", message, 400)


def load_certificate(pem: str) -> x509.Certificate:
    """The (first) certificate of a PEM string, or CertificateValidationException."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise certificate_invalid("The certificate is not a valid PEM X.509 certificate.") from None


def check_usable(certificate: x509.Certificate, now: float) -> None:
    """Refuse a certificate AWS would not register: out of its validity period, or a key or
    signature algorithm AWS does not support."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    if moment > certificate.not_valid_after_utc:
        raise certificate_invalid(
            f"The certificate expired on {certificate.not_valid_after_utc.isoformat()}."
        )
    if moment < certificate.not_valid_before_utc:
        raise certificate_invalid(
            f"The certificate is not valid before {certificate.not_valid_before_utc.isoformat()}."
        )
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise certificate_invalid(
                f"The certificate's RSA key has {key.key_size} bits; AWS IoT requires at least "
                f"{MIN_RSA_BITS}."
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise certificate_invalid(
                f"The certificate's EC key is on {key.curve.name}; AWS IoT supports NIST P-256, "
                "P-384 and P-521."
            )
    else:
        raise certificate_invalid(
            f"The certificate's key algorithm ({type(key).__name__.removeprefix('_')}) is not "
            "supported; AWS IoT supports RSA (2048 bits or more) and EC (P-256, P-384, P-521)."
        )
    oid = certificate.signature_algorithm_oid
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        supported = isinstance(certificate.signature_hash_algorithm, _PSS_HASHES)
    else:
        supported = oid in _SIGNATURES
    if not supported:
        raise certificate_invalid(
            f"The certificate's signature algorithm ({oid.dotted_string}) is not supported; "
            "AWS IoT supports RSA, ECDSA and DSA signatures with SHA-256, SHA-384 or SHA-512."
        )


def check_ca(certificate: x509.Certificate, now: float) -> None:
    """RegisterCACertificate: a usable certificate whose basic constraints make it a CA."""
    check_usable(certificate, now)
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.value.ca:
        raise certificate_invalid("The certificate is not a CA certificate (basicConstraints).")


def is_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s key signed `certificate` (and its subject is the issuer named)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
