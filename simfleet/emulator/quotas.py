"""AWS IoT Core's quotas (spec §6) for the emulator, with no I/O: time is passed in.

    QuotaConfig (frozen; AWS's defaults, each quota can be off; `QuotaConfig.parse("off")`)
        └─▶ Quotas(config, now=clock.now())   the live buckets of one emulator + QuotaCounters
              ├── Broker: CONNECT/s per client ID and per account, publishes/s per connection
              └── JobsService: Jobs data-plane reads and writes per account, MQTT and HTTPS
                    (`throttled_reply` / `throttled_error`: what a throttled request gets)

Subscriptions per connection and payload size are limits, not rates: the broker enforces them
from `BrokerConfig`, whose `with_quotas(config)` takes them from here, so that a run's values
(and "off") are set in one place.

Choices [U] (AWS documents rates, not how it measures them):
- Every rate is a token bucket holding `burst_seconds` (default 1) of its rate, at least one
  token, full at start: a second's worth may come at once, then the rate. Over any window of
  t seconds at most rate * t + burst requests are accepted. A refused request takes no token.
- Jobs reads are DescribeJobExecution and GetPendingJobExecutions, writes StartNext and
  UpdateJobExecution (spec §6), one bucket each per account, shared by MQTT and HTTPS.
- Jobs requests take a token when they reach the Jobs service: every MQTT publish on a request
  topic (malformed ones too: the service received them), every HTTPS call that passed
  authentication, routing and decoding. The control plane's DescribeJobExecution is not data
  plane.
- CONNECT/s per client ID is counted after the CONNECT is authenticated and authorized, so a
  stranger cannot lock a device out; a refused CONNECT (throttled or not) takes no token.

Errors: bad configuration raises ValueError (QuotaConfig, TokenBucket, KeyedBuckets); nothing
else here raises.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass
from typing import Any

from simfleet.emulator.mqtt import AWS_MAX_PAYLOAD_SIZE
from simfleet.jobs import (
    JobsError,
    JobsErrorCode,
    JobsProtocolError,
    JobsTopic,
    MqttReply,
    Operation,
    Rejected,
    Reply,
)
from simfleet.jobs.requests import MAX_CLIENT_TOKEN_BYTES, load_request_object

AWS_JOBS_READS_PER_SECOND = 200.0  # spec §6: Describe + GetPending, per account
AWS_JOBS_WRITES_PER_SECOND = 200.0  # spec §6: StartNext + Update, per account
AWS_PUBLISHES_PER_CONNECTION = 100.0  # spec §6: per second, in + out
AWS_CONNECTS_PER_CLIENT_ID = 1.0  # spec §6: per second, fixed
AWS_CONNECTS_PER_ACCOUNT = 500.0  # spec §6: per second
AWS_SUBSCRIPTIONS_PER_CONNECTION = 50  # spec §6
MQTT_MAX_PAYLOAD_SIZE = 268_435_455  # MQTT 3.1.1 §2.2.3: the largest remaining length
# A bucket is never smaller than one request, whatever the rate and burst_seconds.
_MIN_BURST = 1.0
# What AWS APIs say when they throttle.
THROTTLED_MESSAGE = "Rate exceeded"
# Epoch seconds as floats are 0.24 µs apart today, so a request 1/rate after the last one can
# find a hair less than one token: a request finding its token within a microsecond is served.
_EARLY_SECONDS = 1e-6


class Quota(enum.Enum):
    """A quota, valued by its name in `--quotas`, `QuotaCounters` and /metrics."""

    JOBS_READS = "jobs-reads"
    JOBS_WRITES = "jobs-writes"
    PUBLISHES_PER_CONNECTION = "publishes-per-connection"
    CONNECTS_PER_CLIENT_ID = "connects-per-client-id"
    CONNECTS_PER_ACCOUNT = "connects-per-account"
    SUBSCRIPTIONS_PER_CONNECTION = "subscriptions-per-connection"
    PAYLOAD_SIZE = "payload-size"

    @property
    def field(self) -> str:
        """The `QuotaConfig` field holding this quota's value."""
        return self.value.replace("-", "_")

    @property
    def is_rate(self) -> bool:
        return self not in _LIMITS


_LIMITS = frozenset({Quota.SUBSCRIPTIONS_PER_CONNECTION, Quota.PAYLOAD_SIZE})


@dataclass(frozen=True, kw_only=True)
class QuotaConfig:
    """One run's quotas: rates in requests per second, limits in subscriptions and bytes;
    None turns a quota off. The defaults are AWS's (spec §6)."""

    jobs_reads: float | None = AWS_JOBS_READS_PER_SECOND
    jobs_writes: float | None = AWS_JOBS_WRITES_PER_SECOND
    publishes_per_connection: float | None = AWS_PUBLISHES_PER_CONNECTION
    connects_per_client_id: float | None = AWS_CONNECTS_PER_CLIENT_ID
    connects_per_account: float | None = AWS_CONNECTS_PER_ACCOUNT
    subscriptions_per_connection: int | None = AWS_SUBSCRIPTIONS_PER_CONNECTION
    payload_size: int | None = AWS_MAX_PAYLOAD_SIZE
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        for quota in Quota:
            value = getattr(self, quota.field)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"quota {quota.value} must be a number or None, not {value!r}")
            if quota.is_rate:
                if not (math.isfinite(value) and value > 0):
                    raise ValueError(f"quota {quota.value} must be a rate > 0, not {value!r}")
            elif not isinstance(value, int):
                raise ValueError(f"quota {quota.value} must be a whole number, not {value!r}")
        if self.subscriptions_per_connection is not None and self.subscriptions_per_connection < 1:
            raise ValueError("quota subscriptions-per-connection must be >= 1")
        if self.payload_size is not None and not 0 <= self.payload_size <= MQTT_MAX_PAYLOAD_SIZE:
            raise ValueError(f"quota payload-size must be 0-{MQTT_MAX_PAYLOAD_SIZE} bytes")
        if not (math.isfinite(self.burst_seconds) and self.burst_seconds > 0):
            raise ValueError("burst-seconds must be > 0")

    @classmethod
    def off(cls) -> QuotaConfig:
        """No quota at all. Limits this config does not hold (topic size, filters per
        SUBSCRIBE, the QoS 1 in-flight window: BrokerConfig's other fields) still apply."""
        return cls(
            jobs_reads=None,
            jobs_writes=None,
            publishes_per_connection=None,
            connects_per_client_id=None,
            connects_per_account=None,
            subscriptions_per_connection=None,
            payload_size=None,
        )

    def value(self, quota: Quota) -> float | int | None:
        return getattr(self, quota.field)  # type: ignore[no-any-return]

    def burst(self, quota: Quota) -> float | None:
        """The capacity of a rate quota's bucket, None when the quota is off."""
        if not quota.is_rate:
            raise ValueError(f"{quota.value} is a limit, not a rate")
        rate = self.value(quota)
        return None if rate is None else max(_MIN_BURST, rate * self.burst_seconds)

    @classmethod
    def parse(cls, spec: str) -> QuotaConfig:
        """The quotas a `--quotas` option names: comma-separated items applied left to right
        to AWS's defaults. `aws` resets every quota to AWS's value, `off` turns every one off,
        `NAME=VALUE` sets one (`NAME=off` turns it off), `burst-seconds=S` sizes the buckets.

            aws                                  AWS's defaults (the default)
            off                                  no quota
            jobs-writes=1000,connects-per-client-id=off
            off,jobs-reads=200,jobs-writes=200   only the Jobs API throttled

        Raises ValueError naming the item at fault."""
        config = cls()
        for raw in spec.split(","):
            item = raw.strip()
            if item == "aws":
                config = cls(burst_seconds=config.burst_seconds)
            elif item == "off":
                config = dataclasses.replace(cls.off(), burst_seconds=config.burst_seconds)
            else:
                name, equals, text = (part.strip() for part in item.partition("="))
                if not equals or not text:
                    raise ValueError(
                        f"quota item {item!r} is not aws, off or NAME=VALUE (names: "
                        f"{', '.join(q.value for q in Quota)}, burst-seconds)"
                    )
                config = config._with(name, text)
        return config

    def _with(self, name: str, text: str) -> QuotaConfig:
        value: float | int | None
        if name == "burst-seconds":
            value = _number(name, text, float)
            return dataclasses.replace(self, burst_seconds=value)
        try:
            quota = Quota(name)
        except ValueError:
            known = ", ".join(q.value for q in Quota)
            raise ValueError(f"unknown quota {name!r} (known: {known}, burst-seconds)") from None
        value = None if text == "off" else _number(name, text, float if quota.is_rate else int)
        change: dict[str, Any] = {quota.field: value}
        return dataclasses.replace(self, **change)


def _number(name: str, text: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(text)
    except ValueError:
        what = "a number" if kind is float else "a whole number"
        raise ValueError(f"quota {name}={text!r}: the value must be {what} or off") from None


class TokenBucket:
    """`rate` tokens a second up to `burst`, full at `now`; `take(now)` spends one if there is
    one. A clock that steps back refills nothing (the wall clock may be corrected).

    Over any window of t seconds it accepts at most rate * (t + 1 µs) + burst requests, and
    refuses none of a client spacing its requests by 1/rate or more."""

    __slots__ = ("_burst", "_need", "_rate", "_tokens", "_updated")

    def __init__(self, *, rate: float, burst: float, now: float) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError("a bucket's rate must be > 0")
        if not (math.isfinite(burst) and burst >= _MIN_BURST):
            raise ValueError("a bucket's burst must be >= 1")
        self._rate = rate
        self._burst = burst
        self._need = 1.0 - rate * _EARLY_SECONDS
        self._tokens = burst
        self._updated = now

    def available(self, now: float) -> float:
        """The tokens in the bucket at `now`."""
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        return self._tokens

    def ready(self, now: float) -> bool:
        """Whether `take(now)` would succeed; spends nothing."""
        return self.available(now) >= self._need

    def take(self, now: float) -> bool:
        if self.available(now) >= self._need:
            self._tokens -= 1.0
            return True
        return False

    def is_full(self, now: float) -> bool:
        return self.available(now) >= self._burst


class KeyedBuckets:
    """A token bucket per key (client ID). A full bucket is no different from a new one, so
    full buckets are forgotten whenever the map has doubled since it was last swept: memory
    follows the keys seen within the last `burst / rate` seconds, at amortized O(1)."""

    __slots__ = ("_buckets", "_burst", "_rate", "_sweep_at")

    _MIN_SWEEP = 1024

    def __init__(self, *, rate: float, burst: float) -> None:
        TokenBucket(rate=rate, burst=burst, now=0.0)  # the same validation
        self._rate = rate
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_at = self._MIN_SWEEP

    def __len__(self) -> int:
        return len(self._buckets)

    def ready(self, key: str, now: float) -> bool:
        """Whether `take(key, now)` would succeed; spends nothing."""
        bucket = self._buckets.get(key)
        return bucket is None or bucket.ready(now)

    def take(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            bucket = self._buckets[key] = TokenBucket(rate=self._rate, burst=self._burst, now=now)
        return bucket.take(now)

    def _sweep(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if not b.is_full(now)}
        self._sweep_at = max(self._MIN_SWEEP, 2 * len(self._buckets))


class QuotaCounters:
    """How many requests each quota refused: throttled (Jobs), dropped (publishes), refused
    (CONNECTs) or closed (subscriptions, payload). Plain ints, for /metrics."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts = dict.fromkeys(Quota, 0)

    def record(self, quota: Quota) -> None:
        self._counts[quota] += 1

    def __getitem__(self, quota: Quota) -> int:
        return self._counts[quota]

    def snapshot(self) -> dict[str, int]:
        """Every quota by name (`jobs-reads`, ...), zeros included."""
        return {quota.value: count for quota, count in self._counts.items()}


_JOBS_QUOTAS = {
    Operation.GET_PENDING: Quota.JOBS_READS,
    Operation.DESCRIBE: Quota.JOBS_READS,
    Operation.START_NEXT: Quota.JOBS_WRITES,
    Operation.UPDATE: Quota.JOBS_WRITES,
}


class Quotas:
    """The live quotas of one emulator: one object shared by the broker and the Jobs service,
    built once from its `QuotaConfig`. Each refusal is counted in `counters`."""

    def __init__(
        self, config: QuotaConfig, *, now: float, counters: QuotaCounters | None = None
    ) -> None:
        self.config = config
        self.counters = QuotaCounters() if counters is None else counters
        reads = self._bucket(Quota.JOBS_READS, now)
        writes = self._bucket(Quota.JOBS_WRITES, now)
        self._jobs = {
            operation: reads if quota is Quota.JOBS_READS else writes
            for operation, quota in _JOBS_QUOTAS.items()
        }
        self._connects = self._bucket(Quota.CONNECTS_PER_ACCOUNT, now)
        rate = config.connects_per_client_id
        burst = config.burst(Quota.CONNECTS_PER_CLIENT_ID)
        self._client_connects = (
            None if rate is None or burst is None else KeyedBuckets(rate=rate, burst=burst)
        )

    def _bucket(self, quota: Quota, now: float) -> TokenBucket | None:
        rate, burst = self.config.value(quota), self.config.burst(quota)
        return (
            None if rate is None or burst is None else TokenBucket(rate=rate, burst=burst, now=now)
        )

    def allow_jobs(self, operation: Operation, now: float) -> bool:
        """A Jobs device request of `operation` may be answered (else RequestThrottled /
        ThrottlingException). Operations outside the two quotas are always allowed."""
        bucket = self._jobs.get(operation)
        if bucket is None or bucket.take(now):
            return True
        self.counters.record(_JOBS_QUOTAS[operation])
        return False

    def allow_connect(self, client_id: str, now: float) -> bool:
        """An authorized CONNECT for `client_id` may be accepted: both CONNECT quotas have a
        token (and both are spent), else neither is spent and the refusal is counted."""
        per_client, account = self._client_connects, self._connects
        if per_client is not None and not per_client.ready(client_id, now):
            self.counters.record(Quota.CONNECTS_PER_CLIENT_ID)
            return False
        if account is not None and not account.take(now):
            self.counters.record(Quota.CONNECTS_PER_ACCOUNT)
            return False
        if per_client is not None:
            per_client.take(client_id, now)
        return True

    def publish_bucket(self, now: float) -> TokenBucket | None:
        """A new connection's publishes-per-second bucket, None when that quota is off."""
        return self._bucket(Quota.PUBLISHES_PER_CONNECTION, now)

    def exceeded(self, quota: Quota) -> None:
        """Count a refusal decided elsewhere (a dropped publish, a subscription or payload
        over its limit)."""
        self.counters.record(quota)


def throttled_error() -> JobsError:
    """What a throttled Jobs request is refused with: RequestThrottled (spec §1.4), which the
    HTTPS drivers answer 429 ThrottlingException (spec §2, `JobsErrorCode.https`)."""
    return JobsError(JobsErrorCode.REQUEST_THROTTLED, THROTTLED_MESSAGE)


def throttled_reply(topic: JobsTopic, payload: bytes, now: int) -> MqttReply:
    """The MQTT answer to a throttled request on `topic`: RequestThrottled on `…/rejected`,
    with the request's clientToken when it can be read (spec §1.4), nothing changed."""
    error = throttled_error()
    error.client_token = _client_token(payload)
    return MqttReply(
        topic=topic.with_reply(Reply.REJECTED).topic,
        message=Rejected.from_error(error, timestamp=now),
    )


def _client_token(payload: bytes) -> str | None:
    try:
        token = load_request_object(payload).get("clientToken")
    except JobsProtocolError:  # not JSON, or not an object: no token to echo
        return None
    if isinstance(token, str) and len(token.encode()) <= MAX_CLIENT_TOKEN_BYTES:
        return token
    return None
