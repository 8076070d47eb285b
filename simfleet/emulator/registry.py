"""The IoT registry: CAs, certificates, things, thing groups, policies and their attachments.

Everything is held in memory, loaded from the store at start and written through on every
change (the write first, so memory never shows what the disk does not have). The broker's hot
path is `principal(certificate_id)`: a dict lookup once the principal has been built, and
principals that carry the same policy names share one tuple of parsed PolicyDocuments.

Operations that AWS refuses raise AwsError with AWS's code; a fleet directory that contradicts
itself raises certs_tool.FleetError.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from certs_tool import DeviceRecord, Fleet, FleetError, InvalidInputError
from certs_tool.authority import der_certificate_id
from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, already_exists, not_found
from simfleet.emulator.policy import ThingIdentity
from simfleet.emulator.records import (
    CaCertificate,
    Certificate,
    CertificateStatus,
    Policy,
    Thing,
    ThingGroup,
)
from simfleet.emulator.store import Store
from simfleet.emulator.thing_groups import ThingGroups, new_id

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """What the broker needs of a certificate at CONNECT (docs/emulator.md, "Registry")."""

    certificate_id: str
    certificate_pem: bytes  # to build the policy context (subject, issuer, SANs)
    status: str  # a CertificateStatus value; only ACTIVE connects (spec §5)
    things: tuple[ThingIdentity, ...]
    policies: tuple[PolicyDocument, ...]

    @property
    def is_active(self) -> bool:
        return self.status == CertificateStatus.ACTIVE


def pem_certificate_id(pem: bytes) -> str:
    """AWS's certificateId of the first certificate in `pem`: hex SHA-256 of its DER (§5).

    Decoding the base64 directly costs a few µs, against tens for an X.509 parse; it matters
    when a 100k-device fleet registers.
    """
    start = pem.find(_PEM_BEGIN)
    end = pem.find(_PEM_END, start)
    if start < 0 or end < 0:
        raise ValueError("no PEM certificate found")
    return der_certificate_id(base64.b64decode(pem[start + len(_PEM_BEGIN) : end]))


@dataclass
class _Registration:
    """The rows one `register_fleet` adds."""

    certificates: dict[str, Certificate] = field(default_factory=dict)
    things: dict[str, Thing] = field(default_factory=dict)
    thing_pairs: list[tuple[str, str]] = field(default_factory=list)  # (thing, certificate)
    policy_pairs: list[tuple[str, str]] = field(default_factory=list)  # (policy, certificate)


_Attached = tuple[tuple[str, ...], tuple[str, ...]]  # (thing names, policy names)
_UNATTACHED: _Attached = ((), ())


class Registry:
    """The registry of one emulator, backed by `store`."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cas = {ca.certificate_id: ca for ca in store.ca_certificates()}
        # Every registered certificate -> (things, policies) attached to it: one dict, one key
        # string per certificate (100k devices). Tuples of policy names are interned: a fleet
        # holds one ("jobs-all",) tuple, not 100k.
        self._certificates: dict[str, _Attached] = dict.fromkeys(
            store.certificate_ids(), _UNATTACHED
        )
        self._things = {t.name: t for t in store.things()}
        self._groups = ThingGroups(store, clock=clock)
        self._policies = {p.name: p for p in store.policies()}
        self._parsed = {name: _parse(p) for name, p in self._policies.items()}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._attach_things(store.thing_principals())
        self._attach_policies(store.policy_targets())
        self._policy_sets: dict[tuple[str, ...], tuple[PolicyDocument, ...]] = {}
        self._principals: dict[str, Principal] = {}

    # --- the broker's view ----------------------------------------------------------------

    def principal(self, certificate_id: str) -> Principal | None:
        """The principal of a certificate, or None if the certificate is not registered.

        A principal whose status is not ACTIVE is returned as such: the broker refuses it,
        and can log why.
        """
        found = self._principals.get(certificate_id)
        if found is None:
            attached = self._certificates.get(certificate_id)
            if attached is None:
                return None
            things, policies = attached
            certificate = self.certificate(certificate_id)
            found = Principal(
                certificate_id=certificate_id,
                certificate_pem=certificate.pem,
                status=certificate.status.value,
                things=tuple(_identity(self._things[name]) for name in things),
                policies=self._policy_set(policies),
            )
            self._principals[certificate_id] = found
        return found

    def trusted_ca_certificates(self) -> list[bytes]:
        """The PEMs of the ACTIVE CA certificates, for the broker's TLS context."""
        return [ca.pem for ca in self._cas.values() if ca.status is CertificateStatus.ACTIVE]

    # --- fleet registration ---------------------------------------------------------------

    def register_fleet(self, fleet: Fleet) -> int:
        """Do what `certs-tool register` does on AWS (docs/emulator.md); return how many devices
        were new. Idempotent: a device already registered, with its certificate attached to its
        thing and its policies, is left exactly as it is (a certificate the control plane has
        since deactivated stays inactive); devices added to the fleet since are registered.
        """
        now = self._clock.now()
        ca_pem = _read(str(fleet.ca_cert_path))
        ca = CaCertificate(
            certificate_id=_certificate_id(ca_pem, str(fleet.ca_cert_path)),
            pem=ca_pem,
            status=CertificateStatus.ACTIVE,
            created_at=now,
        )
        new_ca = ca.certificate_id not in self._cas
        changed_policies = self._changed_policies(fleet)
        devices = [d for d in fleet.devices if not self._is_registered(d)]
        if not (new_ca or changed_policies or devices):
            return 0
        known_policies = self._policies.keys() | {p.name for p, _ in changed_policies}
        plan = self._plan(fleet, devices, ca.certificate_id, known_policies, now)
        with self._store.transaction():
            if new_ca:
                self._store.put_ca_certificate(ca)
            for policy, _ in changed_policies:
                self._store.put_policy(policy)
            # In key order: B-tree appends, a third faster than 100k random inserts.
            self._store.add_certificates(sorted(plan.certificates.values(), key=_key))
            self._store.put_things(plan.things.values())
            self._store.attach_thing_principals(plan.thing_pairs)
            self._store.attach_policies(plan.policy_pairs)
        if new_ca:
            self._cas[ca.certificate_id] = ca
        for policy, parsed in changed_policies:
            self._policies[policy.name] = policy
            self._parsed[policy.name] = parsed
        if changed_policies:
            # Any principal may carry a changed policy: rebuild them as they are next asked for.
            self._policy_sets.clear()
            self._principals.clear()
        self._certificates.update(dict.fromkeys(plan.certificates, _UNATTACHED))
        self._things.update(plan.things)
        self._attach_things(plan.thing_pairs)
        self._attach_policies(plan.policy_pairs)
        for device in devices:
            self._principals.pop(device.certificate_id, None)
        return len(devices)

    def _plan(
        self,
        fleet: Fleet,
        devices: list[DeviceRecord],
        ca_id: str,
        known_policies: set[str],
        now: float,
    ) -> _Registration:
        """What registering `devices` adds: only what the registry does not hold yet."""
        plan = _Registration()
        root = str(fleet.root)
        for device in devices:
            certificate_id, thing_name = device.certificate_id, device.thing_name
            if not known_policies.issuperset(device.policies):
                # What AttachPolicy answers for a policy that was never created.
                missing = sorted(set(device.policies) - known_policies)
                raise not_found(f"policy {missing[0]} (attached to {thing_name})")
            things, policies = self._certificates.get(certificate_id, _UNATTACHED)
            if certificate_id not in self._certificates:
                path = os.path.join(root, device.cert_path)
                pem = _read(path)
                if _certificate_id(pem, path) != certificate_id:
                    raise FleetError(
                        f"{path} is not the certificate {certificate_id} the manifest names;"
                        " run 'certs-tool verify'"
                    )
                plan.certificates[certificate_id] = Certificate(
                    certificate_id=certificate_id,
                    pem=pem,
                    status=CertificateStatus.ACTIVE,
                    created_at=now,
                    ca_certificate_id=ca_id,
                )
            if thing_name not in self._things:
                plan.things[thing_name] = Thing(name=thing_name, thing_id=new_id())
            if thing_name not in things:
                plan.thing_pairs.append((thing_name, certificate_id))
            for policy in device.policies:
                if policy not in policies:
                    plan.policy_pairs.append((policy, certificate_id))
        return plan

    def _changed_policies(self, fleet: Fleet) -> list[tuple[Policy, PolicyDocument]]:
        changed = []
        for name, data in fleet.policy_documents():
            text = data.decode()
            current = self._policies.get(name)
            if current is None or current.document != text:
                # [U] A fleet whose policy file changed gets the new document as the default
                # version, as CreatePolicyVersion --set-as-default would do on AWS.
                version = "1" if current is None else str(int(current.default_version) + 1)
                policy = Policy(name=name, document=text, default_version=version)
                changed.append((policy, _parse(policy)))
        return changed

    def _is_registered(self, device: DeviceRecord) -> bool:
        things, policies = self._certificates.get(device.certificate_id, _UNATTACHED)
        return (
            device.thing_name in self._things
            and device.thing_name in things
            and all(p in policies for p in device.policies)
        )

    # --- certificates and policies --------------------------------------------------------

    def certificate(self, certificate_id: str) -> Certificate:
        found = None
        if certificate_id in self._certificates:
            found = self._store.certificate(certificate_id)
        if found is None:
            raise not_found(f"certificate {certificate_id}")
        return found

    def set_certificate_status(self, certificate_id: str, status: CertificateStatus) -> None:
        """UpdateCertificate. A connected device keeps its connection (the broker only asks at
        CONNECT); its next CONNECT is refused."""
        self.certificate(certificate_id)
        self._store.set_certificate_status(certificate_id, status)
        self._principals.pop(certificate_id, None)

    def policy(self, name: str) -> Policy:
        found = self._policies.get(name)
        if found is None:
            raise not_found(f"policy {name}")
        return found

    def _policy_set(self, names: tuple[str, ...]) -> tuple[PolicyDocument, ...]:
        found = self._policy_sets.get(names)
        if found is None:
            found = tuple(self._parsed[n] for n in names if n in self._parsed)
            self._policy_sets[names] = found
        return found

    # --- things ---------------------------------------------------------------------------

    def thing_exists(self, name: str) -> bool:
        return name in self._things

    def thing(self, name: str) -> Thing:
        found = self._things.get(name)
        if found is None:
            raise not_found(f"thing {name}")
        return found

    def things(self) -> Iterator[Thing]:
        """Every thing, in the order it was created."""
        return iter(self._things.values())

    def create_thing(
        self, name: str, *, type_name: str | None = None, attributes: Mapping[str, str]
    ) -> Thing:
        """CreateThing: the same thing again is answered as created; a different one with the
        same name is ResourceAlreadyExistsException (AWS API reference, CreateThing)."""
        if type_name is not None:
            # The emulator has no thing types (CreateThingType is not implemented).
            raise not_found(f"thing type {type_name}")
        existing = self._things.get(name)
        if existing is not None:
            if dict(existing.attributes) != dict(attributes):
                raise already_exists(f"thing {name} already exists with different attributes")
            return existing
        thing = Thing(name=name, thing_id=new_id(), attributes=dict(attributes))
        self._store.put_things([thing])
        self._things[name] = thing
        return thing

    # --- thing groups (see thing_groups.py) ----------------------------------------------

    def thing_group(self, name: str) -> ThingGroup:
        return self._groups.get(name)

    def create_thing_group(
        self,
        name: str,
        *,
        parent: str | None = None,
        description: str | None = None,
        attributes: Mapping[str, str],
    ) -> ThingGroup:
        return self._groups.create(
            name, parent=parent, description=description, attributes=attributes
        )

    def ancestors(self, name: str) -> list[ThingGroup]:
        return self._groups.ancestors(name)

    def add_thing_to_thing_group(self, group: str, thing: str) -> None:
        self.thing(thing)
        self._groups.add_member(group, thing)

    def thing_group_members(self, group: str) -> list[str]:
        return self._groups.members(group)

    # --- internals ------------------------------------------------------------------------

    def _attach_things(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(thing, certificate) pairs: AttachThingPrincipal."""
        certificates, things = self._certificates, self._things
        for thing_name, certificate_id in pairs:
            attached = certificates.get(certificate_id)
            thing = things.get(thing_name)
            if attached is not None and thing is not None and thing_name not in attached[0]:
                # The Thing's own name string, not another copy of it.
                certificates[certificate_id] = ((*attached[0], thing.name), attached[1])

    def _attach_policies(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(policy, certificate) pairs: AttachPolicy."""
        certificates, interned = self._certificates, self._names
        for policy, certificate_id in pairs:
            attached = certificates.get(certificate_id)
            if attached is not None and policy not in attached[1]:
                names = (*attached[1], policy)
                certificates[certificate_id] = (attached[0], interned.setdefault(names, names))


def _key(certificate: Certificate) -> str:
    return certificate.certificate_id


def _identity(thing: Thing) -> ThingIdentity:
    return ThingIdentity(name=thing.name, type_name=thing.type_name, attributes=thing.attributes)


def _parse(policy: Policy) -> PolicyDocument:
    try:
        return parse_policy(policy.document)
    except InvalidInputError as exc:  # what CreatePolicy answers
        raise AwsError("MalformedPolicyException", f"{policy.name}: {exc}", 400) from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise FleetError(f"cannot read {path}: {exc.strerror}") from None


def _certificate_id(pem: bytes, path: str) -> str:
    try:
        return pem_certificate_id(pem)
    except ValueError as exc:
        raise FleetError(f"{path}: {exc}") from None
