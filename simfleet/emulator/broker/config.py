"""The broker's limits and identity, loaded once at the edge and passed down (spec §6).

Every default is AWS IoT Core's quota where AWS documents one; the others are our choices,
each written next to its field.

Two of AWS's quotas are limits the broker enforces itself: subscriptions per connection and
payload size. They stay fields here because the broker and its tests need no live quota state
to enforce them, but the emulator sets them from its `QuotaConfig` (`with_quotas`), which
holds every quota of a run, so that a quota turned off there is off here too; a `Broker`
given `Quotas` refuses a config that disagrees with them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from simfleet.emulator.mqtt import AWS_MAX_PAYLOAD_SIZE, AWS_TOPIC_LIMITS, TopicLimits
from simfleet.emulator.quotas import (
    AWS_SUBSCRIPTIONS_PER_CONNECTION,
    MQTT_MAX_PAYLOAD_SIZE,
    QuotaConfig,
)


@dataclass(frozen=True, kw_only=True)
class KeepAlivePolicy:
    """Spec §6: a keep-alive of 0 or above 1200 s becomes 1200, below 30 becomes 30, and the
    link drops after 1.5 times the keep-alive without a control packet from the client.
    Tests lower ``minimum`` to see an expiry in a second."""

    minimum: int = 30
    maximum: int = 1200
    grace: float = 1.5

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum <= 0xFFFF:
            raise ValueError("keep-alive bounds must satisfy 1 <= minimum <= maximum <= 65535")
        if self.grace < 1:
            raise ValueError("keep-alive grace must be >= 1")

    def effective(self, requested: int) -> int:
        """The keep-alive the broker enforces for a CONNECT asking for ``requested``."""
        if requested == 0 or requested > self.maximum:
            return self.maximum
        return max(requested, self.minimum)

    def deadline(self, requested: int) -> float:
        """Seconds of silence after which the broker closes the connection."""
        return self.effective(requested) * self.grace


@dataclass(frozen=True, kw_only=True)
class BrokerConfig:
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # A client must finish the TLS handshake and send CONNECT within this many seconds of
    # the TCP accept (issue #3 "Bad input": a client that never completes either).
    connect_timeout: float = 10.0
    keep_alive: KeepAlivePolicy = field(default_factory=KeepAlivePolicy)
    max_payload_size: int = AWS_MAX_PAYLOAD_SIZE  # spec §6: 128 KB; MQTT's maximum when off
    topic_limits: TopicLimits = AWS_TOPIC_LIMITS  # spec §6: 256 bytes, 7 slashes
    # Spec §6: "Subscriptions per connection 50 (beyond that the connection may close)".
    # Our choice: a SUBSCRIBE that would take the session past this closes the connection,
    # like every other limit breach of MQTT 3.1.1 at AWS. None: no limit.
    max_subscriptions: int | None = AWS_SUBSCRIPTIONS_PER_CONNECTION
    max_filters_per_subscribe: int = 8  # spec §6: 8 per SUBSCRIBE; more closes too
    max_inflight: int = 100  # spec §6: unacknowledged QoS 1 in flight per direction
    # [U] AWS documents no per-session queue bound. Ours: 1000 QoS 1 messages waiting for a
    # client (offline, or its in-flight window full); the oldest is dropped beyond it, since
    # for Jobs the newest notify-next supersedes older ones.
    max_queued: int = 1000
    session_expiry: float = 3600.0  # spec §6: persistent sessions live 1 h by default
    max_client_id_bytes: int = 128  # spec §5
    # Our choice: while more than this many bytes wait to go out to a client that does not
    # read, QoS 0 messages to it are dropped (QoS 1 ones wait in the bounded queue), so a
    # stalled subscriber cannot grow the emulator's memory without limit.
    max_write_buffer: int = 1024 * 1024

    def __post_init__(self) -> None:
        if not self.region or not self.account_id:
            raise ValueError("region and account_id must be non-empty")
        for name in ("connect_timeout", "session_expiry"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_subscriptions is not None and self.max_subscriptions < 1:
            raise ValueError("max_subscriptions must be >= 1")
        for name in (
            "max_filters_per_subscribe",
            "max_inflight",
            "max_queued",
            "max_client_id_bytes",
            "max_write_buffer",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not 0 <= self.max_payload_size <= MQTT_MAX_PAYLOAD_SIZE:
            raise ValueError(f"max_payload_size must be 0-{MQTT_MAX_PAYLOAD_SIZE}")
        if self.max_inflight > 0xFFFF:
            raise ValueError("max_inflight cannot exceed the 65535 packet identifiers")

    def with_quotas(self, quotas: QuotaConfig) -> BrokerConfig:
        """This config with the limits `quotas` sets: subscriptions per connection (off: no
        limit) and payload size (off: MQTT's own maximum, 256 MB)."""
        payload = quotas.payload_size
        return dataclasses.replace(
            self,
            max_subscriptions=quotas.subscriptions_per_connection,
            max_payload_size=MQTT_MAX_PAYLOAD_SIZE if payload is None else payload,
        )
