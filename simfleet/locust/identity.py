"""Device identities for Locust users: each running user holds a distinct device of the fleet.

Two users with one client ID would push each other off the broker in a loop (AWS drops the
older connection, spec §5), so devices are leased from one lease book (`lease_book.LeaseBook`),
at most once at a time, lowest free manifest index first: the first N devices are the ones the
run's thing group holds.

`Identities` is the seam users lease through. `IdentityPool` is the book of the process that
keeps it (the local runner, or the master of a distributed run); a worker's users lease
through `lease_client.LeaseClient`, which asks the master. Every process of a distributed run
must read the same fleet: `FleetFingerprint` is what they compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from certs_tool import CertsToolError, DeviceRecord, Fleet, load_fleet
from simfleet.locust.errors import ConfigError, FleetExhausted
from simfleet.locust.lease_book import LeaseBook

LOCAL = "local"  # the lease book's holder name for the users of the process that keeps it


def open_fleet(root: Path, needed: int) -> Fleet:
    """An existing fleet that holds `needed` complete devices; ConfigError says what is not."""
    try:
        fleet = load_fleet(root)
    except CertsToolError as exc:
        raise ConfigError(f"--fleet-dir {root}: {exc}") from None
    if len(fleet.devices) < needed:
        raise ConfigError(
            f"the fleet {root} holds {len(fleet.devices)} devices but the run needs {needed} "
            "(one per device user): mint more (certs-tool mint) or run fewer users"
        )
    if missing := missing_files(fleet, needed):
        raise ConfigError(
            f"the fleet {root} is incomplete: {missing[0]} is missing (re-run certs-tool mint)"
        )
    return fleet


def missing_files(fleet: Fleet, count: int) -> list[Path]:
    """The certificate and key files of the first `count` devices that are not there."""
    return [
        path
        for device in fleet.devices[:count]
        for path in (fleet.cert_path(device), fleet.key_path(device))
        if not path.is_file()
    ]


class Identities(Protocol):
    """Where users take their devices from."""

    def lease(self) -> DeviceRecord:
        """A device no running user holds; raises FleetExhausted when there is none."""
        ...

    def release(self, device: DeviceRecord) -> None:
        """Give back a device `lease` returned."""


class IdentityPool:
    """The lease book of the process that keeps it, and the leases of its own users.

    Users run as greenlets that switch only when they wait on I/O, so no lock is needed; the
    master's worker leases (`distributed.MasterLink`) share `book`.
    """

    def __init__(self, devices: Sequence[DeviceRecord]) -> None:
        owners: dict[str, str] = {}
        for device in devices:
            other = owners.setdefault(device.client_id, device.thing_name)
            if other != device.thing_name:
                raise ConfigError(
                    f"devices {other} and {device.thing_name} share the client ID "
                    f"{device.client_id!r}; every device of a run needs its own"
                )
        self._devices = tuple(devices)
        self._index = {device.thing_name: i for i, device in enumerate(self._devices)}
        self.book = LeaseBook(len(self._devices))

    @property
    def size(self) -> int:
        return len(self._devices)

    @property
    def leased(self) -> int:
        """Devices held by this process's users (not by workers)."""
        return len(self.book.held_by(LOCAL))

    @property
    def devices(self) -> tuple[DeviceRecord, ...]:
        return self._devices

    def lease(self) -> DeviceRecord:
        index = self.book.take(LOCAL)
        if index is None:
            raise FleetExhausted(
                f"all {len(self._devices)} devices of the fleet are in use: run fewer users "
                "or a larger fleet"
            )
        return self._devices[index]

    def release(self, device: DeviceRecord) -> None:
        index = self._index.get(device.thing_name)
        if index is None or not self.book.holds(LOCAL, index):
            raise ValueError(f"{device.thing_name} is not leased from this pool")
        self.book.release(LOCAL, [index])


@dataclass(frozen=True, kw_only=True)
class FleetFingerprint:
    """What makes two fleet directories the same fleet for a distributed run: the CA (its
    certificateId) and the manifest, device for device in order (leases are manifest indices)."""

    ca_certificate_id: str
    devices: int
    digest: str  # SHA-256 over thingName, clientId and certificateId of every device, in order

    @classmethod
    def of(cls, fleet: Fleet) -> FleetFingerprint:
        digest = hashlib.sha256()
        for device in fleet.devices:
            digest.update(
                f"{device.thing_name}\0{device.client_id}\0{device.certificate_id}\n".encode()
            )
        return cls(
            ca_certificate_id=fleet.metadata.ca_certificate_id,
            devices=len(fleet.devices),
            digest=digest.hexdigest(),
        )

    def difference(self, other: FleetFingerprint) -> str | None:
        """How `other` differs from this fleet, in words; None when it is the same fleet."""
        if other.ca_certificate_id != self.ca_certificate_id:
            return (
                f"its CA is another (certificateId {other.ca_certificate_id[:12]}..., not "
                f"{self.ca_certificate_id[:12]}...)"
            )
        if other.devices != self.devices:
            return f"it holds {other.devices} devices, not {self.devices}"
        if other.digest != self.digest:
            return "its manifest lists other devices (or the same ones in another order)"
        return None
