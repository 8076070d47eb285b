"""The one seam between a device's logic (`DeviceAgent`) and the network.

`MqttTransport` and `HttpsTransport` implement it over real connections; tests implement it in
memory over the emulator's Jobs service. Every call reports one `RequestReport` through the
transport's reporter, so the agent never times anything itself.
"""

from __future__ import annotations

from typing import Protocol

from simfleet.jobs import JobsRequest, NotifyNext
from simfleet.jobs.responses import Accepted


class JobsTransport(Protocol):
    """A device's connection to the Jobs API, MQTT or HTTPS."""

    @property
    def protocol(self) -> str:
        """`MQTT` or `HTTPS`: the request type of this transport's stats rows."""
        ...

    @property
    def thing_name(self) -> str: ...

    @property
    def pushes_notifications(self) -> bool:
        """True when the service pushes notify-next (MQTT); False when the device must poll."""
        ...

    @property
    def connected(self) -> bool: ...

    def connect(self) -> None:
        """Connect (reports `connect`); raises ConnectFailed."""

    def disconnect(self) -> None:
        """Leave cleanly (MQTT DISCONNECT); never raises."""

    def drop(self) -> None:
        """A crash: close the socket with no goodbye; never raises."""

    def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
        """Send `request`, wait for its reply and report it; return the accepted reply.

        Raises JobsRejected, RequestTimedOut or ConnectionLost.
        """
        ...

    def next_notification(self, timeout: float) -> NotifyNext | None:
        """The next notify-next received, in arrival order; None when none came within `timeout`
        (at once over HTTPS). Raises ConnectionLost when the connection is gone."""
        ...
