"""How an MQTT device connects: `MqttConfig` and its `LastWill`, validated once at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_PORT: Final = 8883  # spec §5: AWS IoT Core's MQTT over TLS
ALPN_PORT: Final = 443  # spec §5: MQTT over TLS on 443 needs ALPN x-amzn-mqtt-ca
DEFAULT_KEEP_ALIVE: Final = 60
DEFAULT_CONNECT_TIMEOUT: Final = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class LastWill:
    """What the broker publishes for the device when its connection ends without DISCONNECT
    (MQTT-3.1.2-8): presence messages on AWS, or, in tests, the sign that `drop` was a crash."""

    topic: str
    payload: bytes = b""
    qos: int = 0

    def __post_init__(self) -> None:
        if not self.topic:
            raise ValueError("the will's topic must not be empty")
        if self.qos not in (0, 1):
            raise ValueError(f"the will's QoS must be 0 or 1 (AWS IoT Core), not {self.qos}")


@dataclass(frozen=True, kw_only=True, slots=True)
class MqttConfig:
    """Where the MQTT endpoint is and how a device's connection behaves.

    `host` is connected to, sent as SNI and verified against the server certificate (the
    Data-ATS endpoint on AWS, `localhost` for the emulator). `connect_timeout` bounds TCP
    connect, TLS handshake and CONNACK together, and then the SUBACK. `alpn` offers
    `x-amzn-mqtt-ca` on any port (always offered on 443). `resume_tls_session` offers the last
    connection's TLS session on the next connect.
    """

    host: str
    port: int = DEFAULT_PORT
    keep_alive: int = DEFAULT_KEEP_ALIVE
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    alpn: bool = False
    resume_tls_session: bool = False
    will: LastWill | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        # AWS IoT Core turns 0 and values past 1200 into 1200 and raises those below 30 to 30
        # (spec §6); we send what the profile asks, as a device would.
        if not 0 <= self.keep_alive <= 65535:
            raise ValueError(f"keep_alive must be 0-65535 seconds, not {self.keep_alive}")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")

    @property
    def offers_alpn(self) -> bool:
        return self.alpn or self.port == ALPN_PORT
