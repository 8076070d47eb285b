"""Token bucket arithmetic with time passed in (simfleet.emulator.quotas)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.quotas import KeyedBuckets, TokenBucket

START = 1_750_000_000.0


def _run(bucket: TokenBucket, schedule: list[tuple[float, int]]) -> list[float]:
    """Send `count` requests at each `START + offset`; the times of those accepted."""
    accepted = []
    for offset, count in schedule:
        now = START + offset
        accepted += [now for _ in range(count) if bucket.take(now)]
    return accepted


@pytest.mark.parametrize(
    ("rate", "burst", "schedule", "expected"),
    [
        pytest.param(200.0, 200.0, [(0.0, 250)], 200, id="a-full-bucket-then-nothing"),
        pytest.param(200.0, 200.0, [(0.0, 250), (0.5, 250)], 300, id="half-a-second-refills-100"),
        pytest.param(200.0, 200.0, [(0.0, 250), (10.0, 250)], 400, id="refill-stops-at-burst"),
        pytest.param(100.0, 100.0, [(i / 100, 1) for i in range(500)], 500, id="steady-at-rate"),
        pytest.param(1.0, 1.0, [(0.0, 1), (0.999, 1), (1.0, 1)], 2, id="one-per-second"),
        pytest.param(10.0, 1.0, [(0.0, 3), (0.05, 1), (0.1, 1)], 2, id="burst-of-one"),
        pytest.param(0.5, 1.0, [(0.0, 1), (1.0, 1), (2.0, 1)], 2, id="below-one-per-second"),
    ],
)
def test_accepted_counts(
    rate: float, burst: float, schedule: list[tuple[float, int]], expected: int
) -> None:
    bucket = TokenBucket(rate=rate, burst=burst, now=START)
    assert len(_run(bucket, schedule)) == expected


def test_a_clock_that_steps_back_refills_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1.0, now=START)
    assert bucket.take(START + 100)
    assert not bucket.take(START + 50)  # the wall clock was corrected
    assert not bucket.take(START + 50.5)
    assert bucket.take(START + 51)  # one second after the step back


def test_a_refused_request_takes_no_token() -> None:
    bucket = TokenBucket(rate=1.0, burst=2.0, now=START)
    assert bucket.take(START)
    assert bucket.take(START)
    for _ in range(100):
        assert not bucket.take(START + 0.5)
    assert bucket.available(START + 0.5) == pytest.approx(0.5)
    assert bucket.take(START + 1.0)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        pytest.param(0.0, 1.0, id="zero-rate"),
        pytest.param(-1.0, 1.0, id="negative-rate"),
        pytest.param(float("inf"), 1.0, id="infinite-rate"),
        pytest.param(1.0, 0.5, id="burst-under-one"),
        pytest.param(1.0, float("nan"), id="nan-burst"),
    ],
)
def test_bad_buckets_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate=rate, burst=burst, now=START)
    with pytest.raises(ValueError, match=r"rate|burst"):
        KeyedBuckets(rate=rate, burst=burst)


_steps = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=1.5), st.integers(min_value=0, max_value=4)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.2, max_value=500.0),
    burst_seconds=st.floats(min_value=0.01, max_value=3.0),
    steps=_steps,
)
def test_never_more_than_rate_times_window_plus_burst(
    rate: float, burst_seconds: float, steps: list[tuple[float, int]]
) -> None:
    burst = max(1.0, rate * burst_seconds)
    bucket = TokenBucket(rate=rate, burst=burst, now=START)
    schedule, offset = [], 0.0
    for gap, count in steps:
        offset += gap
        schedule.append((offset, count))
    accepted = _run(bucket, schedule)
    # Any window [accepted[i], accepted[j]] holds j - i + 1 accepted requests; a request may
    # be served a microsecond early (float epoch seconds are 0.24 µs apart).
    for i, first in enumerate(accepted):
        for j in range(i, len(accepted)):
            assert j - i + 1 <= rate * (accepted[j] - first + 1e-6) + burst + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.2, max_value=500.0),
    slack=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=60),
)
def test_requests_at_most_at_the_rate_are_all_accepted(rate: float, slack: list[float]) -> None:
    # The bucket refuses only what goes beyond the rate: a client spacing its requests by at
    # least 1/rate is never throttled, even with a burst of one.
    bucket = TokenBucket(rate=rate, burst=1.0, now=START)
    now = START
    for extra in slack:
        assert bucket.take(now)
        now += (1.0 + extra) / rate


def test_keyed_buckets_are_per_key() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=1.0)
    assert buckets.take("a", START)
    assert buckets.ready("b", START)
    assert buckets.take("b", START)
    assert not buckets.ready("a", START + 0.5)
    assert not buckets.take("a", START + 0.5)
    assert buckets.ready("a", START + 1.0)
    assert buckets.take("a", START + 1.0)


def test_keyed_buckets_forget_full_buckets() -> None:
    buckets = KeyedBuckets(rate=1.0, burst=1.0)
    for second in range(10):
        for n in range(1500):
            assert buckets.take(f"client-{second}-{n}", START + second)
    # Only keys seen within the last second are needed; the map is swept as it doubles.
    assert len(buckets) < 2 * 1500 + 1024
    # A forgotten key is a new key: full.
    assert buckets.take("client-0-0", START + 10)
