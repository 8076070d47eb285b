"""The run's jobs as the control plane describes them over time: executions by status.

The master (or the one local process) asks DescribeJob for each of the run's jobs every few
seconds and records here what it was told; each sample sums the executions of every job by
status, for the report's "executions by status over time". A job the service says is over
(COMPLETED, CANCELED, ...) keeps its last counts and is not asked again, so that sampling
costs one call per running job, well under the 10/s quota of the Jobs control plane (spec §6).
Pure: the time of each sample is passed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from simfleet.jobs import ExecutionStatus
from simfleet.locust.summary import JobProgress


@dataclass(frozen=True, kw_only=True)
class StatusSample:
    """The run's executions by status at `at` (epoch seconds), summed over its jobs."""

    at: float
    counts: Mapping[ExecutionStatus, int] = field(default_factory=dict)


class JobSeries:
    """What the control plane said about the run's jobs, last and over time."""

    def __init__(self) -> None:
        self._latest: dict[str, JobProgress] = {}
        self._samples: list[StatusSample] = []

    def to_ask(self, known: Iterable[str]) -> list[str]:
        """The jobs of `known` to describe now: all but those last seen over; no duplicates."""
        wanted: dict[str, None] = {}
        for job_id in known:
            progress = self._latest.get(job_id)
            if progress is None or not progress.finished:
                wanted[job_id] = None
        return list(wanted)

    def record(self, at: float, described: Iterable[JobProgress]) -> None:
        """Keep what DescribeJob answered at `at`; add a sample once any job is known."""
        for progress in described:
            self._latest[progress.job_id] = progress
        if self._latest:
            total: Counter[ExecutionStatus] = Counter()
            for progress in self._latest.values():
                total.update(progress.counts)
            self._samples.append(StatusSample(at=at, counts=dict(total)))

    @property
    def latest(self) -> tuple[JobProgress, ...]:
        """Each known job as last described, in the order they were first described."""
        return tuple(self._latest.values())

    @property
    def samples(self) -> tuple[StatusSample, ...]:
        return tuple(self._samples)
