"""What a soak run records in the process that runs its shape (the local runner or the master),
and `soak_report()`, the figures a report includes: the phases, the storm, the memory slopes.

No Locust import: the state is keyed by the environment object, so a report module can call
`soak_report(environment)` in any run (None when the run was not a soak).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from simfleet.locust.memory import MemoryMonitor, MemoryReport
from simfleet.locust.soak_plan import SoakPlan, SoakTimeline
from simfleet.locust.storm import StormResult


@dataclass(frozen=True, kw_only=True)
class SoakReport:
    """The soak's own figures, for the end of the run and the JSON report."""

    timeline: SoakTimeline
    storm_time: float | None  # run time the storm struck, None if it did not
    storms: tuple[StormResult, ...]  # one per process with devices
    memory: MemoryReport

    @property
    def dropped(self) -> int:
        return sum(result.dropped for result in self.storms)

    @property
    def connected(self) -> int:
        return sum(result.connected for result in self.storms)

    def lines(self) -> list[str]:
        timeline = self.timeline
        lines = [
            f"soak: ramp {timeline.ramp:.0f} s, hold {timeline.hold:.0f} s "
            f"({timeline.hold_start:.0f}-{timeline.hold_end:.0f} s of run time)"
        ]
        if self.storm_time is not None:
            lines.append(
                f"disconnect storm at {self.storm_time:.0f} s: dropped {self.dropped} of "
                f"{self.connected} connected devices"
            )
        return [*lines, *self.memory.lines()]

    def to_dict(self) -> dict[str, Any]:
        timeline = self.timeline
        return {
            "ramp_s": timeline.ramp,
            "hold_s": [timeline.hold_start, timeline.hold_end],
            "drain_s": timeline.drain,
            "storm": None
            if self.storm_time is None
            else {
                "at_s": self.storm_time,
                "dropped": self.dropped,
                "connected": self.connected,
                "processes": [result.to_dict() for result in self.storms],
            },
            "memory": self.memory.to_dict(),
        }


@dataclass(kw_only=True)
class SoakState:
    """The soak of one environment: its plan, and once a test runs, its timeline, storm and
    memory samples (reset for each test)."""

    plan: SoakPlan
    timeline: SoakTimeline | None = None
    monitor: MemoryMonitor | None = None
    storm_time: float | None = None
    storms: list[StormResult] = field(default_factory=list)
    ended_at: float | None = None  # run time the test stopped

    def begin(self, timeline: SoakTimeline) -> None:
        """A new test: its timeline, no storm yet."""
        self.timeline = timeline
        self.storm_time = None
        self.storms.clear()
        self.ended_at = None

    def report(self) -> SoakReport | None:
        if self.timeline is None or self.monitor is None:
            return None
        end = self.timeline.hold_end
        if self.ended_at is not None:
            end = min(end, self.ended_at)
        return SoakReport(
            timeline=self.timeline,
            storm_time=self.storm_time,
            storms=tuple(self.storms),
            memory=self.monitor.report((self.timeline.hold_start, end)),
        )


_STATES: weakref.WeakKeyDictionary[Any, SoakState] = weakref.WeakKeyDictionary()


def set_soak_state(environment: Any, state: SoakState) -> None:
    _STATES[environment] = state


def soak_state(environment: Any) -> SoakState | None:
    return _STATES.get(environment)


def soak_report(environment: Any) -> SoakReport | None:
    """The soak's figures for a report (call it once the test has stopped); None when the
    run is not a soak or its test never started."""
    state = _STATES.get(environment)
    return None if state is None else state.report()
