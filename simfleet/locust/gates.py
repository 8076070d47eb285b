"""SLO gates: the thresholds a CI run checks at its end, and their verdicts.

    gate                      bound    figure
    success-ratio             >= min   SUCCEEDED / terminal executions (the control plane's
                                       counts of the run's jobs; the `final` JOB rows when the
                                       run knows no job of its own)
    p95-queued-to-terminal    <= max   p95 of the `queued to terminal` JOB row, in seconds
    connect-failure-ratio     <= max   failed / attempted MQTT and HTTPS `connect` rows
    rejections CODE           <= max   Jobs requests rejected with CODE / Jobs requests
    rejections total          <= max   Jobs requests rejected with any code / Jobs requests
    non-terminal              <= max   executions of the run's jobs still QUEUED or
                                       IN_PROGRESS when the test ended (control plane)

A gate with no figure (no terminal execution, no connect row, no job known) fails: a CI run
that measured nothing must not pass. Pure: no Locust, no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from simfleet.device.reports import QUEUED_TO_TERMINAL
from simfleet.jobs import ExecutionStatus, JobsErrorCode
from simfleet.locust.errors import ConfigError
from simfleet.locust.job_figures import JobFigures
from simfleet.locust.summary import JobProgress

# Locust exits 1 on request failures (--exit-code-on-error) and 2 on an unhandled greenlet
# exception; a breached gate has its own status, so that CI can tell the three apart.
GATE_BREACH_EXIT_CODE = 3
TOTAL = "total"  # --gate-rejections key for every code together
REJECTION_CODES = tuple(code.value for code in JobsErrorCode)

SUCCESS_RATIO = "success-ratio"
P95_QUEUED_TO_TERMINAL = "p95-queued-to-terminal"
CONNECT_FAILURE_RATIO = "connect-failure-ratio"
REJECTIONS = "rejections"
NON_TERMINAL = "non-terminal"


class Bound(Enum):
    """Whether a gate's threshold is the least or the most its figure may be."""

    MIN = ">="
    MAX = "<="


@dataclass(frozen=True, kw_only=True)
class GateConfig:
    """The gates a run checks; None (or no rejection entry) leaves a gate off."""

    success_ratio: float | None = None
    p95_queued_to_terminal: float | None = None  # seconds
    connect_failure_ratio: float | None = None
    rejections: Mapping[str, float] = field(default_factory=dict)  # code or TOTAL -> ratio
    non_terminal: int | None = None

    def __post_init__(self) -> None:
        _check_ratio(self.success_ratio, "--gate-success-ratio")
        _check_ratio(self.connect_failure_ratio, "--gate-connect-failure-ratio")
        for code, ratio in self.rejections.items():
            if code != TOTAL and code not in REJECTION_CODES:
                raise ConfigError(
                    f"--gate-rejections: unknown code {code!r}; the codes are "
                    f"{', '.join(REJECTION_CODES)}, and {TOTAL} for all of them"
                )
            _check_ratio(ratio, f"--gate-rejections {code}")
        seconds = self.p95_queued_to_terminal
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise ConfigError(
                f"--gate-p95-queued-to-terminal {seconds:g}: a time in seconds, 0 or more"
            )
        if self.non_terminal is not None and self.non_terminal < 0:
            raise ConfigError(
                f"--gate-non-terminal {self.non_terminal}: a number of executions, 0 or more"
            )

    @property
    def enabled(self) -> bool:
        """True when at least one gate is set."""
        return bool(
            self.rejections
            or any(
                value is not None
                for value in (
                    self.success_ratio,
                    self.p95_queued_to_terminal,
                    self.connect_failure_ratio,
                    self.non_terminal,
                )
            )
        )


@dataclass(frozen=True, kw_only=True)
class GateResult:
    """One gate's verdict: `figure` None when the run gave no figure for it."""

    gate: str
    option: str
    bound: Bound
    threshold: float
    unit: str  # "" for ratios, "s", "executions"
    figure: float | None
    detail: str

    @property
    def passed(self) -> bool:
        if self.figure is None:
            return False
        if self.bound is Bound.MIN:
            return self.figure >= self.threshold
        return self.figure <= self.threshold

    def line(self) -> str:
        """`gate success-ratio: pass, 0.97 >= 0.95 (291 of 300 terminal executions ...)`"""
        if self.figure is None:
            verdict = f"FAIL, no figure ({self.bound.value} {self._show(self.threshold)} wanted)"
        else:
            op = self.bound.value if self.passed else {Bound.MIN: "<", Bound.MAX: ">"}[self.bound]
            verdict = (
                f"{'pass' if self.passed else 'FAIL'}, "
                f"{self._show(self.figure)} {op} {self._show(self.threshold)}"
            )
        return f"gate {self.gate}: {verdict} ({self.detail})"

    def _show(self, value: float) -> str:
        text = f"{value:.4g}"
        return f"{text} {self.unit}" if self.unit else text


def evaluate(
    config: GateConfig, figures: JobFigures, jobs: Sequence[JobProgress] | None
) -> tuple[GateResult, ...]:
    """Every gate set in `config`, in the order of the module docstring. `jobs`: the run's
    jobs as the control plane last described them, None when the run knows none."""
    results: list[GateResult] = []
    if config.success_ratio is not None:
        results.append(_success_ratio(config.success_ratio, figures, jobs))
    if config.p95_queued_to_terminal is not None:
        results.append(_p95(config.p95_queued_to_terminal, figures))
    if config.connect_failure_ratio is not None:
        results.append(_connect_failures(config.connect_failure_ratio, figures))
    for code, ratio in config.rejections.items():
        results.append(_rejections(code, ratio, figures))
    if config.non_terminal is not None:
        results.append(_non_terminal(config.non_terminal, jobs))
    return tuple(results)


def breached(results: Sequence[GateResult]) -> list[str]:
    """The names of the gates that failed."""
    return [result.gate for result in results if not result.passed]


def _success_ratio(
    threshold: float, figures: JobFigures, jobs: Sequence[JobProgress] | None
) -> GateResult:
    if jobs is not None:
        source = "control plane"
        terminal = sum(n for job in jobs for s, n in job.counts.items() if s.is_terminal)
        succeeded = sum(job.counts.get(ExecutionStatus.SUCCEEDED, 0) for job in jobs)
    else:
        source = "final JOB rows"
        terminal = figures.terminal
        succeeded = figures.finals.get(ExecutionStatus.SUCCEEDED.value, 0)
    return GateResult(
        gate=SUCCESS_RATIO,
        option="--gate-success-ratio",
        bound=Bound.MIN,
        threshold=threshold,
        unit="",
        figure=succeeded / terminal if terminal else None,
        detail=f"{succeeded} of {terminal} terminal executions SUCCEEDED, {source}",
    )


def _p95(threshold: float, figures: JobFigures) -> GateResult:
    phase = figures.phase(QUEUED_TO_TERMINAL)
    return GateResult(
        gate=P95_QUEUED_TO_TERMINAL,
        option="--gate-p95-queued-to-terminal",
        bound=Bound.MAX,
        threshold=threshold,
        unit="s",
        figure=None if phase is None else phase.p95_ms / 1000.0,
        detail=f"{0 if phase is None else phase.count} executions ended by devices",
    )


def _connect_failures(threshold: float, figures: JobFigures) -> GateResult:
    attempts, failed = figures.connects, figures.connect_failures
    return GateResult(
        gate=CONNECT_FAILURE_RATIO,
        option="--gate-connect-failure-ratio",
        bound=Bound.MAX,
        threshold=threshold,
        unit="",
        figure=failed / attempts if attempts else None,
        detail=f"{failed} of {attempts} connects failed",
    )


def _rejections(code: str, threshold: float, figures: JobFigures) -> GateResult:
    requests = figures.jobs_requests
    if code == TOTAL:
        rejected = sum(figures.rejections.values())
        what = "rejected"
    else:
        rejected = figures.rejections.get(code, 0)
        what = f"rejected with {code}"
    return GateResult(
        gate=f"{REJECTIONS} {code}",
        option="--gate-rejections",
        bound=Bound.MAX,
        threshold=threshold,
        unit="",
        figure=rejected / requests if requests else None,
        detail=f"{rejected} of {requests} Jobs requests {what}",
    )


def _non_terminal(threshold: int, jobs: Sequence[JobProgress] | None) -> GateResult:
    pending = None if jobs is None else sum(job.pending for job in jobs)
    if jobs is None:
        detail = "the run knows no job of its own to ask the control plane about"
    else:
        detail = f"QUEUED or IN_PROGRESS at the end, {len(jobs)} jobs"
    return GateResult(
        gate=NON_TERMINAL,
        option="--gate-non-terminal",
        bound=Bound.MAX,
        threshold=threshold,
        unit="executions",
        figure=pending,
        detail=detail,
    )


def _check_ratio(value: float | None, option: str) -> None:
    if value is not None and not 0.0 <= value <= 1.0:  # NaN fails both comparisons
        raise ConfigError(f"{option} {value:g}: a ratio is between 0 and 1")
