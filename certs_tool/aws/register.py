"""`register_fleet`: put a fleet on AWS IoT (or any endpoint that speaks its API), resumably.

Per fleet, once, on the calling thread:
  RegisterCACertificate (with-ca: the fleet CA, certificateMode SNI_ONLY by default, as AWS
  recommends since 2022; DEFAULT proves key possession with a verification certificate),
  CreatePolicy for each of the fleet's policies, CreateThingGroup when asked.
Per device, on the worker threads (runner.run_tasks), in this order because each needs the one
before: RegisterCertificate (or RegisterCertificateWithoutCA, "multi-account registration") with
status ACTIVE, CreateThing, AttachThingPrincipal, AttachPolicy for each policy of its manifest
record, AddThingToThingGroup.

Every call that succeeds is journaled (journal.py) and every step already in the journal is
skipped, so a re-run after an interruption continues, and a re-run of a registered fleet makes
no call at all. ResourceAlreadyExistsException counts as success and AWS's resourceId/ARN is
journaled. The certificateId AWS answers must equal the manifest's (spec §5: SHA-256 of the
DER); when it does not, the certificate is journaled (cleanup can remove it) and the run stops.

What register creates is marked where the API allows: the CA, the policies and the thing group
carry the tag simfleet-fleet=<fleet name>, each thing the attribute of that name (CreateThing
takes no tags; certificates take neither).
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from certs_tool.authority import load_authority
from certs_tool.aws.caller import IotCaller
from certs_tool.aws.client import ALREADY_EXISTS
from certs_tool.aws.journal import (
    ACTIVE,
    JournalRecord,
    JournalState,
    JournalWriter,
    Op,
    journal_state,
)
from certs_tool.aws.ratelimit import quota_bound_rate
from certs_tool.aws.runner import DEFAULT_WORKERS, ProgressCallback, Stopper, run_tasks
from certs_tool.errors import AwsError, CertificateRefusedError, FleetError, InvalidInputError
from certs_tool.fleet import DeviceRecord, Fleet, load_fleet
from certs_tool.keys import KeyType

FLEET_TAG = "simfleet-fleet"
# AWS thing group names, as thing names: 1-128 of [a-zA-Z0-9:_-] (botocore model).
GROUP_NAME_RE = re.compile(r"[a-zA-Z0-9:_-]{1,128}")


class RegisterMode(enum.Enum):
    WITH_CA = "with-ca"  # the fleet CA is registered, devices with RegisterCertificate
    WITHOUT_CA = "without-ca"  # RegisterCertificateWithoutCA: no CA on the account (spec §5)


class CaMode(enum.Enum):
    SNI_ONLY = "SNI_ONLY"  # no verification certificate; devices must send SNI (spec §5)
    DEFAULT = "DEFAULT"  # proves the CA key with a certificate for GetRegistrationCode's code


@dataclass(frozen=True, kw_only=True)
class RegisterOptions:
    mode: RegisterMode = RegisterMode.WITH_CA
    ca_mode: CaMode = CaMode.SNI_ONLY
    thing_group: str | None = None
    workers: int = DEFAULT_WORKERS
    passphrase: bytes | None = None  # the CA key's, for ca_mode DEFAULT

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidInputError(f"--workers must be at least 1, not {self.workers}")
        if self.thing_group is not None and not GROUP_NAME_RE.fullmatch(self.thing_group):
            raise InvalidInputError(
                f"invalid thing group name {self.thing_group!r}: AWS IoT allows 1-128 "
                "characters of [a-zA-Z0-9:_-]"
            )


@dataclass(frozen=True, kw_only=True)
class RegisterReport:
    target: str
    devices: int  # in the manifest
    registered: int  # completed by this run
    kept: int  # complete before it
    calls: int  # requests sent, retries included
    retried: int  # answers that were throttled (or failed transiently) and retried
    seconds: float
    quota_rate: float  # devices/s the configured rates allow

    @property
    def rate(self) -> float:
        return self.registered / self.seconds if self.seconds > 0 else 0.0


def calls_per_device(fleet: Fleet, options: RegisterOptions) -> dict[str, int]:
    """The calls registering one device makes, by API (for the quota-bound rate)."""
    register = (
        Op.REGISTER_CERTIFICATE if options.mode is RegisterMode.WITH_CA
        else Op.REGISTER_CERTIFICATE_WITHOUT_CA
    )  # fmt: skip
    policies = max((len(d.policies) for d in fleet.devices), default=0)
    return {
        register.value: 1,
        Op.CREATE_THING.value: 1,
        Op.ATTACH_THING_PRINCIPAL.value: 1,
        Op.ATTACH_POLICY.value: policies,
        Op.ADD_THING_TO_GROUP.value: 1 if options.thing_group else 0,
    }


def register_fleet(
    root: Path,
    caller: IotCaller,
    options: RegisterOptions,
    *,
    stopper: Stopper,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> RegisterReport:
    """Register the fleet in `root` with the caller's target; see the module docstring."""
    fleet = load_fleet(root)
    _refuse_expired(fleet, now or datetime.now(UTC))
    started = time.monotonic()
    state = journal_state(root, caller.target)
    with JournalWriter(root) as writer:
        run = _Registration(fleet, caller, options, state, writer)
        run.register_fleet_resources()
        pending = [d for d in fleet.devices if not run.complete(d)]
        kept = len(fleet.devices) - len(pending)
        registered = run_tasks(
            pending,
            run.register_device,
            workers=options.workers,
            stopper=stopper,
            done_before=kept,
            on_progress=on_progress,
        )
    calls = caller.calls()
    return RegisterReport(
        target=caller.target,
        devices=len(fleet.devices),
        registered=registered,
        kept=kept,
        calls=sum(calls.values()),
        retried=sum(caller.throttled().values()),
        seconds=time.monotonic() - started,
        quota_rate=quota_bound_rate(_rates(caller), calls_per_device(fleet, options)),
    )


def _rates(caller: IotCaller) -> Mapping[str, float]:
    return {op.value: caller.limiter.rate(op.value) for op in Op}


def _refuse_expired(fleet: Fleet, now: datetime) -> None:
    """AWS refuses expired certificates; say so before anything is registered."""
    expired = [d for d in fleet.devices if d.not_after <= now]
    if expired:
        first = expired[0]
        raise CertificateRefusedError(
            f"{len(expired)} device certificates have expired (first: {first.thing_name}, "
            f"not after {first.not_after:%Y-%m-%d %H:%M}Z) and AWS refuses them: "
            f"renew them with 'certs-tool mint {fleet.root} --count N --force'"
        )


class _Registration:
    """One run: the fleet, the journal state it started from, and the steps."""

    def __init__(
        self,
        fleet: Fleet,
        caller: IotCaller,
        options: RegisterOptions,
        state: JournalState,
        writer: JournalWriter,
    ) -> None:
        self._fleet = fleet
        self._caller = caller
        self._options = options
        self._state = state
        self._writer = writer
        self._tags = [{"Key": FLEET_TAG, "Value": fleet.metadata.name}]
        self._ca_pem = self._read(fleet.ca_cert_path)

    def _record(self, op: Op, **fields: str | None) -> None:
        self._writer.append(JournalRecord(target=self._caller.target, op=op, **fields))

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise FleetError(f"cannot read {path}: {exc}") from None

    def _create(self, op: Op, **params: object) -> tuple[str | None, str | None, dict[str, object]]:
        """Call a create operation; AWS's "already exists" is success. (id, arn, answer)."""
        try:
            answer = self._caller.call(op.value, **params)
        except AwsError as exc:
            if exc.code != ALREADY_EXISTS:
                raise
            return exc.resource_id, exc.resource_arn, {}
        return None, None, answer

    # --- once per fleet ---------------------------------------------------------------------

    def register_fleet_resources(self) -> None:
        if self._options.mode is RegisterMode.WITH_CA:
            self._register_ca()
        for name, document in self._fleet.policy_documents():
            if name not in self._state.policies:
                _, arn, answer = self._create(
                    Op.CREATE_POLICY,
                    policyName=name,
                    policyDocument=document.decode(),
                    tags=self._tags,
                )
                self._record(Op.CREATE_POLICY, name=name, arn=arn or _text(answer, "policyArn"))
        group = self._options.thing_group
        if group and group not in self._state.groups:
            _, arn, answer = self._create(Op.CREATE_GROUP, thingGroupName=group, tags=self._tags)
            self._record(Op.CREATE_GROUP, name=group, arn=arn or _text(answer, "thingGroupArn"))

    def _register_ca(self) -> None:
        expected = self._fleet.metadata.ca_certificate_id
        ca = self._state.ca
        if ca is not None and ca.active:
            return
        if ca is not None:  # deactivated by an interrupted cleanup: bring it back
            self._caller.call(Op.UPDATE_CA.value, certificateId=ca.id, newStatus=ACTIVE)
            self._record(Op.UPDATE_CA, id=ca.id, status=ACTIVE)
            return
        params: dict[str, object] = {
            "caCertificate": self._ca_pem,
            "setAsActive": True,
            "allowAutoRegistration": False,
            "certificateMode": self._options.ca_mode.value,
            "tags": self._tags,
        }
        if self._options.ca_mode is CaMode.DEFAULT:
            code = self._caller.call("GetRegistrationCode")["registrationCode"]
            params["verificationCertificate"] = self._verification_certificate(str(code))
        found_id, found_arn, answer = self._create(Op.REGISTER_CA, **params)
        ca_id = found_id or _text(answer, "certificateId") or expected
        self._record(Op.REGISTER_CA, id=ca_id, arn=found_arn or _text(answer, "certificateArn"))
        if ca_id != expected:
            raise CertificateRefusedError(
                f"AWS gave the fleet CA certificateId {ca_id}, but fleet.json records {expected} "
                "(the SHA-256 of its DER, spec §5); the target does not compute it as AWS does",
                operation=Op.REGISTER_CA.value,
            )

    def _verification_certificate(self, registration_code: str) -> str:
        """AWS's proof of CA key possession: a certificate for CN=<registration code>, signed by
        the CA (developer guide, "Register a CA certificate (DEFAULT mode)")."""
        authority = load_authority(self._fleet.root, self._options.passphrase)
        key = KeyType.EC_P256.generate()
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, registration_code)]))
            .issuer_name(authority.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(authority.key, KeyType.EC_P256.signature_hash())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    # --- per device (worker threads) ----------------------------------------------------------

    def complete(self, device: DeviceRecord) -> bool:
        thing, state = device.thing_name, self._state
        cert = state.certificates.get(thing)
        group = self._options.thing_group
        return (
            cert is not None
            and cert.active
            and cert.id == device.certificate_id
            and thing in state.things
            and thing in state.principals
            and all((thing, policy) in state.attached for policy in device.policies)
            and (not group or (thing, group) in state.members)
        )

    def register_device(self, device: DeviceRecord) -> None:
        thing, state = device.thing_name, self._state
        cert_arn = self._device_certificate(device)
        if thing not in state.things:
            _, arn, answer = self._create(
                Op.CREATE_THING,
                thingName=thing,
                attributePayload={"attributes": {FLEET_TAG: self._fleet.metadata.name}},
            )
            self._record(Op.CREATE_THING, thing=thing, arn=arn or _text(answer, "thingArn"))
        if thing not in state.principals:
            self._create(Op.ATTACH_THING_PRINCIPAL, thingName=thing, principal=cert_arn)
            self._record(Op.ATTACH_THING_PRINCIPAL, thing=thing, arn=cert_arn)
        for policy in device.policies:
            if (thing, policy) not in state.attached:
                self._create(Op.ATTACH_POLICY, policyName=policy, target=cert_arn)
                self._record(Op.ATTACH_POLICY, thing=thing, name=policy)
        group = self._options.thing_group
        if group and (thing, group) not in state.members:
            self._create(Op.ADD_THING_TO_GROUP, thingGroupName=group, thingName=thing)
            self._record(Op.ADD_THING_TO_GROUP, thing=thing, name=group)

    def _device_certificate(self, device: DeviceRecord) -> str:
        """The device certificate's ARN, registering (or re-activating) it when needed."""
        thing = device.thing_name
        cert = self._state.certificates.get(thing)
        if cert is not None and cert.id != device.certificate_id:
            raise FleetError(
                f"{thing}: the journal records certificate {cert.id} on {self._caller.target}, "
                f"the manifest {device.certificate_id} (minted again?): run 'certs-tool cleanup "
                f"{self._fleet.root}' first, then register"
            )
        if cert is not None:
            if not cert.active:  # deactivated by an interrupted cleanup
                self._caller.call(
                    Op.UPDATE_CERTIFICATE.value, certificateId=cert.id, newStatus=ACTIVE
                )
                self._record(Op.UPDATE_CERTIFICATE, thing=thing, id=cert.id, status=ACTIVE)
            return cert.arn
        pem = self._read(self._fleet.cert_path(device))
        if self._options.mode is RegisterMode.WITH_CA:
            op = Op.REGISTER_CERTIFICATE
            params = {"certificatePem": pem, "caCertificatePem": self._ca_pem, "status": ACTIVE}
        else:
            op = Op.REGISTER_CERTIFICATE_WITHOUT_CA
            params = {"certificatePem": pem, "status": ACTIVE}
        try:
            found_id, found_arn, answer = self._create(op, **params)
        except CertificateRefusedError as exc:
            raise CertificateRefusedError(
                f"{thing} ({self._fleet.cert_path(device)}): {exc}",
                code=exc.code,
                operation=exc.operation,
            ) from None
        cert_id = found_id or _text(answer, "certificateId") or ""
        cert_arn = found_arn or _text(answer, "certificateArn") or ""
        self._record(op, thing=thing, id=cert_id, arn=cert_arn)
        if cert_id != device.certificate_id:
            raise CertificateRefusedError(
                f"{thing}: AWS gave certificateId {cert_id}, but the manifest records "
                f"{device.certificate_id} (the SHA-256 of the DER, spec §5); the target does "
                "not compute it as AWS does (moto: set iot use_valid_cert)",
                operation=op.value,
            )
        return cert_arn


def _text(answer: Mapping[str, object], key: str) -> str | None:
    value = answer.get(key)
    return value if isinstance(value, str) and value else None
