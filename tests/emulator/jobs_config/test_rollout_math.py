"""rollout.py on its own: the rate of each stage, the stages the counts earn, and the release
schedule (no second over its quota, every minute at the rate, nothing released early)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator import rollout
from simfleet.emulator.job_config import ExponentialRate, RolloutConfig


def _exponential(
    base: int,
    tenths: int,
    *,
    notified: int | None = None,
    succeeded: int | None = None,
    maximum: int | None = None,
) -> RolloutConfig:
    return RolloutConfig(
        maximum_per_minute=maximum,
        exponential=ExponentialRate(
            base_rate_per_minute=base,
            increment_tenths=tenths,
            notified_things=notified,
            succeeded_things=succeeded,
        ),
    )


@pytest.mark.parametrize(
    ("config", "rates"),
    [
        pytest.param(RolloutConfig(maximum_per_minute=37), [37, 37, 37], id="constant"),
        pytest.param(
            _exponential(50, 20, notified=1000), [50, 100, 200, 400, 800, 1000, 1000], id="guide"
        ),
        pytest.param(_exponential(10, 11, notified=1), [10, 11, 12, 13, 14, 16], id="factor-1.1"),
        pytest.param(_exponential(1, 11, notified=1), [1, 1, 1, 1, 1, 1, 1, 1, 2], id="slow-start"),
        pytest.param(
            _exponential(100, 50, notified=1, maximum=300), [100, 300, 300], id="capped-by-max"
        ),
    ],
)
def test_rate_of_each_stage(config: RolloutConfig, rates: list[int]) -> None:
    assert [rollout.rate(config, k) for k in range(len(rates))] == rates


@pytest.mark.parametrize(
    ("notified", "succeeded", "expected"),
    [
        pytest.param(0, 0, 0, id="start"),
        pytest.param(999, 0, 0, id="just-under"),
        pytest.param(1000, 0, 1, id="notified"),
        pytest.param(2500, 0, 2, id="twice"),
        pytest.param(10, 100, 2, id="succeeded-first"),
    ],
)
def test_stage_is_earned_by_either_count(notified: int, succeeded: int, expected: int) -> None:
    config = _exponential(10, 20, notified=1000, succeeded=50)
    assert rollout.stage(config, notified=notified, succeeded=succeeded) == expected


def _run(config: RolloutConfig, total: int) -> dict[int, int]:
    """Tick at every second that `next_release` names until all are out; the count released
    at each. No second releases more than its own quota and what an earlier second's stage
    change left owing (so at most two seconds' quota of the fastest rate reached)."""
    state = rollout.start(0)
    released: dict[int, int] = {}
    now: int | None = 0
    while now is not None:
        after = rollout.release(
            config, state, now=now, succeeded=0, remaining=total - state.released
        )
        assert (
            0
            < after.released - state.released
            <= 2 * math.ceil(rollout.rate(config, after.stage) / 60)
        )
        released[now] = after.released - state.released
        state = after
        due = rollout.next_release(
            config, state, now=now, succeeded=0, remaining=total - state.released
        )
        assert due is None or due > now
        now = due
    return released


@settings(max_examples=200, deadline=None)
@given(per_minute=st.integers(1, 1000), total=st.integers(1, 600))
def test_a_constant_rate_releases_its_quota_every_minute(per_minute: int, total: int) -> None:
    released = _run(RolloutConfig(maximum_per_minute=per_minute), total)
    assert sum(released.values()) == total
    by_minute: dict[int, int] = {}
    for second, count in released.items():
        by_minute[second // 60] = by_minute.get(second // 60, 0) + count
    full_minutes = total // per_minute
    assert [by_minute[m] for m in range(full_minutes)] == [per_minute] * full_minutes
    # The last thing goes in the first second s with ceil(per_minute * (s + 1) / 60) >= total.
    assert max(released) == 60 * (total - 1) // per_minute


@settings(max_examples=200, deadline=None)
@given(
    per_minute=st.integers(1, 1000),
    total=st.integers(1, 500),
    gaps=st.lists(st.integers(1, 200), min_size=1, max_size=40),
)
def test_catching_up_releases_what_was_due(per_minute: int, total: int, gaps: list[int]) -> None:
    """Ticks at any times release exactly what the schedule owes by then; next_release is the
    first second that owes more."""
    config = RolloutConfig(maximum_per_minute=per_minute)
    state = rollout.start(0)
    now = 0
    for gap in [0, *gaps]:
        now += gap
        state = rollout.release(
            config, state, now=now, succeeded=0, remaining=total - state.released
        )
        owed = min(total, math.ceil(per_minute * (now + 1) / 60))
        assert state.released == owed
        due = rollout.next_release(
            config, state, now=now, succeeded=0, remaining=total - state.released
        )
        if state.released == total:
            assert due is None
        else:
            assert due is not None
            assert due > now
            assert math.ceil(per_minute * due / 60) <= state.released  # nothing owed before
            assert math.ceil(per_minute * (due + 1) / 60) > state.released


@settings(max_examples=200, deadline=None)
@given(
    base=st.integers(1, 200),
    tenths=st.integers(11, 50),
    step=st.integers(1, 300),
    total=st.integers(1, 600),
)
def test_an_exponential_rollout_speeds_up_and_ends(
    base: int, tenths: int, step: int, total: int
) -> None:
    config = _exponential(base, tenths, notified=step)
    released = _run(config, total)
    assert sum(released.values()) == total
    # The first minute runs at the base rate, unless the first increase comes within it.
    first_minute = sum(count for second, count in released.items() if second < 60)
    if step > base:
        assert first_minute == min(total, base)
    else:
        assert first_minute >= min(total, base)
    # It never runs slower than the base rate.
    assert max(released) <= 60 * (total - 1) // base


def test_a_slow_rate_is_not_sped_up_by_its_stages() -> None:
    """Stages whose rate stays at 1 per minute (1.1^k < 2) release one thing a minute."""
    released = _run(_exponential(1, 11, notified=1), 8)
    assert sorted(released) == [0, 60, 120, 180, 240, 300, 360, 420]


def test_a_stage_change_mid_second_keeps_what_the_second_owed() -> None:
    """61 per minute owes 2 things by the end of second 0; the increase after the first does
    not take the second one away, and the faster rate runs from second 1."""
    config = _exponential(61, 11, notified=1)
    released = _run(config, 5)
    assert released[0] == 2
    assert sum(released.values()) == 5
    assert max(released) == 3
