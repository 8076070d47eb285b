"""Event-loop lag: the statistics, and a real loop blocked on purpose."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.loop_lag import LoopLag, LoopLagMonitor

INTERVAL = 0.01
BLOCK = 0.2


@given(st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_last_max_total_and_mean(lags: list[float]) -> None:
    lag = LoopLag()
    for each in lags:
        lag.record(each)
    assert lag.last_seconds == lags[-1]
    assert lag.max_seconds == max(lags)
    assert lag.count == len(lags)
    assert lag.total_seconds == pytest.approx(sum(lags))
    assert lag.mean_seconds == pytest.approx(sum(lags) / len(lags))


def test_nothing_measured_yet_and_no_negative_lag() -> None:
    lag = LoopLag()
    assert (lag.last_seconds, lag.max_seconds, lag.mean_seconds, lag.count) == (0, 0, 0, 0)
    with pytest.raises(ValueError, match="negative"):
        lag.record(-0.001)
    assert lag.count == 0


@pytest.mark.parametrize("interval", [pytest.param(0, id="zero"), pytest.param(-1, id="neg")])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        LoopLagMonitor(interval=interval)


async def _wait_for_probes(monitor: LoopLagMonitor, count: int) -> None:
    async with asyncio.timeout(5):
        while monitor.lag.count < count:
            await asyncio.sleep(INTERVAL / 2)


def test_a_blocked_loop_shows_the_block() -> None:
    async def scenario() -> tuple[float, float, float]:
        monitor = LoopLagMonitor(interval=INTERVAL)
        monitor.start()
        with pytest.raises(RuntimeError, match="already started"):
            monitor.start()
        await _wait_for_probes(monitor, 3)
        idle_max = monitor.lag.max_seconds
        probes = monitor.lag.count
        started = time.monotonic()
        time.sleep(BLOCK)  # blocks the loop, as a slow handler would
        blocked = time.monotonic() - started
        await _wait_for_probes(monitor, probes + 1)
        await monitor.close()
        await monitor.close()  # idempotent
        return idle_max, blocked, monitor.lag.max_seconds

    idle_max, blocked, max_lag = asyncio.run(scenario())
    assert idle_max < BLOCK / 2
    # The probe sleeping when the block began woke at least `blocked - INTERVAL` late.
    assert max_lag >= blocked - INTERVAL
    assert max_lag < blocked + 1.0


def test_close_stops_probing_and_keeps_the_figures() -> None:
    async def scenario() -> tuple[int, int]:
        monitor = LoopLagMonitor(interval=INTERVAL)
        monitor.start()
        await _wait_for_probes(monitor, 2)
        await monitor.close()
        stopped_at = monitor.lag.count
        await asyncio.sleep(INTERVAL * 5)
        return stopped_at, monitor.lag.count

    stopped_at, later = asyncio.run(scenario())
    assert stopped_at >= 2
    assert later == stopped_at
