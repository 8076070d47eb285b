"""Which things and policies are attached to each registered certificate, and the reverse, in
memory (the registry writes the store first). No I/O.

Memory is what a 100k-device fleet makes of it: one dict entry per certificate holding two
tuples (thing names, policy names), tuples of policy names interned so that a fleet holds one
("jobs-all",) tuple, not 100k; one entry per attached thing for the reverse lookup that
DeleteThing and ListThingPrincipals need; a count per policy (DeletePolicy). Targets of one
policy are found by a scan (ListTargetsForPolicy: 10 TPS on AWS).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

Attached = tuple[tuple[str, ...], tuple[str, ...]]  # (thing names, policy names)
_UNATTACHED: Attached = ((), ())


class Attachments:
    def __init__(self) -> None:
        self._certificates: dict[str, Attached] = {}
        self._principals: dict[str, tuple[str, ...]] = {}  # thing -> certificate ids
        self._policy_targets: dict[str, int] = {}  # policy -> how many certificates
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __contains__(self, certificate_id: object) -> bool:
        return certificate_id in self._certificates

    def __len__(self) -> int:
        return len(self._certificates)

    def add_certificates(self, certificate_ids: Iterable[str]) -> None:
        """Registered certificates, with nothing attached yet (known ones are left alone)."""
        certificates = self._certificates
        for certificate_id in certificate_ids:
            certificates.setdefault(certificate_id, _UNATTACHED)

    def remove_certificate(self, certificate_id: str) -> None:
        """DeleteCertificate (the caller has refused it while things are attached): its
        policies go with it (forceDelete)."""
        for policy in self.policies_of(certificate_id):
            self._count(policy, -1)
        self._certificates.pop(certificate_id, None)

    def things_of(self, certificate_id: str) -> tuple[str, ...]:
        return self._certificates.get(certificate_id, _UNATTACHED)[0]

    def policies_of(self, certificate_id: str) -> tuple[str, ...]:
        return self._certificates.get(certificate_id, _UNATTACHED)[1]

    def principals_of(self, thing: str) -> tuple[str, ...]:
        """The certificates attached to `thing`, in the order they were attached."""
        return self._principals.get(thing, ())

    def policy_target_count(self, policy: str) -> int:
        return self._policy_targets.get(policy, 0)

    def policy_targets(self, policy: str) -> Iterator[str]:
        """The certificates `policy` is attached to, in registration order."""
        for certificate_id, (_, policies) in self._certificates.items():
            if policy in policies:
                yield certificate_id

    def certificate_ids(self) -> Iterator[str]:
        return iter(self._certificates)

    def attach_things(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(thing, certificate id) pairs: AttachThingPrincipal; a pair attached is left alone.
        Pass the Thing's own name string, so that no other copy of it is kept."""
        certificates, principals = self._certificates, self._principals
        for thing, certificate_id in pairs:
            attached = certificates.get(certificate_id)
            if attached is not None and thing not in attached[0]:
                certificates[certificate_id] = ((*attached[0], thing), attached[1])
                principals[thing] = (*principals.get(thing, ()), certificate_id)

    def detach_thing(self, thing: str, certificate_id: str) -> bool:
        """DetachThingPrincipal; False if the pair was not attached."""
        things, policies = self._certificates.get(certificate_id, _UNATTACHED)
        if thing not in things:
            return False
        self._certificates[certificate_id] = (tuple(t for t in things if t != thing), policies)
        left = tuple(c for c in self._principals.get(thing, ()) if c != certificate_id)
        if left:
            self._principals[thing] = left
        else:
            self._principals.pop(thing, None)
        return True

    def attach_policies(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(policy, certificate id) pairs: AttachPolicy; a pair attached is left alone."""
        certificates = self._certificates
        for policy, certificate_id in pairs:
            attached = certificates.get(certificate_id)
            if attached is not None and policy not in attached[1]:
                certificates[certificate_id] = (attached[0], self._intern((*attached[1], policy)))
                self._count(policy, 1)

    def detach_policy(self, policy: str, certificate_id: str) -> bool:
        """DetachPolicy; False if the pair was not attached."""
        things, policies = self._certificates.get(certificate_id, _UNATTACHED)
        if policy not in policies:
            return False
        kept = self._intern(tuple(p for p in policies if p != policy))
        self._certificates[certificate_id] = (things, kept)
        self._count(policy, -1)
        return True

    def _intern(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return self._names.setdefault(names, names)

    def _count(self, policy: str, change: int) -> None:
        count = self._policy_targets.get(policy, 0) + change
        if count:
            self._policy_targets[policy] = count
        else:
            self._policy_targets.pop(policy, None)
