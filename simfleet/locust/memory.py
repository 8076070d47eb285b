"""Memory over a run: RSS samples of each process and the slope of a least-squares line.

    locust      this process (the local runner, or the master)
    worker N    each worker, from the RSS it adds to its stats report (every 3 s)
    emulator    the embedded emulator: the child process running `simfleet.cli emulator`

A soak holds a constant load, so a process whose memory is flat over the hold has a slope near
0 KB/min; a leak shows as a steady positive slope, whatever the noise of single samples. The
slope is fitted over the hold only: the ramp fills memory on purpose, and the drain empties it.
KB are KiB (1,024 bytes).

No Locust import: times come from the `clock` given (run time, in seconds).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

LOCUST = "locust"
EMULATOR = "emulator"
RSS_KEY = "simfleet_rss"  # the member a worker adds to its report_to_master data
MIN_SAMPLES = 3  # a slope from fewer points says nothing


def rss_of(pid: int) -> int | None:
    """The resident set size of process `pid` in bytes, None once it has gone."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def least_squares_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The slope of the least-squares line through `points`, None if x does not vary."""
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


@dataclass(frozen=True, kw_only=True)
class ProcessMemory:
    """One process over the window: its RSS in KB at the first, last and highest sample, the
    slope in KB a minute (None with fewer than MIN_SAMPLES samples), and the samples themselves
    as (run-time seconds, KB), for a chart."""

    name: str
    pid: int
    samples: int
    first_kb: float
    last_kb: float
    peak_kb: float
    slope_kb_per_min: float | None
    points: tuple[tuple[float, float], ...] = ()

    def line(self) -> str:
        slope = (
            "too few samples for a slope"
            if self.slope_kb_per_min is None
            else f"slope {self.slope_kb_per_min:+,.1f} KB/min"
        )
        return (
            f"memory {self.name} (pid {self.pid}): {self.first_kb:,.0f} -> {self.last_kb:,.0f} KB "
            f"(peak {self.peak_kb:,.0f}), {slope} over {self.samples} samples"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "samples": self.samples,
            "first_kb": self.first_kb,
            "last_kb": self.last_kb,
            "peak_kb": self.peak_kb,
            "slope_kb_per_min": self.slope_kb_per_min,
            "points": [[round(at, 3), round(kb, 1)] for at, kb in self.points],
        }


@dataclass(frozen=True, kw_only=True)
class MemoryReport:
    """The memory of every process sampled, over `window` (run-time seconds)."""

    window: tuple[float, float]
    processes: tuple[ProcessMemory, ...]

    def lines(self) -> list[str]:
        start, end = self.window
        head = f"memory over the hold ({start:.0f}-{end:.0f} s of run time, least squares):"
        return [head, *(f"  {process.line()}" for process in self.processes)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": list(self.window),
            "processes": [process.to_dict() for process in self.processes],
        }


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float  # run time, seconds
    rss: int  # bytes


class MemoryMonitor:
    """RSS samples by process name; `report` fits each series over a window."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._series: dict[str, tuple[int, list[_Sample]]] = {}

    def record(self, name: str, pid: int, rss: int) -> None:
        """One sample of process `name`, taken now; a new pid under a name starts afresh
        (a worker that restarted is another process)."""
        known = self._series.get(name)
        if known is None or known[0] != pid:
            known = self._series[name] = (pid, [])
        known[1].append(_Sample(self._clock(), rss))

    def sample(self, processes: Mapping[str, int]) -> None:
        """Read the RSS of each `name -> pid` now; a process that has gone is skipped."""
        for name, pid in processes.items():
            rss = rss_of(pid)
            if rss is not None:
                self.record(name, pid, rss)

    def report(self, window: tuple[float, float]) -> MemoryReport:
        start, end = window
        processes = []
        for name, (pid, samples) in self._series.items():
            inside = [s for s in samples if start <= s.at <= end]
            if inside:
                processes.append(_fit(name, pid, inside))
        return MemoryReport(window=window, processes=tuple(processes))


def _fit(name: str, pid: int, samples: Iterable[_Sample]) -> ProcessMemory:
    points = tuple((sample.at, sample.rss / 1024.0) for sample in samples)
    per_minute = [(at / 60.0, kb) for at, kb in points]
    return ProcessMemory(
        name=name,
        pid=pid,
        samples=len(points),
        first_kb=points[0][1],
        last_kb=points[-1][1],
        peak_kb=max(kb for _, kb in points),
        slope_kb_per_min=least_squares_slope(per_minute) if len(points) >= MIN_SAMPLES else None,
        points=points,
    )


def own_rss() -> tuple[int, int]:
    """(pid, RSS in bytes) of this process."""
    pid = os.getpid()
    return pid, int(psutil.Process(pid).memory_info().rss)
