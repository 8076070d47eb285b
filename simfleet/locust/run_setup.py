"""What a master tells its workers at start-up (`RunSetup`), and how a worker checks it.

Only the master starts the run: it mints or opens the fleet, starts the embedded emulator and
fills the run's thing group. A worker gets from it the endpoints (the emulator's ready-line
data: ports, CA, control-plane keys), the fleet directory and the fleet's fingerprint, the run's
options and the Operator's target, and refuses to take part when its own fleet directory is not
the master's fleet: leases are manifest indices, so a worker with another fleet would connect
as devices no lease gave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from certs_tool import Fleet
from simfleet.locust.endpoints import Endpoints
from simfleet.locust.errors import ConfigError
from simfleet.locust.identity import FleetFingerprint, missing_files, open_fleet
from simfleet.locust.operator import ControlPlaneAccess
from simfleet.locust.options import Endpoint


@dataclass(frozen=True, kw_only=True)
class RunSetup:
    """The master's `simfleet:setup` message: everything a worker starts from."""

    fleet_dir: Path  # absolute, on the master
    fingerprint: FleetFingerprint
    needed: int  # devices the run uses: their files must be on every worker
    endpoints: Endpoints
    target_arn: str | None  # the Operator's thing group
    options: Mapping[str, Any] = field(default_factory=dict)  # the master's simfleet options

    def to_message(self) -> dict[str, Any]:
        e = self.endpoints
        return {
            "fleet_dir": str(self.fleet_dir),
            "fingerprint": {
                "ca_certificate_id": self.fingerprint.ca_certificate_id,
                "devices": self.fingerprint.devices,
                "digest": self.fingerprint.digest,
            },
            "needed": self.needed,
            "endpoints": {
                "mqtt": [e.mqtt.host, e.mqtt.port],
                "jobs": None if e.jobs is None else [e.jobs.host, e.jobs.port],
                "ca_file": str(e.ca_file),
                "control": {
                    "region": e.control.region,
                    "api_url": e.control.api_url,
                    "verify": e.control.verify,
                    "access_key_id": e.control.access_key_id,
                    "secret_access_key": e.control.secret_access_key,
                },
                "account_id": e.account_id,
            },
            "target_arn": self.target_arn,
            "options": dict(self.options),
        }

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> RunSetup:
        endpoints = data["endpoints"]
        control = endpoints["control"]
        jobs = endpoints["jobs"]
        return cls(
            fleet_dir=Path(data["fleet_dir"]),
            fingerprint=FleetFingerprint(**data["fingerprint"]),
            needed=int(data["needed"]),
            endpoints=Endpoints(
                mqtt=Endpoint(host=endpoints["mqtt"][0], port=int(endpoints["mqtt"][1])),
                jobs=None if jobs is None else Endpoint(host=jobs[0], port=int(jobs[1])),
                ca_file=Path(endpoints["ca_file"]),
                control=ControlPlaneAccess(**control),
                account_id=endpoints["account_id"],
            ),
            target_arn=data["target_arn"],
            options=dict(data["options"]),
        )


def absolute_ca(endpoints: Endpoints) -> Endpoints:
    """The master's `endpoints` with the CA file's absolute path (for the control plane too,
    when it is the same file): a worker's working directory is not the master's."""
    ca_file = endpoints.ca_file.resolve()
    control = endpoints.control
    if control.verify == str(endpoints.ca_file):
        control = replace(control, verify=str(ca_file))
    return replace(endpoints, ca_file=ca_file, control=control)


def worker_fleet(setup: RunSetup, own_dir: Path | None) -> Fleet:
    """The worker's fleet: its own --fleet-dir, else the master's directory (one machine:
    --processes); ConfigError when it is not the master's fleet or lacks the run's files."""
    root = own_dir or setup.fleet_dir
    fleet = open_fleet(root, 0)
    if difference := setup.fingerprint.difference(FleetFingerprint.of(fleet)):
        raise ConfigError(
            f"this worker's fleet directory {root} is not the master's fleet "
            f"({setup.fleet_dir}): {difference}. Every worker needs the master's fleet "
            "directory: the same one (--processes, a shared volume) or a copy of it"
        )
    if missing := missing_files(fleet, setup.needed):
        raise ConfigError(
            f"this worker's copy of the fleet {root} is incomplete: {missing[0]} is missing "
            f"(every worker needs the files of the run's first {setup.needed} devices)"
        )
    return fleet


def worker_endpoints(setup: RunSetup, fleet: Fleet, own_ca: Path | None) -> Endpoints:
    """The master's endpoints with the CA file as this worker finds it: its own --ca-file, the
    same file in its copy of the fleet when the master's is in the master's fleet directory
    (the embedded emulator's is), else the master's path."""
    master_ca = setup.endpoints.ca_file
    ca_file = own_ca or _rebased(master_ca, setup.fleet_dir, fleet.root)
    if not ca_file.is_file():
        raise ConfigError(
            f"the CA file {ca_file} the master uses is not on this worker: give the worker "
            "--ca-file"
        )
    control = setup.endpoints.control
    if control.verify == str(master_ca):  # the emulator's control plane: the same CA
        control = replace(control, verify=str(ca_file))
    return replace(setup.endpoints, ca_file=ca_file, control=control)


def _rebased(path: Path, old_root: Path, new_root: Path) -> Path:
    try:
        return new_root / path.relative_to(old_root)
    except ValueError:
        return path
