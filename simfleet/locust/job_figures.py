"""The job-level figures of a run, read from Locust's aggregated request stats.

What the gates and the report need, taken once from `environment.stats` (on a master, the
workers' stats merged by Locust itself, per-second counts included):

    finals         the `final <STATUS>` JOB rows: executions a device ended or saw end
    phases         the JOB latency rows (queued to notified / in progress / terminal, in
                   progress to terminal): count, percentiles, Locust's response-time buckets
    connects       the MQTT/HTTPS `connect` rows: attempts and failures
    jobs requests  every MQTT/HTTPS Jobs request row; `rejections` counts the failures whose
                   error is `JobsRejected`, by AWS error code
    rollout        per epoch second, how many devices were notified, started, ended a job

No Locust import: the stats are read through the small protocol below, which Locust's
`RequestStats` satisfies, so this module runs (and is tested) outside a patched process.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from simfleet.device.errors import JobsRejected
from simfleet.device.reports import (
    CONNECT,
    DISCONNECT,
    HTTPS,
    IN_PROGRESS_TO_TERMINAL,
    JOB,
    MQTT,
    QUEUED_TO_IN_PROGRESS,
    QUEUED_TO_NOTIFIED,
    QUEUED_TO_TERMINAL,
    SUBSCRIBE,
)

PHASES = (QUEUED_TO_NOTIFIED, QUEUED_TO_IN_PROGRESS, IN_PROGRESS_TO_TERMINAL, QUEUED_TO_TERMINAL)
FINAL_PREFIX = "final "
DEVICE_PROTOCOLS = frozenset({MQTT, HTTPS})
_NOT_JOBS_REQUESTS = frozenset({CONNECT, SUBSCRIBE, DISCONNECT})
# In a distributed run the master holds the workers' errors as the strings Locust made of
# them: repr() of the exception, and JobsRejected's only argument is the code.
_REJECTED_REPR = re.compile(r"JobsRejected\('([A-Za-z]+)'\)")
ROLLOUT_SERIES = ("notified", "in_progress", "done")


class StatsEntryView(Protocol):
    """What is read of one Locust `StatsEntry` (one row)."""

    @property
    def num_requests(self) -> int: ...
    @property
    def num_failures(self) -> int: ...
    @property
    def max_response_time(self) -> float: ...
    @property
    def response_times(self) -> Mapping[int, int]: ...
    @property
    def num_reqs_per_sec(self) -> Mapping[int, int]: ...
    def get_response_time_percentile(self, percent: float) -> int: ...


class StatsErrorView(Protocol):
    """What is read of one Locust `StatsError` (one failure row)."""

    @property
    def method(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def error(self) -> object: ...
    @property
    def occurrences(self) -> int: ...


class RequestStatsView(Protocol):
    """What is read of Locust's `RequestStats`: rows keyed by (name, method), and failures."""

    @property
    def entries(self) -> Mapping[tuple[str, str], StatsEntryView]: ...
    @property
    def errors(self) -> Mapping[str, StatsErrorView]: ...


@dataclass(frozen=True, kw_only=True)
class PhaseFigures:
    """One JOB latency row: times in ms, `histogram` is Locust's {bucket ms: count}."""

    name: str
    count: int
    p50_ms: int
    p95_ms: int
    p99_ms: int
    max_ms: float
    histogram: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class JobFigures:
    """The job-level figures of a run (see the module docstring)."""

    finals: Mapping[str, int] = field(default_factory=dict)
    phases: tuple[PhaseFigures, ...] = ()
    connects: int = 0
    connect_failures: int = 0
    jobs_requests: int = 0
    rejections: Mapping[str, int] = field(default_factory=dict)
    rollout: Mapping[str, Mapping[int, int]] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseFigures | None:
        return next((phase for phase in self.phases if phase.name == name), None)

    @property
    def terminal(self) -> int:
        """Executions in the `final` rows, whatever their status."""
        return sum(self.finals.values())


def job_figures(stats: RequestStatsView) -> JobFigures:
    """Read the figures of `stats` (Locust's `environment.stats`)."""
    finals: dict[str, int] = {}
    phases: list[PhaseFigures] = []
    connects = connect_failures = jobs_requests = 0
    for (name, method), entry in stats.entries.items():
        if method == JOB and name.startswith(FINAL_PREFIX) and entry.num_requests:
            finals[name.removeprefix(FINAL_PREFIX)] = entry.num_requests
        elif method not in DEVICE_PROTOCOLS:
            continue
        elif name == CONNECT:
            connects += entry.num_requests
            connect_failures += entry.num_failures
        elif name not in _NOT_JOBS_REQUESTS:
            jobs_requests += entry.num_requests
    for name in PHASES:
        phase = stats.entries.get((name, JOB))
        if phase is not None and phase.num_requests:
            phases.append(_phase(name, phase))
    return JobFigures(
        finals=dict(sorted(finals.items())),
        phases=tuple(phases),
        connects=connects,
        connect_failures=connect_failures,
        jobs_requests=jobs_requests,
        rejections=_rejections(stats.errors.values()),
        rollout=_rollout(stats.entries),
    )


def rejection_code(error: object) -> str | None:
    """The AWS error code of a Jobs rejection as Locust keeps it: the `JobsRejected` itself
    (one process) or its repr (on a master, from a worker); None for any other failure."""
    if isinstance(error, JobsRejected):
        return error.code.value
    if isinstance(error, str) and (match := _REJECTED_REPR.fullmatch(error)):
        return match.group(1)
    return None


def _phase(name: str, entry: StatsEntryView) -> PhaseFigures:
    return PhaseFigures(
        name=name,
        count=entry.num_requests,
        p50_ms=entry.get_response_time_percentile(0.50),
        p95_ms=entry.get_response_time_percentile(0.95),
        p99_ms=entry.get_response_time_percentile(0.99),
        max_ms=float(entry.max_response_time),
        histogram={int(ms): n for ms, n in sorted(entry.response_times.items()) if n},
    )


def _rejections(errors: Iterable[StatsErrorView]) -> dict[str, int]:
    codes: Counter[str] = Counter()
    for error in errors:
        if error.method in DEVICE_PROTOCOLS and (code := rejection_code(error.error)):
            codes[code] += error.occurrences
    return dict(sorted(codes.items()))


def _rollout(entries: Mapping[tuple[str, str], StatsEntryView]) -> dict[str, dict[int, int]]:
    """Per epoch second: devices notified, started, and ended (any `final` row). The JOB rows
    are fired when the event happens, so Locust's per-second request counts date them."""
    series: dict[str, Counter[int]] = {name: Counter() for name in ROLLOUT_SERIES}
    for (name, method), entry in entries.items():
        if method != JOB:
            continue
        if name == QUEUED_TO_NOTIFIED:
            series["notified"].update(entry.num_reqs_per_sec)
        elif name == QUEUED_TO_IN_PROGRESS:
            series["in_progress"].update(entry.num_reqs_per_sec)
        elif name.startswith(FINAL_PREFIX):
            series["done"].update(entry.num_reqs_per_sec)
    return {name: dict(sorted(counts.items())) for name, counts in series.items()}
