"""What the broker counts, as plain ints the app can expose (issue #3 items 3-5, issue #6)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from simfleet.emulator.policy import DenialCounter


class RefusalReason(enum.Enum):
    """Why a connection ended before it was accepted (its CONNECT got no CONNACK 0)."""

    NO_CERTIFICATE = "no-certificate"
    UNKNOWN_CERTIFICATE = "unknown-certificate"
    INACTIVE_CERTIFICATE = "inactive-certificate"
    CONNECT_DENIED = "connect-denied"  # iot:Connect, or iot:Publish on the will topic
    IDENTIFIER_REJECTED = "identifier-rejected"
    PROTOCOL_VERSION = "protocol-version"
    CONNECT_TIMEOUT = "connect-timeout"
    THROTTLED = "throttled"  # a CONNECT/s quota (spec §6); `Quotas.counters` says which


@dataclass(kw_only=True)
class BrokerCounters:
    connections_current: int = 0  # open connections, TLS handshake or not
    connections_total: int = 0
    connects_accepted: int = 0
    connects_refused: dict[RefusalReason, int] = field(default_factory=dict)
    takeovers: int = 0  # a CONNECT with a client ID already connected (spec §5)
    messages_in: int = 0  # PUBLISH packets from clients
    messages_out: int = 0  # PUBLISH packets written to clients, redeliveries included
    # Deliveries not made: queue full, QoS 0 to a stalled or offline client, a delivery over
    # the client's publishes-per-second quota.
    messages_dropped: int = 0
    keep_alive_timeouts: int = 0
    tls_failures: int = 0  # handshakes refused: wrong CA, no client certificate, garbage
    protocol_errors: int = 0  # bad input that closed a connection
    internal_errors: int = 0  # our bugs, contained to the connection that hit them
    denials: DenialCounter = field(default_factory=DenialCounter)  # by policy action

    def refused(self, reason: RefusalReason) -> None:
        self.connects_refused[reason] = self.connects_refused.get(reason, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """Every counter as a flat name -> int map (refusals and denials by their keys)."""
        flat = {
            name: value
            for name, value in vars(self).items()
            if isinstance(value, int) and not isinstance(value, bool)
        }
        for reason, count in self.connects_refused.items():
            flat[f"connects_refused.{reason.value}"] = count
        for action, count in self.denials.snapshot().items():
            flat[f"policy_denials.{action}"] = count
        return flat
