"""Where the run's devices and operator connect, and the start-up check that they can.

An unreachable endpoint or a wrong CA would otherwise show up as one failed `connect` per device
and a run that measures nothing; one TLS handshake with the first device's certificate before
any user starts turns it into one clear message (the issue's "Bad input").
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simfleet.locust.errors import EndpointError
from simfleet.locust.operator import ControlPlaneAccess
from simfleet.locust.options import Endpoint

MQTT_ALPN = "x-amzn-mqtt-ca"  # MQTT over TLS on port 443 (spec §5)
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    """The endpoints of one run and the CA their certificates chain to."""

    mqtt: Endpoint
    jobs: Endpoint | None
    ca_file: Path
    control: ControlPlaneAccess
    account_id: str | None = None  # known for the emulator; AWS's comes with its ARNs

    @classmethod
    def from_ready_line(cls, ready: Mapping[str, Any]) -> Endpoints:
        """From the emulator's ready line. `localhost` rather than the address it listens on,
        so that devices send SNI, as AWS requires (spec §5) and its certificate names."""
        host = "localhost" if ready["host"] in ("127.0.0.1", "::1") else str(ready["host"])
        ca_file = Path(ready["ca_file"])
        return cls(
            mqtt=Endpoint(host=host, port=int(ready["mqtt_port"])),
            jobs=Endpoint(host=host, port=int(ready["jobs_port"])),
            ca_file=ca_file,
            control=ControlPlaneAccess(
                region=str(ready["region"]),
                api_url=str(ready["api_url"]),
                verify=str(ca_file),
                access_key_id=str(ready["access_key_id"]),
                secret_access_key=str(ready["secret_access_key"]),
            ),
            account_id=str(ready["account_id"]),
        )


def probe_tls(
    endpoint: Endpoint,
    *,
    what: str,
    ca_file: Path,
    cert_file: Path,
    key_file: Path,
    alpn: str | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> None:
    """One TCP connect and TLS handshake as a device would make it; EndpointError says why not.

    Nothing is sent after the handshake, so the probe uses no client ID and no Jobs quota.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=ca_file)
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise EndpointError(f"cannot load the TLS files for {what} {endpoint}: {exc}") from None
    if alpn is not None:
        context.set_alpn_protocols([alpn])
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        raise EndpointError(
            f"the certificate of {what} {endpoint} does not verify with the CA {ca_file} "
            f"({exc.verify_message}); pass --ca-file with the endpoint's CA "
            "(AmazonRootCA1.pem for AWS IoT Core)"
        ) from None
    except ssl.SSLError as exc:
        raise EndpointError(f"TLS handshake with {what} {endpoint} failed: {exc}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise EndpointError(f"cannot reach {what} {endpoint}: {reason}") from None
