"""Locust adapters for simulated devices: users, options, identities, the embedded emulator.

A locustfile imports its users from here (`from simfleet.locust import MqttDevice, Operator`).
The user classes are loaded on first use, and only in a process that imported Locust first
(`locust -f` does): importing Locust monkey-patches the whole process with gevent, which a
Locust run needs and anything else importing this package (a test, a tool that builds a
RunConfig) must not get.
"""

from typing import TYPE_CHECKING, Any

from simfleet.locust.errors import (
    ConfigError,
    ControlPlaneError,
    EmulatorError,
    EndpointError,
    FleetExhausted,
    RunError,
)
from simfleet.locust.identity import Identities, IdentityPool
from simfleet.locust.options import Endpoint, JobPlan, RunConfig
from simfleet.locust.summary import JobProgress, summary_line

if TYPE_CHECKING:
    from simfleet.locust.users import (
        DeviceUser,
        HttpsDevice,
        MqttDevice,
        Operator,
        RolloutOperator,
    )

_USERS = frozenset({"DeviceUser", "HttpsDevice", "MqttDevice", "Operator", "RolloutOperator"})

__all__ = [
    "ConfigError",
    "ControlPlaneError",
    "DeviceUser",
    "EmulatorError",
    "Endpoint",
    "EndpointError",
    "FleetExhausted",
    "HttpsDevice",
    "Identities",
    "IdentityPool",
    "JobPlan",
    "JobProgress",
    "MqttDevice",
    "Operator",
    "RolloutOperator",
    "RunConfig",
    "RunError",
    "summary_line",
]


def __getattr__(name: str) -> Any:
    if name in _USERS:
        from simfleet.locust import users  # noqa: PLC0415 - Locust only when a user is asked for

        return getattr(users, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
