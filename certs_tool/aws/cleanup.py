"""`cleanup_fleet`: remove from a target what `register` put there, and nothing else.

What goes is what the journal says this fleet created on that target (journal.py), optionally
narrowed to names starting with a prefix; a fleet the journal never registered there is a
FleetError before any call. The order is the one AWS requires (a certificate cannot be deleted
while ACTIVE or attached, a thing while a principal is attached, a policy while attached, a CA
while ACTIVE):

  per device (worker threads)   UpdateCertificate INACTIVE, DetachPolicy, DetachThingPrincipal,
                                DeleteCertificate, DeleteThing
  then, once                    DeleteThingGroup, DeletePolicy, UpdateCACertificate INACTIVE,
                                DeleteCACertificate

Every call that succeeds is journaled at once, so an interrupted cleanup resumes where it
stopped and never forgets what it already removed. ResourceNotFoundException counts as done.
Detachments propagate asynchronously on AWS (DetachThingPrincipal's reference: "might take
several seconds"), so a delete refused for something still attached is retried with backoff;
if it stays refused, the certificate's remaining attachments that belong to this fleet (ones a
killed run never journaled) are listed and detached, and the delete tried once more.

Before the first deletion, one DescribeCertificate checks that the credentials act in the
account the journal recorded, so the wrong profile fails before anything is touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from certs_tool.aws.caller import IotCaller
from certs_tool.aws.client import CERTIFICATE_STATE, DELETE_CONFLICT, INVALID_REQUEST, NOT_FOUND
from certs_tool.aws.journal import (
    INACTIVE,
    Certificate,
    JournalRecord,
    JournalState,
    JournalWriter,
    Op,
    journal_state,
)
from certs_tool.aws.runner import ProgressCallback, Stopper, run_tasks
from certs_tool.errors import AwsError, FleetError

CONFLICT_RETRIES = 5  # backoffs while AWS propagates a detachment (about 8 s in all)
_CONFLICTS = frozenset({DELETE_CONFLICT, CERTIFICATE_STATE, INVALID_REQUEST})


@dataclass(frozen=True, kw_only=True)
class CleanupPlan:
    """What a cleanup of `target` removes (and a dry run lists)."""

    target: str
    devices: tuple[str, ...]  # things with anything left: certificate, thing, attachments
    certificates: tuple[str, ...]  # certificateIds
    things: tuple[str, ...]
    groups: tuple[str, ...]
    policies: tuple[str, ...]
    ca: str | None  # the CA's certificateId
    kept_devices: int  # left out by the prefix; fleet-wide resources then stay too

    @property
    def empty(self) -> bool:
        return not (self.devices or self.groups or self.policies or self.ca)


@dataclass(frozen=True, kw_only=True)
class CleanupReport:
    target: str
    devices: int
    groups: int
    policies: int
    ca: bool
    calls: int
    retried: int
    seconds: float


def plan_cleanup(root: Path, target: str, *, prefix: str | None = None) -> CleanupPlan:
    """What cleanup would remove from `target`; FleetError if the fleet was never registered
    there."""
    state = journal_state(root, target)
    if state.records == 0:
        raise FleetError(
            f"{root} was never registered with {target} (its aws-journal.jsonl has no record "
            "of it), so there is nothing to clean up there; check --region / --endpoint-url"
        )
    return _plan(state, target, prefix)


def _plan(state: JournalState, target: str, prefix: str | None) -> CleanupPlan:
    def mine(name: str) -> bool:
        return prefix is None or name.startswith(prefix)

    everything = state.devices()
    devices = tuple(d for d in everything if mine(d))
    kept = len(everything) - len(devices)
    fleet_wide = kept == 0  # a policy still attached to a kept device cannot go
    return CleanupPlan(
        target=target,
        devices=devices,
        certificates=tuple(state.certificates[d].id for d in devices if d in state.certificates),
        things=tuple(d for d in devices if d in state.things),
        groups=tuple(sorted(g for g in state.groups if mine(g))) if fleet_wide else (),
        policies=tuple(sorted(p for p in state.policies if mine(p))) if fleet_wide else (),
        ca=state.ca.id if state.ca is not None and fleet_wide else None,
        kept_devices=kept,
    )


def cleanup_fleet(
    root: Path,
    caller: IotCaller,
    *,
    workers: int,
    stopper: Stopper,
    prefix: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> CleanupReport:
    """Remove the fleet from the caller's target; see the module docstring."""
    started = time.monotonic()
    plan = plan_cleanup(root, caller.target, prefix=prefix)
    state = journal_state(root, caller.target)
    with JournalWriter(root) as writer:
        run = _Cleanup(caller, state, writer)
        run.check_account(plan)
        run_tasks(
            plan.devices,
            run.clean_device,
            workers=workers,
            stopper=stopper,
            on_progress=on_progress,
        )
        run.clean_fleet_resources(plan)
    return CleanupReport(
        target=caller.target,
        devices=len(plan.devices),
        groups=len(plan.groups),
        policies=len(plan.policies),
        ca=plan.ca is not None,
        calls=sum(caller.calls().values()),
        retried=sum(caller.throttled().values()),
        seconds=time.monotonic() - started,
    )


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


class _Cleanup:
    def __init__(self, caller: IotCaller, state: JournalState, writer: JournalWriter) -> None:
        self._caller = caller
        self._state = state
        self._writer = writer

    def _record(self, op: Op, **fields: str | None) -> None:
        self._writer.append(JournalRecord(target=self._caller.target, op=op, **fields))

    def _gone_ok(self, op: Op | str, **params: object) -> None:
        """Call; ResourceNotFoundException means it is already done."""
        try:
            self._caller.call(op.value if isinstance(op, Op) else op, **params)
        except AwsError as exc:
            if exc.code != NOT_FOUND:
                raise

    def _patient(self, op: Op, repair: Callable[[], None] | None = None, **params: object) -> None:
        """A delete AWS may refuse while a detachment propagates: retried with backoff, then
        once more after `repair`."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                self._gone_ok(op, **params)
            except AwsError as exc:
                if exc.code not in _CONFLICTS or attempt == CONFLICT_RETRIES:
                    raise
                if attempt == CONFLICT_RETRIES - 1 and repair is not None:
                    repair()
                else:
                    self._caller.pause(attempt)
            else:
                return

    def check_account(self, plan: CleanupPlan) -> None:
        """Fail before any deletion if the credentials act in another account."""
        certs = self._state.certificates
        first = next((certs[d] for d in plan.devices if d in certs), None)
        if first is None:
            return
        try:
            answer = self._caller.call("DescribeCertificate", certificateId=first.id)
        except AwsError as exc:
            if exc.code == NOT_FOUND:
                return  # already gone: the deletes will find the rest gone too
            raise
        arn = str(answer.get("certificateDescription", {}).get("certificateArn", ""))
        if arn and first.arn and _account(arn) != _account(first.arn):
            raise AwsError(
                f"the fleet was registered in account {_account(first.arn)}, but these "
                f"credentials act in account {_account(arn)}: use the registering account's",
                operation="DescribeCertificate",
            )

    def clean_device(self, thing: str) -> None:
        state = self._state
        cert = state.certificates.get(thing)
        if cert is not None:
            self._clean_certificate(thing, cert)
        if thing in state.things:
            self._patient(Op.DELETE_THING, thingName=thing)
            self._record(Op.DELETE_THING, thing=thing)

    def _clean_certificate(self, thing: str, cert: Certificate) -> None:
        state = self._state
        if cert.active:
            self._gone_ok(Op.UPDATE_CERTIFICATE, certificateId=cert.id, newStatus=INACTIVE)
            self._record(Op.UPDATE_CERTIFICATE, thing=thing, id=cert.id, status=INACTIVE)
        for policy in sorted(p for t, p in state.attached if t == thing):
            self._gone_ok(Op.DETACH_POLICY, policyName=policy, target=cert.arn)
            self._record(Op.DETACH_POLICY, thing=thing, name=policy)
        if thing in state.principals:
            self._gone_ok(Op.DETACH_THING_PRINCIPAL, thingName=thing, principal=cert.arn)
            self._record(Op.DETACH_THING_PRINCIPAL, thing=thing, arn=cert.arn)

        def repair() -> None:
            self._detach_unrecorded(cert)

        self._patient(Op.DELETE_CERTIFICATE, repair, certificateId=cert.id)
        self._record(Op.DELETE_CERTIFICATE, thing=thing, id=cert.id)

    def _detach_unrecorded(self, cert: Certificate) -> None:
        """Detach what a killed run attached without journaling it: this fleet's policies and
        things only; anything else attached to the certificate is not ours to touch."""
        state = self._state
        policies = self._caller.call("ListAttachedPolicies", target=cert.arn, recursive=False)
        for entry in policies.get("policies", []):
            name = str(entry.get("policyName", ""))
            if name in state.policies:
                self._gone_ok(Op.DETACH_POLICY, policyName=name, target=cert.arn)
        things = self._caller.call("ListPrincipalThings", principal=cert.arn)
        for name in things.get("things", []):
            if name in state.things:
                self._gone_ok(Op.DETACH_THING_PRINCIPAL, thingName=name, principal=cert.arn)

    def clean_fleet_resources(self, plan: CleanupPlan) -> None:
        for group in plan.groups:
            self._gone_ok(Op.DELETE_GROUP, thingGroupName=group)
            self._record(Op.DELETE_GROUP, name=group)
        for policy in plan.policies:
            self._patient(Op.DELETE_POLICY, policyName=policy)
            self._record(Op.DELETE_POLICY, name=policy)
        ca = self._state.ca
        if plan.ca is not None and ca is not None:
            if ca.active:
                self._gone_ok(Op.UPDATE_CA, certificateId=ca.id, newStatus=INACTIVE)
                self._record(Op.UPDATE_CA, id=ca.id, status=INACTIVE)
            self._patient(Op.DELETE_CA, certificateId=ca.id)
            self._record(Op.DELETE_CA, id=ca.id)
