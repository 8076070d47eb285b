"""Event-loop lag: how late the emulator's one event loop runs a timer (issue #4, item 5).

    monitor = LoopLagMonitor()          # a probe every 0.1 s
    monitor.start()                     # inside the running loop
    monitor.lag.last_seconds, monitor.lag.max_seconds
    await monitor.close()

A probe sleeps `interval` seconds and measures how much later than asked it woke up. The loop
runs a ready callback only once whatever it is busy with ends, so that overshoot is the delay
every packet and request waiting in the loop saw at that moment: the figure that says the
emulator, not the system under test, has become the bottleneck. Ten probes a second cost
nothing measurable next to the work they measure.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

DEFAULT_INTERVAL_SECONDS = 0.1


@dataclass(kw_only=True)
class LoopLag:
    """Lag measurements in seconds: the last, the largest, and their sum and count (the mean
    over a window is Δtotal / Δcount)."""

    last_seconds: float = 0.0
    max_seconds: float = 0.0
    total_seconds: float = 0.0
    count: int = 0

    def record(self, lag: float) -> None:
        if lag < 0:
            raise ValueError(f"a lag is never negative: {lag}")
        self.last_seconds = lag
        self.max_seconds = max(self.max_seconds, lag)
        self.total_seconds += lag
        self.count += 1

    @property
    def mean_seconds(self) -> float:
        return self.total_seconds / self.count if self.count else 0.0


class LoopLagMonitor:
    """Probes the running loop's lag every `interval` seconds into `lag`."""

    def __init__(self, *, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        if not interval > 0:
            raise ValueError(f"the probe interval must be positive: {interval}")
        self._interval = interval
        self._lag = LoopLag()
        self._task: asyncio.Task[None] | None = None

    @property
    def lag(self) -> LoopLag:
        return self._lag

    def start(self) -> None:
        """Start probing on the running loop."""
        if self._task is not None:
            raise RuntimeError("the lag monitor is already started")
        self._task = asyncio.get_running_loop().create_task(self._probe(), name="loop-lag")

    async def close(self) -> None:
        """Stop probing; the measurements stay readable. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self._interval)
            # A timer may fire up to the loop's clock resolution early: no negative lag.
            self._lag.record(max(0.0, loop.time() - start - self._interval))
