"""The IoT registry: CAs, certificates, things, thing groups, policies and their attachments.

Everything is held in memory, loaded from the store at start and written through on every
change (the write first, so memory never shows what the disk does not have). The broker's hot
path is `principal(certificate_id)`: a dict lookup once the principal has been built, and
principals that carry the same policy names share one tuple of parsed PolicyDocuments.

    Registry ── certificates: CertificateBook   CAs and device certificates (certificate_book)
             ├─ policies: PolicyBook            documents and AttachPolicy (policy_book)
             ├─ tags: Tags                      by resource ARN (tags)
             ├─ ThingGroups                     groups and members (thing_groups)
             └─ Attachments                     certificate -> things, policies (attachments)

The parts share one principal cache, here: any change to a certificate's status, things or
policies drops its principal, so the next CONNECT or HTTPS request sees the change.

Operations that AWS refuses raise AwsError with AWS's code; a fleet directory that contradicts
itself raises certs_tool.FleetError. DeleteThing as AWS answers it: a thing that does not exist
is deleted without error (AWS API reference, DeleteThing), one with principals attached is
refused with AWS's message (aws/aws-connected-device-framework #76, CGI-FR/IoT-Hub-Portal
#2147), and its group memberships go with it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from certs_tool import DeviceRecord, Fleet, FleetError
from certs_tool.authority import der_certificate_id
from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.attachments import Attachments
from simfleet.emulator.certificate_book import CertificateBook, CertificateEvents
from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, already_exists, invalid_request, not_found
from simfleet.emulator.policy import ThingIdentity
from simfleet.emulator.policy_book import PolicyBook
from simfleet.emulator.records import (
    CaCertificate,
    Certificate,
    CertificateStatus,
    Policy,
    Thing,
    ThingGroup,
)
from simfleet.emulator.store import Store
from simfleet.emulator.tags import Tags
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


class Registry:
    """The registry of one emulator, backed by `store`."""

    def __init__(
        self, store: Store, *, clock: Clock, events: CertificateEvents | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._attachments = Attachments()
        self._attachments.add_certificates(store.certificate_ids())
        self._things = {t.name: t for t in store.things()}
        self._groups = ThingGroups(store, clock=clock)
        self._principals: dict[str, Principal] = {}
        self.certificates = CertificateBook(
            store, self._attachments, clock=clock, forget=self._forget, events=events
        )
        self.policies = PolicyBook(store, self._attachments, forget=self._forget)
        self.tags = Tags(store)
        self._attach_things(store.thing_principals())
        self._attachments.attach_policies(
            (p, c) for p, c in store.policy_targets() if p in self.policies
        )

    # --- the broker's view ----------------------------------------------------------------

    def principal(self, certificate_id: str) -> Principal | None:
        """The principal of a certificate, or None if the certificate is not registered.

        A principal whose status is not ACTIVE is returned as such: the broker refuses it,
        and can log why.
        """
        found = self._principals.get(certificate_id)
        if found is None:
            if certificate_id not in self._attachments:
                return None
            certificate = self.certificate(certificate_id)
            found = Principal(
                certificate_id=certificate_id,
                certificate_pem=certificate.pem,
                status=certificate.status.value,
                things=tuple(
                    _identity(self._things[name])
                    for name in self._attachments.things_of(certificate_id)
                ),
                policies=self.policies.documents(self._attachments.policies_of(certificate_id)),
            )
            self._principals[certificate_id] = found
        return found

    def trusted_ca_certificates(self) -> list[bytes]:
        """The PEMs of the ACTIVE CA certificates."""
        return [ca.pem for ca in self.certificates.cas() if ca.status is CertificateStatus.ACTIVE]

    def _forget(self, certificate_id: str | None) -> None:
        """A certificate's status, things or policies changed (None: maybe every one's)."""
        if certificate_id is None:
            self._principals.clear()
        else:
            self._principals.pop(certificate_id, None)

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
        new_ca = not self.certificates.has_ca(ca.certificate_id)
        changed_policies = self.policies.fleet_changes(fleet)
        devices = [d for d in fleet.devices if not self._is_registered(d)]
        if not (new_ca or changed_policies or devices):
            return 0
        known_policies = {p.name for p in self.policies.all()} | {
            p.name for p, _ in changed_policies
        }
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
            self.certificates.remember_ca(ca)
        self.policies.adopt(changed_policies)
        self._attachments.add_certificates(plan.certificates)
        self._things.update(plan.things)
        self._attach_things(plan.thing_pairs)
        self._attachments.attach_policies(plan.policy_pairs)
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
        attachments = self._attachments
        for device in devices:
            certificate_id, thing_name = device.certificate_id, device.thing_name
            if not known_policies.issuperset(device.policies):
                # What AttachPolicy answers for a policy that was never created.
                missing = sorted(set(device.policies) - known_policies)
                raise not_found(f"policy {missing[0]} (attached to {thing_name})")
            if certificate_id not in attachments:
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
            if thing_name not in attachments.things_of(certificate_id):
                plan.thing_pairs.append((thing_name, certificate_id))
            policies = attachments.policies_of(certificate_id)
            for policy in device.policies:
                if policy not in policies:
                    plan.policy_pairs.append((policy, certificate_id))
        return plan

    def _is_registered(self, device: DeviceRecord) -> bool:
        certificate_id = device.certificate_id
        policies = self._attachments.policies_of(certificate_id)
        return (
            device.thing_name in self._things
            and device.thing_name in self._attachments.things_of(certificate_id)
            and all(p in policies for p in device.policies)
        )

    # --- certificates and policies (see certificate_book.py, policy_book.py) -------------

    def certificate(self, certificate_id: str) -> Certificate:
        return self.certificates.certificate(certificate_id)

    def set_certificate_status(self, certificate_id: str, status: CertificateStatus) -> None:
        """UpdateCertificate: a certificate that leaves ACTIVE loses its open connections."""
        self.certificates.set_status(certificate_id, status)

    def policy(self, name: str) -> Policy:
        return self.policies.get(name)

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
                raise already_exists(
                    f"thing {name} already exists with different attributes",
                    resource_id=existing.thing_id,
                )
            return existing
        thing = Thing(name=name, thing_id=new_id(), attributes=dict(attributes))
        self._store.put_things([thing])
        self._things[name] = thing
        return thing

    def delete_thing(self, name: str, *, expected_version: int | None = None) -> bool:
        """DeleteThing (see the module docstring); False if there was no such thing."""
        thing = self._things.get(name)
        if thing is None:
            return False
        if expected_version is not None and expected_version != thing.version:
            raise AwsError(
                "VersionConflictException",
                f"The version of thing {name} is {thing.version}, not {expected_version}.",
                409,
            )
        if self._attachments.principals_of(name):
            raise invalid_request(
                f"Cannot delete. Thing {name} is still attached to one or more principals"
            )
        self._store.delete_thing(name)
        self._groups.forget_thing(name)
        del self._things[name]
        return True

    def attach_thing_principal(self, thing: str, certificate_id: str) -> None:
        """AttachThingPrincipal; attached again, nothing changes."""
        self.thing(thing)
        self.certificate(certificate_id)
        if thing not in self._attachments.things_of(certificate_id):
            self._store.attach_thing_principals([(thing, certificate_id)])
            self._attach_things([(thing, certificate_id)])
            self._forget(certificate_id)

    def detach_thing_principal(self, thing: str, certificate_id: str) -> None:
        """DetachThingPrincipal. [U] A pair that is not attached is ResourceNotFoundException,
        as moto answers."""
        self.thing(thing)
        self.certificate(certificate_id)
        if thing not in self._attachments.things_of(certificate_id):
            raise not_found(f"certificate {certificate_id} is not attached to thing {thing}")
        self._store.detach_thing_principal(thing, certificate_id)
        self._attachments.detach_thing(thing, certificate_id)
        self._forget(certificate_id)

    def thing_principals(self, thing: str) -> tuple[str, ...]:
        """The certificate ids attached to `thing` (ListThingPrincipals)."""
        self.thing(thing)
        return self._attachments.principals_of(thing)

    def principal_things(self, certificate_id: str) -> tuple[str, ...]:
        """The things attached to a certificate (ListPrincipalThings)."""
        self.certificate(certificate_id)
        return self._attachments.things_of(certificate_id)

    def policy_targets(self, policy: str) -> Iterator[str]:
        """The certificate ids `policy` is attached to (ListTargetsForPolicy)."""
        self.policies.get(policy)
        return self._attachments.policy_targets(policy)

    def attached_policies(self, certificate_id: str) -> tuple[str, ...]:
        """The policies attached to a certificate (ListAttachedPolicies)."""
        self.certificate(certificate_id)
        return self._attachments.policies_of(certificate_id)

    # --- thing groups (see thing_groups.py) ----------------------------------------------

    @property
    def groups(self) -> ThingGroups:
        return self._groups

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

    def remove_thing_from_thing_group(self, group: str, thing: str) -> None:
        self.thing(thing)
        self._groups.remove_member(group, thing)

    def thing_group_members(self, group: str) -> list[str]:
        return self._groups.members(group)

    # --- internals ------------------------------------------------------------------------

    def _attach_things(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(thing, certificate) pairs, with the Thing's own name string (no other copy)."""
        things = self._things
        self._attachments.attach_things(
            (things[name].name, certificate_id) for name, certificate_id in pairs if name in things
        )


def _key(certificate: Certificate) -> str:
    return certificate.certificate_id


def _identity(thing: Thing) -> ThingIdentity:
    return ThingIdentity(name=thing.name, type_name=thing.type_name, attributes=thing.attributes)


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
