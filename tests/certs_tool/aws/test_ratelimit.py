"""The rate limiter and the backoff, with time passed in: no test here sleeps."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool.aws import (
    AWS_DEFAULT_RATES,
    RateLimiter,
    RetryPolicy,
    TokenBucket,
    parse_rates,
    quota_bound_rate,
)
from certs_tool.errors import InvalidInputError


class FakeTime:
    """A clock that only moves when the limiter sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_bucket_serves_at_its_rate_after_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=1.0)
    waits = [bucket.reserve(5.0) for _ in range(4)]
    # One token at once, then one slot every 1/10 s, reserved in order.
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_an_idle_bucket_refills_to_its_burst_only() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    # An hour idle stores 3 tokens, not 7200.
    later = 3600.0
    assert [bucket.reserve(later) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(later) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        pytest.param(0.0, 1.0, id="zero-rate"),
        pytest.param(-1.0, 1.0, id="negative-rate"),
        pytest.param(math.inf, 1.0, id="infinite-rate"),
        pytest.param(1.0, 0.5, id="burst-below-one"),
    ],
)
def test_bad_buckets_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate=rate, burst=burst)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=500.0),
    burst=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=60),
)
def test_no_window_sees_more_than_rate_times_length_plus_burst(
    rate: float, burst: int, gaps: list[float]
) -> None:
    """Callers arrive at any times; the moments they are served never exceed the quota."""
    bucket = TokenBucket(rate=rate, burst=float(burst))
    arrival, served = 0.0, []
    for gap in gaps:
        arrival += gap
        served.append(arrival + bucket.reserve(arrival))
    served.sort()
    for first in range(len(served)):
        for last in range(first, len(served)):
            window = served[last] - served[first]
            assert last - first + 1 <= rate * window + burst + 1e-6


def test_the_limiter_paces_each_api_on_its_own() -> None:
    time = FakeTime()
    limiter = RateLimiter(
        {"RegisterCertificate": 10.0, "CreateThing": 15.0}, clock=time.clock, sleep=time.sleep
    )
    started = time.now
    for _ in range(11):
        limiter.acquire("RegisterCertificate")
    # 11 calls at 10/s: the first at once, the 11th a second later.
    assert time.now - started == pytest.approx(1.0)
    before = time.now
    limiter.acquire("CreateThing")  # its own bucket, still full
    assert time.now == before
    assert limiter.rate("Unlisted") == 10.0


def test_threads_share_one_bucket() -> None:
    """Eight threads reserve at one instant: they get eight distinct slots 1/rate apart."""
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    limiter = RateLimiter({"AttachPolicy": 4.0}, clock=lambda: 0.0, sleep=record)
    threads = [threading.Thread(target=limiter.acquire, args=("AttachPolicy",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([0.25 * k for k in range(1, 8)])


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(min_value=0, max_value=40), draw=st.floats(min_value=0.0, max_value=0.999)
)
def test_full_jitter_stays_under_the_exponential_cap(attempt: int, draw: float) -> None:
    policy = RetryPolicy(base=0.25, cap=20.0)
    delay = policy.delay(attempt, draw)
    assert 0.0 <= delay <= min(20.0, 0.25 * 2**attempt)


def test_full_jitter_spans_the_whole_range() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    assert policy.delay(3, 0.0) == 0.0
    assert policy.delay(3, 0.5) == pytest.approx(4.0)
    assert policy.delay(10, 0.5) == pytest.approx(4.0)  # capped at 8 s, then jittered


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        pytest.param([], {}, id="defaults"),
        pytest.param(["RegisterCertificate=25"], {"RegisterCertificate": 25.0}, id="raised"),
        pytest.param(
            ["CreateThing=1.5", "CreateThing=3"], {"CreateThing": 3.0}, id="last-one-wins"
        ),
    ],
)
def test_rates_from_options(specs: list[str], expected: dict[str, float]) -> None:
    assert parse_rates(specs) == {**AWS_DEFAULT_RATES, **expected}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("RegisterCertificate", "write API=CALLS_PER_SECOND", id="no-value"),
        pytest.param("RegisterCertificate=0", "write API=CALLS_PER_SECOND", id="zero"),
        pytest.param("RegisterCertificate=fast", "write API=CALLS_PER_SECOND", id="not-a-number"),
        pytest.param("RegisterCertificate=inf", "write API=CALLS_PER_SECOND", id="infinite"),
        pytest.param("RegisterThing=5", "unknown API 'RegisterThing'", id="unknown-api"),
    ],
)
def test_bad_rates_are_refused(spec: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_rates([spec])


def test_the_quota_bound_rate_is_the_slowest_apis() -> None:
    per_device = {"RegisterCertificate": 1, "CreateThing": 1, "AttachPolicy": 2}
    assert quota_bound_rate(AWS_DEFAULT_RATES, per_device) == 7.5  # AttachPolicy 15/s, twice
    assert quota_bound_rate(AWS_DEFAULT_RATES, {"RegisterCertificate": 1}) == 10.0
    assert quota_bound_rate(AWS_DEFAULT_RATES, {"AttachPolicy": 0}) == math.inf
