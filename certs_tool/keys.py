"""Key types certs-tool mints, and how each is generated, signed with and serialized."""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs_tool.errors import InvalidInputError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class KeyType(enum.Enum):
    """The key types AWS IoT accepts for device certificates that we offer (spec §5)."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"

    @classmethod
    def parse(cls, text: str) -> KeyType:
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise InvalidInputError(f"unknown key type {text!r} (choose from {choices})") from None

    @property
    def is_rsa(self) -> bool:
        return self in (KeyType.RSA_2048, KeyType.RSA_3072)

    def generate(self) -> PrivateKey:
        match self:
            case KeyType.EC_P256:
                return ec.generate_private_key(ec.SECP256R1())
            case KeyType.EC_P384:
                return ec.generate_private_key(ec.SECP384R1())
            case KeyType.RSA_2048:
                return rsa.generate_private_key(public_exponent=65537, key_size=2048)
            case KeyType.RSA_3072:
                return rsa.generate_private_key(public_exponent=65537, key_size=3072)

    def signature_hash(self) -> hashes.SHA256 | hashes.SHA384:
        # P-384 pairs with SHA-384 as in RFC 5480; AWS accepts ECDSA/RSA with SHA-256/384/512.
        return hashes.SHA384() if self is KeyType.EC_P384 else hashes.SHA256()


def key_type_of(key: object) -> KeyType:
    """The KeyType of a loaded private key, or InvalidInputError if it is not one we mint."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": KeyType.EC_P256, "secp384r1": KeyType.EC_P384}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        by_size = {2048: KeyType.RSA_2048, 3072: KeyType.RSA_3072}
        if key.key_size in by_size:
            return by_size[key.key_size]
    raise InvalidInputError(f"unsupported key: {type(key).__name__}")


def private_key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
