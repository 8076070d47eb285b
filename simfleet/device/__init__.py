"""Simulated devices: behaviour profiles, the agent workflow, and MQTT and HTTPS transports.

Nothing here imports Locust; `simfleet.locust` adapts these to Locust users.
"""

from simfleet.device.agent import DeviceAgent
from simfleet.device.backoff import Backoff
from simfleet.device.distribution import Distribution, DistributionKind
from simfleet.device.errors import (
    ConnectFailed,
    ConnectionLost,
    DeviceError,
    JobsRejected,
    ProfileError,
    RequestTimedOut,
)
from simfleet.device.https import HttpsConfig, HttpsTransport
from simfleet.device.mqtt import LastWill, MqttConfig, MqttTransport
from simfleet.device.presets import PRESETS
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.device.profile_files import load_profile
from simfleet.device.reports import Reporter, RequestReport, final_name, request_name
from simfleet.device.tls import DeviceSSLContext, device_ssl_context
from simfleet.device.transport import JobsTransport

__all__ = [
    "PRESETS",
    "Backoff",
    "BehaviourProfile",
    "ConnectFailed",
    "ConnectionLost",
    "DeviceAgent",
    "DeviceError",
    "DeviceSSLContext",
    "Distribution",
    "DistributionKind",
    "HttpsConfig",
    "HttpsTransport",
    "JobsRejected",
    "JobsTransport",
    "LastWill",
    "MqttConfig",
    "MqttTransport",
    "ProfileError",
    "Reporter",
    "RequestReport",
    "RequestTimedOut",
    "Step",
    "Workflow",
    "device_ssl_context",
    "final_name",
    "load_profile",
    "request_name",
]
