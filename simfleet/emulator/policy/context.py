"""What the policy engine knows about a principal when it connects (MQTT) or calls (HTTPS).

Everything here is fixed for the life of a connection, which is why the engine can resolve
every policy variable and condition once, at CONNECT (spec §4 "Variables").
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from simfleet.emulator.policy.errors import InvalidContextError

# The distinguished-name attributes AWS exposes as iot:Certificate.Subject.* and .Issuer.*
# (developer guide, "X.509 Certificate AWS IoT Core policy variables"). Locality is not listed
# there, so it is not exposed.
DN_ATTRIBUTES = (
    "DistinguishedNameQualifier",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "CommonName",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
)

# The alternative-name kinds AWS exposes as iot:Certificate.{Subject,Issuer}.AlternativeName.*.
ALT_NAME_KINDS = (
    "RFC822Name",
    "DNSName",
    "DirectoryName",
    "UniformResourceIdentifier",
    "IPAddress",
)

# "Certificate attributes that contain arrays are limited to five items. Additional items are
# ignored." (same page, "X.509 Certificate policy variable limitations").
MAX_ATTRIBUTE_VALUES = 5


class Protocol(enum.Enum):
    """How the principal reached IoT Core; thing variables resolve only over MQTT (spec §4)."""

    MQTT = "MQTT"
    HTTPS = "HTTPS"


@dataclass(frozen=True, kw_only=True)
class ThingIdentity:
    """A registry thing the certificate is attached to (AttachThingPrincipal, spec §5)."""

    name: str
    type_name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


@dataclass(frozen=True, kw_only=True)
class CertificateInfo:
    """The parts of the device certificate that policy variables and condition keys read.

    `subject` and `issuer` map DN_ATTRIBUTES names to their values in certificate order;
    `subject_alt_names` and `issuer_alt_names` map ALT_NAME_KINDS names likewise. Names not in
    those lists are refused, so that a typo cannot silently hide a value.
    """

    certificate_id: str
    serial_number: str | None = None
    subject: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    issuer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subject_alt_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    issuer_alt_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("subject", DN_ATTRIBUTES),
            ("issuer", DN_ATTRIBUTES),
            ("subject_alt_names", ALT_NAME_KINDS),
            ("issuer_alt_names", ALT_NAME_KINDS),
        ):
            values: Mapping[str, tuple[str, ...]] = getattr(self, name)
            unknown = set(values) - set(allowed)
            if unknown:
                raise InvalidContextError(
                    f"CertificateInfo.{name}: unknown attributes {', '.join(sorted(unknown))}"
                )
            frozen = {key: tuple(items) for key, items in values.items() if items}
            object.__setattr__(self, name, MappingProxyType(frozen))


@dataclass(frozen=True, kw_only=True)
class PrincipalContext:
    """One connection's identity: protocol, certificate, client ID, attached things, address.

    `client_id` is required over MQTT and must be None over HTTPS (the Jobs HTTPS API has no
    client ID). `attached_things` lists every thing the certificate is attached to; the one
    whose name equals the client ID, if any, is the connection's thing (spec §4: thing
    variables resolve only when clientId == thingName and the certificate is attached).
    """

    protocol: Protocol
    region: str
    account_id: str
    certificate: CertificateInfo
    client_id: str | None = None
    attached_things: tuple[ThingIdentity, ...] = ()
    source_ip: str | None = None

    def __post_init__(self) -> None:
        if self.protocol is Protocol.MQTT and self.client_id is None:
            raise InvalidContextError("an MQTT principal needs a client_id")
        if self.protocol is Protocol.HTTPS and self.client_id is not None:
            raise InvalidContextError("an HTTPS principal has no client_id")
        if not self.region or not self.account_id:
            raise InvalidContextError("region and account_id must be non-empty")
        if self.source_ip is not None:
            try:
                ipaddress.ip_address(self.source_ip)
            except ValueError:
                raise InvalidContextError(f"source_ip {self.source_ip!r} is not an IP") from None
        object.__setattr__(self, "attached_things", tuple(self.attached_things))

    @property
    def connected_thing(self) -> ThingIdentity | None:
        """The thing the thing variables describe, or None when they do not resolve."""
        if self.protocol is not Protocol.MQTT:
            return None
        for thing in self.attached_things:
            if thing.name == self.client_id:
                return thing
        return None
