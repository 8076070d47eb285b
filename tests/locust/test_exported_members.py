"""The curated API of simfleet.locust, and the promise that importing it does not import Locust
(which monkey-patches the whole process with gevent) until a user class is asked for."""

from __future__ import annotations

import subprocess
import sys

import simfleet.locust

USERS = ["DeviceUser", "HttpsDevice", "MqttDevice", "Operator", "RolloutOperator"]


def test_simfleet_locust_exports() -> None:
    assert sorted(simfleet.locust.__all__) == [
        "ConfigError", "ControlPlaneError", "DeviceUser", "EmulatorError", "Endpoint",
        "EndpointError", "FleetExhausted", "HttpsDevice", "Identities", "IdentityPool",
        "JobPlan", "JobProgress", "MqttDevice", "Operator", "RolloutOperator", "RunConfig",
        "RunError", "summary_line",
    ]  # fmt: skip
    for name in sorted(set(simfleet.locust.__all__) - set(USERS)):
        assert getattr(simfleet.locust, name) is not None


def test_error_tree() -> None:
    for error in (simfleet.locust.ConfigError, simfleet.locust.EndpointError,
                  simfleet.locust.EmulatorError, simfleet.locust.FleetExhausted):  # fmt: skip
        assert issubclass(error, simfleet.locust.RunError)
    assert not issubclass(simfleet.locust.ControlPlaneError, simfleet.locust.RunError)


def _python(script: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return done.stdout.split()


def test_importing_the_package_does_not_import_locust() -> None:
    assert _python("import sys, simfleet.locust; print('locust' in sys.modules)") == ["False"]


def test_users_are_locust_users_under_locust() -> None:
    names = ", ".join(USERS)
    script = (
        "import locust\n"  # first, as the locust command does
        f"from simfleet.locust import {names}\n"
        f"kinds = [issubclass(c, locust.User) for c in ({names})]\n"
        "print(all(kinds), DeviceUser.abstract, MqttDevice.abstract, Operator.fixed_count)\n"
    )
    assert _python(script) == ["True", "True", "False", "1"]


def test_users_refuse_a_process_locust_has_not_patched() -> None:
    script = (
        "try:\n"
        "    from simfleet.locust import MqttDevice\n"
        "except ImportError as exc:\n"
        "    print('import-locust-first' if 'import locust before' in str(exc) else exc)\n"
    )
    assert _python(script) == ["import-locust-first"]
