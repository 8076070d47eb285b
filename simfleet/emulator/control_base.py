"""What every part of the control plane shares: the registry, the clock, and the ARNs of this
emulator's region and account (building them, and reading the ones requests carry).

The control-plane classes (registry_control.py and its parts, control_plane.py) follow the
conventions of control_plane.py: methods named after their operation, keyword arguments named
as botocore's `iot` model names the members, results in the output shape, AwsError with AWS's
codes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from simfleet.emulator.clock import Clock
from simfleet.emulator.control_shapes import check_name, not_implemented, partition
from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.emulator.jobs_service import JobTarget, TargetKind
from simfleet.emulator.records import Thing
from simfleet.emulator.registry import Registry

_CERTIFICATE_ID = re.compile(r"[0-9a-fA-F]{64}")


class ControlBase:
    def __init__(self, registry: Registry, *, region: str, account_id: str, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self.region = region
        self.account_id = account_id
        self._arn_prefix = f"arn:{partition(region)}:iot:{region}:{account_id}:"

    @property
    def registration_code(self) -> str:
        """GetRegistrationCode: [U] AWS gives each account and region one 64-hex-digit code;
        ours is derived from them, so it survives restarts without being stored."""
        seed = f"simfleet registration code {self.account_id} {self.region}"
        return hashlib.sha256(seed.encode()).hexdigest()

    # --- ARNs -----------------------------------------------------------------------------

    def _arn(self, kind: str, name: str) -> str:
        return f"{self._arn_prefix}{kind}/{name}"

    def _job_arn(self, job_id: str) -> str:
        return self._arn("job", job_id)

    def _thing_arn(self, thing: Thing) -> str:
        return self._arn("thing", thing.name)

    def _split(self, arn: str) -> tuple[str, str] | None:
        """(resource type, name) of an ARN of this region and account, else None."""
        if not arn.startswith(self._arn_prefix):
            return None
        kind, slash, name = arn.removeprefix(self._arn_prefix).partition("/")
        return (kind, name) if slash and name else None

    def _target(self, arn: str) -> JobTarget:
        """A job target: `arn:aws:iot:{region}:{account}:thing/NAME` or `.../thinggroup/NAME`
        in this emulator's region and account."""
        split = self._split(arn)
        if split is None or split[0] not in {k.value for k in TargetKind}:
            raise invalid_request(f"Invalid target ARN {arn}")
        kind, name = split
        return JobTarget(arn=arn, kind=TargetKind(kind), name=check_name(name, "target name"))

    def _name_or_arn(self, name: str | None, arn: str | None, kind: TargetKind) -> str:
        if arn is not None:
            target = self._target(arn)
            if target.kind is not kind or name not in (None, target.name):
                raise invalid_request(f"Invalid {kind.value} ARN {arn}")
            return target.name
        if name is None:
            raise invalid_request(f"A {kind.value} name or ARN is required")
        return name

    def _certificate_of(self, arn: str, member: str) -> str:
        """The certificate id of a principal or policy target: a certificate ARN of this region
        and account. AWS also takes Amazon Cognito identities and (AttachPolicy) thing groups,
        which the emulator does not implement."""
        split = self._split(arn)
        if split is not None and split[0] == "thinggroup":
            raise not_implemented(f"{member} {arn}: policies attached to thing groups")
        if split is None or split[0] != "cert" or not _CERTIFICATE_ID.fullmatch(split[1]):
            raise invalid_request(f"{member} must be a certificate ARN ({self._arn_prefix}cert/ID)")
        return split[1]

    @contextmanager
    def _naming(self, arn_of: Callable[[str], str]) -> Iterator[None]:
        """Complete a ResourceAlreadyExistsException raised inside with the ARN of the resource
        it names (`arn_of(resourceId)`): AWS answers both, and the registry knows no ARNs."""
        try:
            yield
        except AwsError as error:
            resource_id = error.fields.get("resourceId")
            if error.code != "ResourceAlreadyExistsException" or resource_id is None:
                raise
            fields = {**error.fields, "resourceArn": arn_of(resource_id)}
            raise AwsError(error.code, error.message, error.status, fields=fields) from None
