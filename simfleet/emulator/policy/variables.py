"""Policy variables and condition keys, read from one PrincipalContext (spec §4 "Variables").

Supported names (matched case-insensitively, as IAM matches condition keys; the attribute name
inside `Attributes[...]` stays case-sensitive like the registry's attribute names) [U]:

- `iot:ClientId` (MQTT only) and `aws:SourceIp` (when the driver knows it).
- `iot:Connection.Thing.ThingName`, `.ThingTypeName`, `.Attributes[name]`: MQTT only, and only
  when the client ID names a thing the certificate is attached to.
- `iot:Connection.Thing.IsAttached`: "true" or "false" over MQTT; absent over HTTPS, where no
  thing variable resolves.
- `iot:Certificate.Subject.<attr>` and `.Issuer.<attr>` for the attributes in
  context.DN_ATTRIBUTES; `iot:Certificate.{Subject,Issuer}.AlternativeName.<kind>` for
  context.ALT_NAME_KINDS. Each takes an optional `.N` (the value at index N, so `.1` is the
  second) or `.List` (every value, for ForAnyValue/ForAllValues conditions only); at most five
  values count.
- `iot:Certificate.SerialNumber`.

Not supported, so an unknown name: `iot:Certificate.AvailableKeys`, thing-group and MQTT 5
connect-attribute keys, and every other `aws:` key. Such a name as a `${variable}` stays
literal text; as a condition key it makes the statement fail closed (conditions.py).

AWS leaves a certificate variable unsubstituted when the value holds a wildcard character
(`* $ + ? #`) or is longer than 1024 characters; so does this module. A client ID is always
substituted, which is how a client ID of `+` widens a topicfilter resource (spec §4).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeAlias

from simfleet.emulator.policy.context import (
    ALT_NAME_KINDS,
    DN_ATTRIBUTES,
    MAX_ATTRIBUTE_VALUES,
    PrincipalContext,
    Protocol,
)
from simfleet.emulator.policy.matcher import Pattern, Template, Var, Wild, normalize

_CERT_WILDCARDS = frozenset("*$+?#")
_MAX_SUBSTITUTED_LENGTH = 1024
_DN_BY_LOWER = {name.lower(): name for name in DN_ATTRIBUTES}
_ALT_BY_LOWER = {name.lower(): name for name in ALT_NAME_KINDS}
_THING_PREFIX = "iot:connection.thing."
_CERT_PREFIX = "iot:certificate."
_ATTRIBUTES_OPEN = "attributes["


class Unsupported(enum.Enum):
    """The engine does not know this key; distinct from a known key that has no value."""

    KEY = "unsupported key"


# (values, is a certificate key, is a .List key); values is None when the key has no value.
_Found: TypeAlias = tuple[tuple[str, ...] | None, bool, bool] | Unsupported


class ContextValues:
    """The condition keys and variables of one principal, looked up by name."""

    __slots__ = ("_context", "_thing")

    def __init__(self, context: PrincipalContext) -> None:
        self._context = context
        self._thing = context.connected_thing

    def lookup(self, key: str) -> tuple[str, ...] | Unsupported | None:
        """The key's values; None when the key is known but has no value here."""
        found = self._find(key)
        return found if isinstance(found, Unsupported) else found[0]

    def substitute(self, name: str) -> str | None:
        """The text `${name}` stands for, or None when it stays literal."""
        found = self._find(name)
        if isinstance(found, Unsupported):
            return None
        values, is_certificate, is_list = found
        if values is None or is_list:
            return None
        value = values[0]
        if is_certificate and (
            len(value) > _MAX_SUBSTITUTED_LENGTH or not _CERT_WILDCARDS.isdisjoint(value)
        ):
            return None
        return value

    def resolve(self, template: Template) -> Pattern:
        """The template with every variable filled in (or left as its literal text)."""
        parts: list[str | Wild] = []
        for part in template:
            if isinstance(part, Var):
                value = self.substitute(part.name)
                parts.append(part.text if value is None else value)
            else:
                parts.append(part)
        return normalize(tuple(parts))

    def _find(self, key: str) -> _Found:
        lower = key.lower()
        context = self._context
        if lower == "iot:clientid":
            return _one(context.client_id), False, False
        if lower == "aws:sourceip":
            return _one(context.source_ip), False, False
        if lower.startswith(_THING_PREFIX):
            return self._thing_key(key[len(_THING_PREFIX) :])
        if lower.startswith(_CERT_PREFIX):
            return self._certificate_key(key[len(_CERT_PREFIX) :])
        return Unsupported.KEY

    def _thing_key(self, rest: str) -> _Found:
        thing = self._thing
        lower = rest.lower()
        if lower == "isattached":
            if self._context.protocol is not Protocol.MQTT:
                return None, False, False
            return ("true" if thing is not None else "false",), False, False
        if lower == "thingname":
            return _one(thing.name if thing else None), False, False
        if lower == "thingtypename":
            return _one(thing.type_name if thing else None), False, False
        if lower.startswith(_ATTRIBUTES_OPEN) and rest.endswith("]"):
            name = rest[len(_ATTRIBUTES_OPEN) : -1]
            return _one(thing.attributes.get(name) if thing else None), False, False
        return Unsupported.KEY

    def _certificate_key(self, rest: str) -> _Found:
        items = rest.split(".")
        head = items[0].lower()
        if head == "serialnumber" and len(items) == 1:
            return _one(self._context.certificate.serial_number), True, False
        found = self._certificate_attribute(head, items[1:])
        if found is None:
            return Unsupported.KEY
        values, selector = found
        return _select(values[:MAX_ATTRIBUTE_VALUES], selector)

    def _certificate_attribute(
        self, head: str, items: list[str]
    ) -> tuple[tuple[str, ...], list[str]] | None:
        """The values of `Subject.<attr>` or `Subject.AlternativeName.<kind>` (or Issuer),
        and what follows the name; None when the name is not one AWS exposes."""
        if head not in ("subject", "issuer"):
            return None
        certificate = self._context.certificate
        subject = head == "subject"
        names: Mapping[str, str]
        table: Mapping[str, tuple[str, ...]]
        if items and items[0].lower() == "alternativename":
            items = items[1:]
            names = _ALT_BY_LOWER
            table = certificate.subject_alt_names if subject else certificate.issuer_alt_names
        else:
            names = _DN_BY_LOWER
            table = certificate.subject if subject else certificate.issuer
        canonical = names.get(items[0].lower()) if items else None
        if canonical is None:
            return None
        return table.get(canonical, ()), items[1:]


def _select(values: tuple[str, ...], selector: list[str]) -> _Found:
    """Apply the `.N` / `.List` suffix of a multi-valued certificate key (none: the first)."""
    if not selector:
        return _one(values[0] if values else None), True, False
    word = selector[0]
    if len(selector) == 1 and word.lower() == "list":
        return (values or None), True, True
    if len(selector) == 1 and word.isascii() and word.isdigit():
        index = int(word)
        return _one(values[index] if index < len(values) else None), True, False
    return Unsupported.KEY


def _one(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else (value,)
