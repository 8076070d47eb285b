"""Device identities for Locust users: each running user holds a distinct device of the fleet.

Two users with one client ID would push each other off the broker in a loop (AWS drops the
older connection, spec §5), so the pool hands out every device at most once at a time, lowest
free manifest index first: the first N devices are the ones the run's thing group holds.

`Identities` is the seam: `IdentityPool` serves one Locust process; a distributed run (master
and workers) replaces it with a variant that leases through the master, with the same two calls.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from certs_tool import CertsToolError, DeviceRecord, Fleet, load_fleet
from simfleet.locust.errors import ConfigError, FleetExhausted


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
    """The devices of one fleet, leased lowest index first, within one process.

    Users run as greenlets that switch only when they wait on I/O, so no lock is needed.
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
        self._free = list(range(len(self._devices)))  # a heap: already ordered
        self._leased: set[int] = set()

    @property
    def size(self) -> int:
        return len(self._devices)

    @property
    def leased(self) -> int:
        return len(self._leased)

    def lease(self) -> DeviceRecord:
        if not self._free:
            raise FleetExhausted(
                f"all {len(self._devices)} devices of the fleet are in use: run fewer users "
                "or a larger fleet"
            )
        index = heapq.heappop(self._free)
        self._leased.add(index)
        return self._devices[index]

    def release(self, device: DeviceRecord) -> None:
        index = self._index.get(device.thing_name)
        if index is None or index not in self._leased:
            raise ValueError(f"{device.thing_name} is not leased from this pool")
        self._leased.remove(index)
        heapq.heappush(self._free, index)
