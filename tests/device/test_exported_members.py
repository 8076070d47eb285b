"""The public API of simfleet.device is what `__all__` says, and nothing else."""

import types

import simfleet.device


def test_all_names_exist_and_every_public_name_is_exported() -> None:
    public = {
        name
        for name, value in vars(simfleet.device).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(simfleet.device.__all__) == public


def test_exported_members_are_pinned() -> None:
    assert sorted(simfleet.device.__all__) == sorted(
        [
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
    )
