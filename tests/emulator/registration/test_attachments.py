"""The registry's attachments (attachments.py) against a model of sets: any sequence of
attaches, detaches and certificate removals leaves both directions, and the policy counts, as
the model says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.attachments import Attachments

CERTIFICATES = ["c0", "c1", "c2"]
THINGS = ["t0", "t1", "t2"]
POLICIES = ["p0", "p1"]

_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("attach-thing"), st.sampled_from(THINGS), st.sampled_from(CERTIFICATES)),
        st.tuples(st.just("detach-thing"), st.sampled_from(THINGS), st.sampled_from(CERTIFICATES)),
        st.tuples(
            st.just("attach-policy"), st.sampled_from(POLICIES), st.sampled_from(CERTIFICATES)
        ),
        st.tuples(
            st.just("detach-policy"), st.sampled_from(POLICIES), st.sampled_from(CERTIFICATES)
        ),
        st.tuples(st.just("remove"), st.just(""), st.sampled_from(CERTIFICATES)),
        st.tuples(st.just("add"), st.just(""), st.sampled_from(CERTIFICATES)),
    ),
    max_size=40,
)


class _Model:
    """What the attachments should hold, as sets of pairs."""

    def __init__(self, attachments: Attachments) -> None:
        self.attachments = attachments
        self.registered = set(CERTIFICATES)
        self.things: set[tuple[str, str]] = set()
        self.policies: set[tuple[str, str]] = set()

    def add(self, _: str, certificate: str) -> None:
        self.attachments.add_certificates([certificate])
        self.registered.add(certificate)

    def remove(self, _: str, certificate: str) -> None:
        if any(c == certificate for _, c in self.things):
            return  # the registry refuses it (DeleteConflictException)
        self.attachments.remove_certificate(certificate)
        self.registered.discard(certificate)
        self.policies = {(p, c) for p, c in self.policies if c != certificate}

    def attach_thing(self, thing: str, certificate: str) -> None:
        self.attachments.attach_things([(thing, certificate)])
        if certificate in self.registered:
            self.things.add((thing, certificate))

    def detach_thing(self, thing: str, certificate: str) -> None:
        pair = (thing, certificate)
        assert self.attachments.detach_thing(thing, certificate) == (pair in self.things)
        self.things.discard(pair)

    def attach_policy(self, policy: str, certificate: str) -> None:
        self.attachments.attach_policies([(policy, certificate)])
        if certificate in self.registered:
            self.policies.add((policy, certificate))

    def detach_policy(self, policy: str, certificate: str) -> None:
        pair = (policy, certificate)
        assert self.attachments.detach_policy(policy, certificate) == (pair in self.policies)
        self.policies.discard(pair)


@settings(max_examples=200, deadline=None)
@given(operations=_OPERATIONS)
def test_attachments_match_a_model(operations: list[tuple[str, str, str]]) -> None:
    attachments = Attachments()
    attachments.add_certificates(CERTIFICATES)
    model = _Model(attachments)
    for operation, name, certificate in operations:
        getattr(model, operation.replace("-", "_"))(name, certificate)
    things, policies = model.things, model.policies
    assert set(attachments.certificate_ids()) == model.registered
    for certificate in CERTIFICATES:
        assert set(attachments.things_of(certificate)) == {t for t, c in things if c == certificate}
        assert set(attachments.policies_of(certificate)) == {
            p for p, c in policies if c == certificate
        }
    for thing in THINGS:
        assert set(attachments.principals_of(thing)) == {c for t, c in things if t == thing}
    for policy in POLICIES:
        targets = {c for p, c in policies if p == policy}
        assert set(attachments.policy_targets(policy)) == targets
        assert attachments.policy_target_count(policy) == len(targets)


def test_policy_name_tuples_are_shared() -> None:
    attachments = Attachments()
    attachments.add_certificates(["a", "b"])
    attachments.attach_policies([("jobs-all", "a"), ("jobs-all", "b")])
    assert attachments.policies_of("a") is attachments.policies_of("b")
