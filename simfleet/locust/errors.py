"""What can stop a Locust run of simulated devices, as one tree.

    RunError                    a run that cannot start or go on; the message is for the user
     ├── ConfigError            an option, the fleet directory, the profile or the job document
     │                          is not usable (found at start-up, before any user runs)
     ├── EndpointError          the endpoint cannot be reached, its TLS certificate does not
     │                          verify with --ca-file, or the control plane refuses the caller
     ├── EmulatorError          the embedded emulator did not start
     └── FleetExhausted         every device of the fleet is leased to a running user
    ControlPlaneError           one control-plane call failed; `code` is AWS's error code (it
                                names the failure row of the `API` stats)

Third-party exceptions (certs_tool, botocore, ssl, socket, the device profile) are translated
into this tree once, where they are met.
"""

from __future__ import annotations


class RunError(Exception):
    """Base of every reason a run cannot start or go on; `str()` is the whole message."""


class ConfigError(RunError):
    """An option or an input file is not usable."""


class EndpointError(RunError):
    """The endpoint (MQTT, Jobs HTTPS or control plane) cannot be used."""


class EmulatorError(RunError):
    """The embedded emulator did not start."""


class FleetExhausted(RunError):
    """A user asked for a device when every device of the fleet was leased."""


class ControlPlaneError(Exception):
    """A control-plane call that failed; `code` is AWS's error code (or a short cause)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code
