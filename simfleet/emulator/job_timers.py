"""The Jobs service's timers: when each rollout next releases things and when each IN_PROGRESS
execution times out (spec §3), in one queue ordered by due time.

A heap with lazy deletion: setting a key again or discarding it leaves the old entry in the
heap, skipped when it surfaces. So the cost of a tick is proportional to the timers due (and
to the stale entries passed over), never to the number of executions; the heap is rebuilt when
stale entries outnumber live ones, so a soak run's memory does not grow with its updates.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from simfleet.jobs import ExecutionRecord

K = TypeVar("K", bound=Hashable)

_COMPACT_SLACK = 1024  # stale entries tolerated on top of the live ones before a rebuild


@dataclass(frozen=True, slots=True)
class RolloutDue:
    """The job's rollout has things to release."""

    job_id: str


@dataclass(frozen=True, slots=True)
class TimeoutDue:
    """An execution's step or in-progress timer runs out."""

    thing_name: str
    job_id: str
    execution_number: int

    @classmethod
    def of(cls, record: ExecutionRecord) -> TimeoutDue:
        return cls(record.thing_name, record.job_id, record.execution_number)


Timer = RolloutDue | TimeoutDue


class DeadlineQueue(Generic[K]):
    """Keys with a due time (whole epoch seconds); one time per key."""

    def __init__(self) -> None:
        self._due: dict[K, int] = {}
        # (due, sequence, key): the sequence breaks ties, so keys are never compared.
        self._heap: list[tuple[int, int, K]] = []
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def due(self, key: K) -> int | None:
        return self._due.get(key)

    def set(self, key: K, when: int) -> None:
        """Make `key` due at `when`, replacing any earlier setting."""
        if self._due.get(key) == when:
            return
        self._due[key] = when
        heapq.heappush(self._heap, (when, next(self._sequence), key))
        if len(self._heap) > 2 * len(self._due) + _COMPACT_SLACK:
            self._heap = [(when, next(self._sequence), k) for k, when in self._due.items()]
            heapq.heapify(self._heap)

    def discard(self, key: K) -> None:
        self._due.pop(key, None)

    def next_due(self) -> int | None:
        """The earliest due time, or None when nothing is set."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> K | None:
        """Remove and return a key due at or before `now` (the earliest), or None."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, key = heapq.heappop(self._heap)
        del self._due[key]
        return key

    def _drop_stale(self) -> None:
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
