"""What can go wrong for a simulated device, as one tree.

    DeviceError                 any failure of a device operation; `reason` is short and stable
     │                          (it names the Locust failure row: "timeout", "CONNACK 5 not
     │                          authorized", "VersionMismatch", ...)
     ├── ConnectFailed          TCP, TLS, SNI/ALPN or CONNACK failure, or connect timeout
     ├── ConnectionLost         the connection dropped; a request in flight fails with it
     ├── RequestTimedOut        no reply within the request timeout
     └── JobsRejected           a rejected reply (MQTT) or an error answer (HTTPS); `code`
    ProfileError(ValueError)    a behaviour profile value or file that is not valid

Third-party exceptions (ssl, socket, paho, HTTP clients) are translated into this tree once, in
the transport that meets them.
"""

from __future__ import annotations

from simfleet.jobs import JobsErrorCode


class DeviceError(Exception):
    """Base of every device failure; `reason` is what a stats row shows."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectFailed(DeviceError):
    """The device could not connect: TCP, TLS handshake, CONNACK, or the connect timeout."""


class ConnectionLost(DeviceError):
    """The connection dropped while the device used it."""


class RequestTimedOut(DeviceError):
    """No reply came within the request timeout."""


class JobsRejected(DeviceError):
    """The Jobs service refused the request with an AWS error code."""

    def __init__(self, code: JobsErrorCode, message: str = "") -> None:
        super().__init__(code.value)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}" if self.message else self.code.value


class ProfileError(ValueError):
    """A behaviour profile that is not valid; the message names the key and the file."""
