"""Simulated devices: behaviour profiles, the agent workflow, and MQTT and HTTPS transports.

Nothing here imports Locust; `simfleet.locust` adapts these to Locust users.
"""

from simfleet.device.errors import (
    ConnectFailed,
    ConnectionLost,
    DeviceError,
    JobsRejected,
    ProfileError,
    RequestTimedOut,
)
from simfleet.device.reports import Reporter, RequestReport, final_name, request_name
from simfleet.device.transport import JobsTransport

__all__ = [
    "ConnectFailed",
    "ConnectionLost",
    "DeviceError",
    "JobsRejected",
    "JobsTransport",
    "ProfileError",
    "Reporter",
    "RequestReport",
    "RequestTimedOut",
    "final_name",
    "request_name",
]
