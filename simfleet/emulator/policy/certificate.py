"""Read a verified peer certificate into the policy engine's PrincipalContext.

The drivers (MQTT server, Jobs HTTPS API) hold the `cryptography` certificate of the TLS peer;
this is the one place that turns it into the attributes policy variables read (spec §4, §5).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography import x509
from cryptography.x509.oid import NameOID

from certs_tool.authority import certificate_id
from simfleet.emulator.policy.context import (
    CertificateInfo,
    PrincipalContext,
    Protocol,
    ThingIdentity,
)

_DN_OIDS: Mapping[x509.ObjectIdentifier, str] = {
    NameOID.DN_QUALIFIER: "DistinguishedNameQualifier",
    NameOID.COUNTRY_NAME: "Country",
    NameOID.ORGANIZATION_NAME: "Organization",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OrganizationalUnit",
    NameOID.STATE_OR_PROVINCE_NAME: "State",
    NameOID.COMMON_NAME: "CommonName",
    NameOID.SERIAL_NUMBER: "SerialNumber",
    NameOID.TITLE: "Title",
    NameOID.SURNAME: "Surname",
    NameOID.GIVEN_NAME: "GivenName",
    NameOID.INITIALS: "Initials",
    NameOID.PSEUDONYM: "Pseudonym",
    NameOID.GENERATION_QUALIFIER: "GenerationQualifier",
}

_ALT_NAME_TYPES: Mapping[type[x509.GeneralName], str] = {
    x509.RFC822Name: "RFC822Name",
    x509.DNSName: "DNSName",
    x509.DirectoryName: "DirectoryName",
    x509.UniformResourceIdentifier: "UniformResourceIdentifier",
    x509.IPAddress: "IPAddress",
}


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    """The certificate's id, serial number, subject, issuer and alternative names.

    The serial number is written in decimal: AWS does not document the text it substitutes
    for `${iot:Certificate.SerialNumber}` [U].
    """
    return CertificateInfo(
        certificate_id=certificate_id(cert),
        serial_number=str(cert.serial_number),
        subject=_dn_values(cert.subject),
        issuer=_dn_values(cert.issuer),
        subject_alt_names=_alt_names(cert, x509.SubjectAlternativeName),
        issuer_alt_names=_alt_names(cert, x509.IssuerAlternativeName),
    )


def context_from_certificate(
    cert: x509.Certificate,
    *,
    protocol: Protocol,
    region: str,
    account_id: str,
    client_id: str | None = None,
    attached_things: tuple[ThingIdentity, ...] = (),
    source_ip: str | None = None,
) -> PrincipalContext:
    """The principal of a connection that presented `cert` (already verified by TLS)."""
    return PrincipalContext(
        protocol=protocol,
        region=region,
        account_id=account_id,
        certificate=certificate_info(cert),
        client_id=client_id,
        attached_things=attached_things,
        source_ip=source_ip,
    )


def _dn_values(name: x509.Name) -> dict[str, tuple[str, ...]]:
    values: dict[str, list[str]] = {}
    for attribute in name:
        key = _DN_OIDS.get(attribute.oid)
        if key is not None and isinstance(attribute.value, str):
            values.setdefault(key, []).append(attribute.value)
    return {key: tuple(items) for key, items in values.items()}


def _alt_names(
    cert: x509.Certificate, kind: type[x509.SubjectAlternativeName | x509.IssuerAlternativeName]
) -> dict[str, tuple[str, ...]]:
    try:
        extension = cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return {}
    values: dict[str, list[str]] = {}
    for general_name in extension.value:
        key = _ALT_NAME_TYPES.get(type(general_name))
        if key is not None:
            value = general_name.value
            text = value.rfc4514_string() if isinstance(value, x509.Name) else str(value)
            values.setdefault(key, []).append(text)
    return {key: tuple(items) for key, items in values.items()}
