"""IoT Core policies of the registry: the documents, their parsed form, and their attachment to
certificates (CreatePolicy, GetPolicy, DeletePolicy, AttachPolicy, DetachPolicy).

Principals that carry the same policy names share one tuple of parsed documents (`documents`);
the registry's principal cache is told (`forget`) whenever a certificate's policies change, so
the broker and the Jobs HTTPS API apply a change at the next CONNECT or request.

Messages: DeletePolicy's is AWS's (seen in rebuy-de/aws-nuke #374); CreatePolicy's "already
exists" is the one moto answers. [U] DetachPolicy of a pair that is not attached is
ResourceNotFoundException, as moto answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from certs_tool import Fleet, InvalidInputError
from certs_tool.policy import MAX_POLICY_LENGTH, policy_length
from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.attachments import Attachments
from simfleet.emulator.errors import AwsError, already_exists, invalid_request, not_found
from simfleet.emulator.records import Policy
from simfleet.emulator.store import Store

# "Maximum number of policies that can be attached to a certificate" (AWS IoT limits, 2019).
MAX_POLICIES_PER_CERTIFICATE: Final = 10
_NAME = re.compile(r"[\w+=,.@-]{1,128}")  # PolicyName (botocore model)

Forget = Callable[[str | None], None]  # a certificate's principal changed (None: every one)


class PolicyBook:
    def __init__(self, store: Store, attachments: Attachments, *, forget: Forget) -> None:
        self._store = store
        self._attachments = attachments
        self._forget = forget
        self._policies = {p.name: p for p in store.policies()}
        self._parsed = {name: parse(p) for name, p in self._policies.items()}
        self._sets: dict[tuple[str, ...], tuple[PolicyDocument, ...]] = {}

    def get(self, name: str) -> Policy:
        found = self._policies.get(name)
        if found is None:
            raise not_found(f"policy {name}")
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._policies

    def all(self) -> Iterator[Policy]:
        """Every policy, in the order it was created."""
        return iter(self._policies.values())

    def documents(self, names: tuple[str, ...]) -> tuple[PolicyDocument, ...]:
        """The parsed documents of `names`: one shared tuple per distinct tuple of names."""
        found = self._sets.get(names)
        if found is None:
            found = tuple(self._parsed[n] for n in names if n in self._parsed)
            self._sets[names] = found
        return found

    # --- fleet registration (registry.register_fleet) ------------------------------------

    def fleet_changes(self, fleet: Fleet) -> list[tuple[Policy, PolicyDocument]]:
        """The fleet's policies that are new or whose document changed, not yet stored."""
        changed = []
        for name, data in fleet.policy_documents():
            text = data.decode()
            current = self._policies.get(name)
            if current is None or current.document != text:
                # [U] A fleet whose policy file changed gets the new document as the default
                # version, as CreatePolicyVersion --set-as-default would do on AWS.
                version = "1" if current is None else str(int(current.default_version) + 1)
                policy = Policy(name=name, document=text, default_version=version)
                changed.append((policy, parse(policy)))
        return changed

    def adopt(self, changed: list[tuple[Policy, PolicyDocument]]) -> None:
        """The fleet's changed policies, once stored."""
        for policy, parsed in changed:
            self._policies[policy.name] = policy
            self._parsed[policy.name] = parsed
        if changed:
            # Any principal may carry a changed policy: rebuild them as they are next asked for.
            self._sets.clear()
            self._forget(None)

    # --- the control plane ---------------------------------------------------------------

    def create(self, name: str, document: str) -> Policy:
        check_policy_name(name)
        if name in self._policies:
            raise already_exists(
                f"Policy cannot be created - name already exists (name={name})", resource_id=name
            )
        if policy_length(document) > MAX_POLICY_LENGTH:
            raise AwsError(
                "MalformedPolicyException",
                f"The policy document has {policy_length(document)} characters (whitespace not "
                f"counted); AWS IoT accepts at most {MAX_POLICY_LENGTH}.",
                400,
            )
        policy = Policy(name=name, document=document)
        parsed = parse(policy)
        self._store.put_policy(policy)
        self._policies[name] = policy
        self._parsed[name] = parsed
        # A name deleted and created again must not find the old document's tuples.
        self._sets = {names: docs for names, docs in self._sets.items() if name not in names}
        return policy

    def delete(self, name: str) -> None:
        self.get(name)
        if self._attachments.policy_target_count(name):
            raise AwsError(
                "DeleteConflictException",
                "The policy cannot be deleted as the policy is attached to one or more "
                f"principals (name={name})",
                409,
            )
        self._store.delete_policy(name)
        del self._policies[name], self._parsed[name]

    def attach(self, name: str, certificate_id: str) -> None:
        """AttachPolicy to a registered certificate; attached again, nothing changes."""
        self.get(name)
        _certificate(self._attachments, certificate_id)
        policies = self._attachments.policies_of(certificate_id)
        if name in policies:
            return
        if len(policies) >= MAX_POLICIES_PER_CERTIFICATE:
            raise AwsError(
                "LimitExceededException",
                f"A certificate can have at most {MAX_POLICIES_PER_CERTIFICATE} policies attached.",
                410,
            )
        self._store.attach_policies([(name, certificate_id)])
        self._attachments.attach_policies([(name, certificate_id)])
        self._forget(certificate_id)

    def detach(self, name: str, certificate_id: str) -> None:
        self.get(name)
        _certificate(self._attachments, certificate_id)
        if name not in self._attachments.policies_of(certificate_id):
            raise not_found(f"policy {name} is not attached to certificate {certificate_id}")
        self._store.detach_policy(name, certificate_id)
        self._attachments.detach_policy(name, certificate_id)
        self._forget(certificate_id)


def _certificate(attachments: Attachments, certificate_id: str) -> None:
    if certificate_id not in attachments:
        raise not_found(f"certificate {certificate_id}")


def check_policy_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise invalid_request("policyName must be 1-128 characters of [\\w+=,.@-]")
    return name


def parse(policy: Policy) -> PolicyDocument:
    try:
        return parse_policy(policy.document)
    except InvalidInputError as exc:  # what CreatePolicy answers
        raise AwsError("MalformedPolicyException", f"{policy.name}: {exc}", 400) from None
