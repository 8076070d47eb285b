"""Settings of the Jobs HTTPS device API (spec §2): who we are, and the limits we choose."""

from __future__ import annotations

from dataclasses import dataclass

from simfleet.emulator.control_shapes import partition

# [U] AWS documents no body limit for iot-jobs-data. The same request over MQTT may carry
# 128 KB (spec §6, payload quota), so an HTTPS body may too; the largest legitimate one (an
# update with many statusDetails) is a few KB.
DEFAULT_MAX_BODY_BYTES = 128 * 1024
# [U] AWS documents no idle timeout for 8443. Devices that poll keep one connection open between
# polls, typically every 30-120 s; closing it sooner would make every poll pay a handshake.
DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 300.0
# Compiled authorizers kept, by certificate and source address (each a few KB): enough for every
# device of a large run to poll without recompiling its policies.
DEFAULT_AUTHORIZER_CACHE_SIZE = 100_000


@dataclass(frozen=True, kw_only=True)
class JobsHttpConfig:
    """`region` and `account_id` build the ARNs that policies are matched against (spec §4).

    `session_tickets`: TLS 1.3 tickets sent after each handshake; none by default, as for the
    broker (`ssl_context_for_fleet`): each costs server CPU and few HTTP clients resume.
    """

    region: str
    account_id: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    keepalive_timeout_seconds: float = DEFAULT_KEEPALIVE_TIMEOUT_SECONDS
    authorizer_cache_size: int = DEFAULT_AUTHORIZER_CACHE_SIZE
    session_tickets: int = 0
    shutdown_timeout_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        if self.keepalive_timeout_seconds <= 0:
            raise ValueError("keepalive_timeout_seconds must be positive")
        if self.authorizer_cache_size < 1:
            raise ValueError("authorizer_cache_size must be positive")
        if self.session_tickets < 0:
            raise ValueError("session_tickets must not be negative")

    @property
    def arn_prefix(self) -> str:
        """`arn:{partition}:iot:{region}:{account}:`, to which `thing/{name}` is appended."""
        return f"arn:{partition(self.region)}:iot:{self.region}:{self.account_id}:"
