"""Which client certificates the servers' TLS lets through (the broker's and the Jobs HTTPS
API's), as registration changes it.

AWS IoT completes the TLS handshake whatever client certificate a device presents and decides
when the MQTT CONNECT arrives: an unregistered or inactive certificate is closed then, with no
CONNACK (aws/aws-iot-device-sdk-embedded-C #1920, 2024). The emulator decides at CONNECT too
(the registry: registered and ACTIVE), but OpenSSL, through Python's ssl module, only lets a
server trust anchors. So the broker's context trusts:

- the fleet CA, which also signed the emulator's own server certificate;
- every CA registered (RegisterCACertificate, or the fleet CA by register_fleet);
- every certificate registered without a CA (RegisterCertificateWithoutCA) whose issuer is
  not trusted already, as an anchor of its own (`VERIFY_X509_PARTIAL_CHAIN`).

Registration calls add anchors to the live context; the next handshakes see them. Anchors are
never removed: a certificate deleted or deactivated is refused at CONNECT. Adding an anchor
costs OpenSSL 3.0 time linear in the anchors held (quadratic in total), so certificates whose
issuer is trusted (every device of a certs-tool fleet) add none. [U] A certificate registered
without a CA whose issuer has the subject of a trusted CA but another key fails the handshake.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


class TlsTrust:
    """The anchors of one server context; `trust(pem)` adds one if it is needed."""

    def __init__(self, context: ssl.SSLContext, trusted: Iterable[bytes]) -> None:
        """`trusted`: the PEMs `context` already trusts (the fleet CA)."""
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        self._context = context
        self._subjects: set[x509.Name] = set()
        self._anchors: set[bytes] = set()
        for pem in trusted:
            certificate = x509.load_pem_x509_certificate(pem)
            self._subjects.add(certificate.subject)
            self._anchors.add(certificate.public_bytes(Encoding.DER))

    @property
    def anchors(self) -> int:
        return len(self._anchors)

    def trust(self, pem: bytes) -> None:
        """A CA, or a certificate registered without one: let it (or what it signed) through,
        unless its issuer already is trusted."""
        certificate = x509.load_pem_x509_certificate(pem)
        der = certificate.public_bytes(Encoding.DER)
        is_ca = _is_ca(certificate)
        if der in self._anchors or (not is_ca and certificate.issuer in self._subjects):
            return
        self._context.load_verify_locations(cadata=der)
        self._anchors.add(der)
        if is_ca:
            self._subjects.add(certificate.subject)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
