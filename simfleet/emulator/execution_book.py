"""The executions of every job, in memory: by thing (what device requests read), by job (what
the control plane lists), and counted by status, so that DescribeJob, the completion check,
the abort check and the rollout's rate increases read counts in O(1).

Two counts per job: `status_counts` counts each thing's latest execution (DescribeJob's
jobProcessDetails, and the completion check); `outcomes` counts every execution, retries
included (the abort criteria and numberOfSucceededThings).

The book only holds records; the Jobs service writes them to the store first and decides what
to notify from the before and after lists each change returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from simfleet.jobs import ExecutionRecord, ExecutionStatus

_Counts = dict[ExecutionStatus, int]


@dataclass(frozen=True, slots=True)
class ThingChange:
    """One thing's executions before and after a change."""

    thing_name: str
    before: Sequence[ExecutionRecord]
    after: Sequence[ExecutionRecord]


class ExecutionBook:
    def __init__(self) -> None:
        self._by_thing: dict[str, list[ExecutionRecord]] = {}
        # Each job's things, in the order they got their first execution (an ordered set).
        self._job_things: dict[str, dict[str, None]] = {}
        self._latest_counts: dict[str, _Counts] = {}
        self._outcomes: dict[str, _Counts] = {}

    def add_job(self, job_id: str) -> None:
        self._job_things[job_id] = {}
        self._latest_counts[job_id] = {}
        self._outcomes[job_id] = {}

    def load(self, records: Iterable[ExecutionRecord]) -> None:
        """Add the stored executions at start (their jobs added first)."""
        for record in records:
            self._by_thing.setdefault(record.thing_name, []).append(record)
        for thing, held in self._by_thing.items():
            held.sort(key=lambda r: (r.job_id, r.execution_number))
            latest: dict[str, ExecutionRecord] = {}
            for record in held:
                latest[record.job_id] = record  # the highest number comes last
                self._job_things[record.job_id][thing] = None
                _count(self._outcomes[record.job_id], record.status, 1)
            for job_id, record in latest.items():
                _count(self._latest_counts[job_id], record.status, 1)

    # --- changes --------------------------------------------------------------------------

    def apply(self, records: Iterable[ExecutionRecord]) -> list[ThingChange]:
        """Add or replace `records` (new records, or new versions of held ones)."""
        grouped: dict[str, list[ExecutionRecord]] = {}
        for record in records:
            grouped.setdefault(record.thing_name, []).append(record)
        changes = []
        for thing, changed in grouped.items():
            before = self._by_thing.get(thing, [])
            after = list(before)
            for record in changed:
                index = _index(after, record)
                if index is None:
                    after.append(record)
                else:
                    _count(self._outcomes[record.job_id], after[index].status, -1)
                    after[index] = record
                _count(self._outcomes[record.job_id], record.status, 1)
            changes.append(self._replace(thing, before, after, {r.job_id for r in changed}))
        return changes

    def remove(self, record: ExecutionRecord) -> ThingChange:
        """Forget one execution (DeleteJobExecution)."""
        before = self._by_thing.get(record.thing_name, [])
        after = [r for r in before if r.key != record.key]
        _count(self._outcomes[record.job_id], record.status, -1)
        return self._replace(record.thing_name, before, after, {record.job_id})

    def drop_job(self, job_id: str) -> list[ThingChange]:
        """Forget a job and all its executions (DeleteJob)."""
        changes = []
        for thing in self._job_things.pop(job_id):
            before = self._by_thing[thing]
            after = [r for r in before if r.job_id != job_id]
            self._store(thing, after)
            changes.append(ThingChange(thing, before, after))
        del self._latest_counts[job_id], self._outcomes[job_id]
        return changes

    def _replace(
        self,
        thing: str,
        before: list[ExecutionRecord],
        after: list[ExecutionRecord],
        job_ids: set[str],
    ) -> ThingChange:
        for job_id in job_ids:
            counts = self._latest_counts[job_id]
            old, new = _latest(before, job_id), _latest(after, job_id)
            if old is not None:
                _count(counts, old.status, -1)
            if new is None:
                self._job_things[job_id].pop(thing, None)
            else:
                _count(counts, new.status, 1)
                self._job_things[job_id][thing] = None
        self._store(thing, after)
        return ThingChange(thing, before, after)

    def _store(self, thing: str, after: list[ExecutionRecord]) -> None:
        if after:
            self._by_thing[thing] = after
        else:
            self._by_thing.pop(thing, None)

    # --- reads ----------------------------------------------------------------------------

    def records(self, thing: str) -> Sequence[ExecutionRecord]:
        """The thing's executions of every job (read-only)."""
        return self._by_thing.get(thing, ())

    def of(self, thing: str, job_id: str) -> list[ExecutionRecord]:
        """The thing's executions of the job, by execution number."""
        held = [r for r in self._by_thing.get(thing, ()) if r.job_id == job_id]
        return sorted(held, key=lambda r: r.execution_number)

    def latest(self, thing: str, job_id: str) -> ExecutionRecord | None:
        return _latest(self._by_thing.get(thing, ()), job_id)

    def find(self, thing: str, job_id: str, execution_number: int) -> ExecutionRecord | None:
        key = (job_id, execution_number)
        return next((r for r in self._by_thing.get(thing, ()) if r.key == key), None)

    def things(self, job_id: str) -> Iterable[str]:
        """The job's things, in the order they got their first execution."""
        return self._job_things[job_id]

    def latest_of_job(self, job_id: str) -> Iterator[ExecutionRecord]:
        for thing in list(self._job_things[job_id]):
            record = self.latest(thing, job_id)
            if record is not None:
                yield record

    def has(self, thing: str, job_id: str) -> bool:
        return thing in self._job_things[job_id]

    def status_counts(self, job_id: str) -> Mapping[ExecutionStatus, int]:
        """The job's things by the status of their latest execution."""
        return self._latest_counts[job_id]

    def outcomes(self, job_id: str) -> Mapping[ExecutionStatus, int]:
        """Every execution of the job, retries included, by status."""
        return self._outcomes[job_id]


def _index(records: list[ExecutionRecord], record: ExecutionRecord) -> int | None:
    key = record.key
    for i, held in enumerate(records):
        if held.key == key:
            return i
    return None


def _latest(records: Iterable[ExecutionRecord], job_id: str) -> ExecutionRecord | None:
    found = None
    for record in records:
        if record.job_id == job_id and (
            found is None or record.execution_number > found.execution_number
        ):
            found = record
    return found


def _count(counts: _Counts, status: ExecutionStatus, delta: int) -> None:
    counts[status] = counts.get(status, 0) + delta
