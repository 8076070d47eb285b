"""Pacing AWS IoT control-plane calls: a token bucket per API at AWS's default quotas, and
exponential backoff with full jitter for the ThrottlingException that still gets through.

    TokenBucket.reserve(now) -> seconds to wait      sans-io: time is passed in
    RetryPolicy.delay(attempt, draw) -> seconds      sans-io: the random draw is passed in
    RateLimiter(rates, clock=, sleep=).acquire(api)  thread-safe; clock and sleep injected

Choices [U] (AWS documents rates per API, not how it measures them):
- A bucket holds `burst` tokens (default 1) and refills at the API's rate. Buckets hand out
  reservations: a caller that finds no token takes the next free slot and sleeps until it,
  so N threads waiting on one API are served in order at exactly the rate, never faster.
- The rates are the per-API "Transactions per Second" of AWS IoT's throttling-limits table
  (awsdocs/aws-iot-docs limits-iot.md, 2019; spec §6 cites the same table). Accounts can have
  them raised, hence `--rate API=N`. An API missing from the table gets DEFAULT_RATE.
- Backoff: attempt k (from 0) sleeps uniform(0, min(cap, base * 2**k)) ("full jitter", AWS
  Architecture Blog, "Exponential Backoff And Jitter"), which spreads the retries of many
  threads that were throttled together.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from certs_tool.errors import InvalidInputError

# AWS IoT throttling limits, transactions per second (see the module docstring).
AWS_DEFAULT_RATES: Mapping[str, float] = MappingProxyType(
    {
        "AddThingToThingGroup": 60.0,
        "AttachPolicy": 15.0,
        "AttachThingPrincipal": 15.0,
        "CreatePolicy": 10.0,
        "CreateThing": 15.0,
        "CreateThingGroup": 25.0,
        "DeleteCACertificate": 10.0,
        "DeleteCertificate": 10.0,
        "DeletePolicy": 10.0,
        "DeleteThing": 15.0,
        "DeleteThingGroup": 15.0,
        "DescribeCertificate": 10.0,
        "DetachPolicy": 15.0,
        "DetachThingPrincipal": 15.0,
        "GetRegistrationCode": 10.0,
        "ListAttachedPolicies": 15.0,
        "ListPrincipalThings": 10.0,
        "RegisterCACertificate": 10.0,
        "RegisterCertificate": 10.0,
        # [U] Not in the 2019 table (the API came in 2022): RegisterCertificate's rate. The same
        # table caps device-certificate registrations at 15/s per account, which 10/s respects.
        "RegisterCertificateWithoutCA": 10.0,
        "UpdateCACertificate": 10.0,
        "UpdateCertificate": 10.0,
    }
)
DEFAULT_RATE = 10.0  # the table's most common value, for APIs it does not list
DEFAULT_BURST = 1.0


@dataclass(kw_only=True)
class TokenBucket:
    """`rate` tokens per second, at most `burst` stored; full at the first reservation."""

    rate: float
    burst: float = DEFAULT_BURST
    _tokens: float = field(init=False, default=0.0)
    _stamp: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate must be > 0, not {self.rate!r}")
        if not (math.isfinite(self.burst) and self.burst >= 1):
            raise ValueError(f"burst must be >= 1, not {self.burst!r}")

    def reserve(self, now: float) -> float:
        """Take a token; the seconds from `now` until it is ours (0: take it now)."""
        if self._stamp is None:
            self._tokens, self._stamp = self.burst, now
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = max(self._stamp, now)
        # Below zero the bucket is in debt: each waiting caller owns one more slot ahead.
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How a throttled (or transiently failed) call is retried: `attempts` tries in all."""

    attempts: int = 10
    base: float = 0.25  # seconds: the first retry waits up to this long
    cap: float = 20.0  # seconds: no single wait is longer

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base <= 0 or self.cap < self.base:
            raise ValueError(f"invalid retry policy {self!r}")

    def delay(self, attempt: int, draw: float) -> float:
        """The wait before retry `attempt` (0 = the first retry), `draw` uniform in [0, 1)."""
        return draw * min(self.cap, self.base * 2.0**attempt)


class RateLimiter:
    """One TokenBucket per API, shared by every thread of a run."""

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        burst: float = DEFAULT_BURST,
        default_rate: float = DEFAULT_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rates = dict(rates)
        self._burst = burst
        self._default_rate = default_rate
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def rate(self, api: str) -> float:
        return self._rates.get(api, self._default_rate)

    def acquire(self, api: str) -> float:
        """Block until `api` may be called; the seconds waited."""
        with self._lock:
            bucket = self._buckets.get(api)
            if bucket is None:
                bucket = self._buckets[api] = TokenBucket(rate=self.rate(api), burst=self._burst)
            wait = bucket.reserve(self._clock())
        if wait > 0:
            self._sleep(wait)
        return wait


def parse_rates(
    specs: Iterable[str], base: Mapping[str, float] = AWS_DEFAULT_RATES
) -> dict[str, float]:
    """`base` changed by specs like "RegisterCertificate=20" (the account's raised quota)."""
    rates = dict(base)
    for spec in specs:
        api, sep, value = spec.partition("=")
        api = api.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not sep or not api.isalnum() or not (math.isfinite(rate) and rate > 0):
            raise InvalidInputError(
                f"invalid --rate {spec!r}: write API=CALLS_PER_SECOND, e.g. RegisterCertificate=20"
            )
        if api not in base:
            known = ", ".join(sorted(base))
            raise InvalidInputError(f"--rate names unknown API {api!r} (known: {known})")
        rates[api] = rate
    return rates


def quota_bound_rate(rates: Mapping[str, float], calls_per_item: Mapping[str, int]) -> float:
    """Items per second that the quotas allow when each item makes `calls_per_item` calls:
    the slowest API decides (1,000 devices at 10 RegisterCertificate/s take 100 s)."""
    bounds = [
        rates.get(api, DEFAULT_RATE) / calls for api, calls in calls_per_item.items() if calls > 0
    ]
    return min(bounds) if bounds else math.inf
