"""The job report: the gates and job figures of a run, as JSON and as a self-contained HTML page.

`JobReport` holds everything the report shows; `report_json()` is its machine-readable form
(schema `simfleet.job-report/1`, docs/report.md) and the HTML page (`report_html`) is drawn from
the same report and embeds that JSON, so the two never disagree. Times inside are seconds since
the start of Locust's stats (`started`); the absolute times are ISO 8601 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simfleet.jobs import ExecutionStatus
from simfleet.locust.errors import ConfigError
from simfleet.locust.gates import TOTAL, GateResult, breached
from simfleet.locust.job_figures import ROLLOUT_SERIES, JobFigures
from simfleet.locust.job_series import StatusSample
from simfleet.locust.metrics_scrape import EmulatorSnapshot
from simfleet.locust.summary import JobProgress

SCHEMA = "simfleet.job-report/1"
DEFAULT_INTERVAL = 5.0  # seconds between two samples of the jobs and the emulator
STATUSES = tuple(status.value for status in ExecutionStatus)


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """Where the report goes: `html` and `json` as given (None: see `paths`)."""

    html: Path | None = None
    json: Path | None = None
    interval: float = DEFAULT_INTERVAL

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval) and self.interval > 0):
            raise ConfigError(
                f"--job-report-interval {self.interval:g}: a time in seconds, more than 0"
            )

    def paths(self, locust_html: str | None) -> tuple[Path | None, Path | None]:
        """(HTML, JSON) to write. Without --job-report, the HTML goes next to Locust's --html
        report as NAME-jobs.html; without --job-report-json, the JSON goes next to the HTML
        with the suffix .json."""
        html = self.html
        if html is None and locust_html:
            locust = Path(locust_html)
            html = locust.with_name(f"{locust.stem}-jobs.html")
        json_path = self.json
        if json_path is None and html is not None:
            json_path = html.with_suffix(".json")
        return html, json_path


@dataclass(frozen=True, kw_only=True)
class JobReport:
    """Everything one run's report shows. `jobs` None: the run knew no job of its own."""

    started: float  # epoch seconds: the start of Locust's stats
    ended: float
    interval: float
    figures: JobFigures
    gates: tuple[GateResult, ...] = ()
    jobs: tuple[JobProgress, ...] | None = None
    samples: tuple[StatusSample, ...] = ()
    emulator: EmulatorSnapshot | None = None
    soak: Mapping[str, Any] | None = None  # SoakReport.to_dict(): timeline, storm, memory

    def since_start(self, at: float) -> float:
        return round(at - self.started, 3)

    def rollout_per_minute(self) -> list[dict[str, int]]:
        """Devices notified / in progress / done in each minute since the start, from minute 0
        to the last minute with any, quiet minutes included (as zeros)."""
        base = int(self.started)  # Locust dates requests by whole epoch seconds
        minutes: dict[int, dict[str, int]] = {}
        for name in ROLLOUT_SERIES:
            for second, count in self.figures.rollout.get(name, {}).items():
                minute = max(0, (second - base) // 60)
                row = minutes.setdefault(minute, dict.fromkeys(ROLLOUT_SERIES, 0))
                row[name] += count
        if not minutes:
            return []
        quiet = dict.fromkeys(ROLLOUT_SERIES, 0)
        return [{"minute": m, **minutes.get(m, quiet)} for m in range(max(minutes) + 1)]

    def rollout_cumulative(self, name: str) -> list[tuple[float, int]]:
        """(seconds since start, devices so far) at each second something happened."""
        base = int(self.started)
        total = 0
        points = []
        for second, count in sorted(self.figures.rollout.get(name, {}).items()):
            total += count
            points.append((float(second - base), total))
        return points


def report_json(report: JobReport) -> dict[str, Any]:
    """The machine-readable report (schema in docs/report.md)."""
    figures = report.figures
    requests = figures.jobs_requests
    rejections = dict(figures.rejections)
    return {
        "schema": SCHEMA,
        "started_at": _iso(report.started),
        "ended_at": _iso(report.ended),
        "duration_s": round(report.ended - report.started, 3),
        "gates": _gates(report.gates),
        "executions": {
            "control_plane": None if report.jobs is None else _control_plane(report.jobs),
            "job_rows": {"final": dict(figures.finals), "terminal": figures.terminal},
        },
        "status_over_time": {
            "interval_s": report.interval,
            "samples": [
                {
                    "t": report.since_start(sample.at),
                    "counts": {s.value: n for s, n in sample.counts.items() if n},
                }
                for sample in report.samples
            ],
        },
        "rollout": {
            "per_minute": report.rollout_per_minute(),
            "cumulative": {
                name: [[t, n] for t, n in report.rollout_cumulative(name)]
                for name in ROLLOUT_SERIES
            },
        },
        "phases": [
            {
                "name": p.name,
                "count": p.count,
                "p50_ms": p.p50_ms,
                "p95_ms": p.p95_ms,
                "p99_ms": p.p99_ms,
                "max_ms": round(p.max_ms, 1),
                "histogram": [[ms, n] for ms, n in p.histogram.items()],
            }
            for p in figures.phases
        ],
        "connects": {
            "attempts": figures.connects,
            "failures": figures.connect_failures,
            "failure_ratio": _ratio(figures.connect_failures, figures.connects),
        },
        "jobs_requests": {
            "requests": requests,
            "rejections": rejections,
            "rejection_ratios": {
                **{code: _ratio(n, requests) for code, n in rejections.items()},
                TOTAL: _ratio(sum(rejections.values()), requests),
            },
        },
        "emulator": None if report.emulator is None else _emulator(report, report.emulator),
        "soak": None if report.soak is None else dict(report.soak),
    }


def _gates(results: tuple[GateResult, ...]) -> dict[str, Any]:
    failed = breached(results)
    return {
        "passed": (not failed) if results else None,
        "breached": failed,
        "results": [
            {
                "gate": r.gate,
                "option": r.option,
                "bound": r.bound.value,
                "threshold": r.threshold,
                "unit": r.unit,
                "figure": r.figure,
                "passed": r.passed,
                "detail": r.detail,
                "line": r.line(),
            }
            for r in results
        ],
    }


def _control_plane(jobs: tuple[JobProgress, ...]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for job in jobs:
        for status, count in job.counts.items():
            by_status[status.value] = by_status.get(status.value, 0) + count
    return {
        "jobs": [
            {
                "job_id": job.job_id,
                "status": job.status,
                "total": job.total,
                "pending": job.pending,
                "counts": {s.value: n for s, n in job.counts.items()},
            }
            for job in jobs
        ],
        "by_status": {s: by_status[s] for s in STATUSES if s in by_status},
        "total": sum(job.total for job in jobs),
        "pending": sum(job.pending for job in jobs),
    }


def _emulator(report: JobReport, snapshot: EmulatorSnapshot) -> dict[str, Any]:
    return {
        "metrics_url": snapshot.url,
        "scraped_at": None if snapshot.last_at is None else _iso(snapshot.last_at),
        "error": snapshot.error,
        "counters": dict(snapshot.last),
        "gauges": [
            {"t": report.since_start(sample.at), **sample.values} for sample in snapshot.gauges
        ],
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
