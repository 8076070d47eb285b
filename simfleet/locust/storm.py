"""The disconnect storm: a fraction of the devices lose their connection at once, uncleanly.

A device user enlists its transport in its process's `Connections` when it starts and leaves
when it stops. When the storm strikes (the soak shape's message, run-wide: the master sends it
to every worker), each process drops a random `fraction` of its connected devices with
`JobsTransport.drop()`: the socket closes with no DISCONNECT, as when a network fails. The
device's own greenlet then meets `ConnectionLost` (in a request, or waiting for notify-next),
and its agent reconnects after its profile's reconnect backoff and resumes its job
(docs/devices.md, "Agent"), which is what the storm tests.

No Locust import: the registry is keyed by the environment object and tested in pytest.
"""

from __future__ import annotations

import random
import weakref
from dataclasses import dataclass
from typing import Any

from simfleet.device.transport import JobsTransport

STORM_MESSAGE = "simfleet-storm"  # master (or the local runner) -> every process with users
STORM_RESULT = "simfleet-storm-result"  # worker -> master: what it dropped


@dataclass(frozen=True, kw_only=True)
class StormResult:
    """What one process's share of a storm did: `dropped` of its `connected` devices."""

    connected: int
    dropped: int
    worker: str = "local"  # the worker's client ID in a distributed run

    def to_dict(self) -> dict[str, Any]:
        return {"connected": self.connected, "dropped": self.dropped, "worker": self.worker}

    @classmethod
    def from_dict(cls, data: Any, *, worker: str) -> StormResult:
        """From a worker's STORM_RESULT message."""
        return cls(connected=int(data["connected"]), dropped=int(data["dropped"]), worker=worker)


class Connections:
    """The device transports of one Locust process, by thing name (each device is held by one
    user at a time, so the name is a key)."""

    def __init__(self) -> None:
        self._transports: dict[str, JobsTransport] = {}

    def __len__(self) -> int:
        return len(self._transports)

    def enlist(self, transport: JobsTransport) -> None:
        self._transports[transport.thing_name] = transport

    def leave(self, thing_name: str) -> None:
        self._transports.pop(thing_name, None)

    def drop(self, fraction: float, rng: random.Random) -> StormResult:
        """Drop round(fraction x connected) connected devices, chosen at random."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in 0-1, not {fraction}")
        online = [transport for transport in self._transports.values() if transport.connected]
        chosen = rng.sample(online, int(fraction * len(online) + 0.5))
        for transport in chosen:
            transport.drop()
        return StormResult(connected=len(online), dropped=len(chosen))


_CONNECTIONS: weakref.WeakKeyDictionary[Any, Connections] = weakref.WeakKeyDictionary()


def connections_of(environment: Any) -> Connections:
    """The connections of the Locust process that runs `environment` (made on first use)."""
    connections = _CONNECTIONS.get(environment)
    if connections is None:
        connections = _CONNECTIONS[environment] = Connections()
    return connections
