"""What a device reports: one `RequestReport` per operation, for Locust's stats or any listener.

Names are per operation, never per device or topic, so that stats stay one row per operation
however large the fleet (docs/devices.md, "Reports").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from simfleet.device.errors import DeviceError
from simfleet.jobs import (
    DescribeRequest,
    ExecutionStatus,
    GetPendingRequest,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
)

MQTT = "MQTT"
HTTPS = "HTTPS"
JOB = "JOB"

CONNECT = "connect"
SUBSCRIBE = "subscribe"
DISCONNECT = "disconnect"

# The job-level rows (protocol JOB). `queuedAt` comes from the service in whole seconds.
QUEUED_TO_NOTIFIED = "queued to notified"
QUEUED_TO_IN_PROGRESS = "queued to in progress"
IN_PROGRESS_TO_TERMINAL = "in progress to terminal"
QUEUED_TO_TERMINAL = "queued to terminal"

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestReport:
    """One timed operation. `context` (thing, job) is for listeners, never for stats rows."""

    protocol: str
    name: str
    duration_ms: float
    size: int = 0
    error: DeviceError | None = None
    # A factory: dataclasses refuse an unhashable default such as a mappingproxy.
    context: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


Reporter = Callable[[RequestReport], None]


def request_name(request: JobsRequest) -> str:
    """The stats row of a Jobs request: `start-next`, `update SUCCEEDED`, ..."""
    match request:
        case GetPendingRequest():
            return "get-pending"
        case StartNextRequest():
            return "start-next"
        case DescribeRequest():
            return "describe"
        case UpdateRequest():
            return f"update {request.status.value}"


def final_name(status: ExecutionStatus) -> str:
    """The JOB row counting executions that ended in `status`."""
    return f"final {status.value}"
