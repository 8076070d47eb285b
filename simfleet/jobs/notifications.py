"""When the service sends `notify` and `notify-next`, and what they carry (spec §1.3).

- `notify` (JobExecutionsChanged) fires when an execution joins or leaves the pending set: it is
  queued, becomes terminal, or is deleted. QUEUED→IN_PROGRESS keeps it pending, so no `notify`.
- `notify-next` (NextJobExecutionChanged) fires only when a *different* execution becomes `$next`;
  changes to the head's own fields (start-next on the head included) do not fire it. With
  nothing pending it carries no `execution`.

Both compare the thing's executions before and after one change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from simfleet.jobs.execution import (
    MAX_PENDING_LISTED,
    ExecutionRecord,
    pending_by_status,
    select_next,
)
from simfleet.jobs.responses import Notify, NotifyNext
from simfleet.jobs.state import ExecutionStatus


@dataclass(frozen=True, kw_only=True)
class Notifications:
    """What to publish after a change; None where nothing is sent."""

    notify: Notify | None = None
    notify_next: NotifyNext | None = None


def pending_notifications(
    before: Iterable[ExecutionRecord],
    after: Iterable[ExecutionRecord],
    now: int,
    *,
    limit: int = MAX_PENDING_LISTED,
) -> Notifications:
    """The notifications one change from `before` to `after` (a thing's executions) fires."""
    before, after = list(before), list(after)
    return Notifications(
        notify=_notify(after, now, limit) if _pending(before) != _pending(after) else None,
        notify_next=_notify_next(before, after, now),
    )


def _pending(executions: list[ExecutionRecord]) -> set[tuple[str, int]]:
    return {r.key for r in executions if r.status.is_pending}


def _notify(after: list[ExecutionRecord], now: int, limit: int) -> Notify:
    in_progress, queued = pending_by_status(after)
    lists = {ExecutionStatus.IN_PROGRESS: in_progress, ExecutionStatus.QUEUED: queued}
    return Notify(
        timestamp=now,
        # A status with no executions is left out; an empty pending set is `"jobs":{}`.
        jobs={
            status: tuple(r.summary() for r in records[:limit])
            for status, records in lists.items()
            if records
        },
    )


def _notify_next(
    before: list[ExecutionRecord], after: list[ExecutionRecord], now: int
) -> NotifyNext | None:
    old, new = select_next(before), select_next(after)
    old_key = None if old is None else old.key
    if old_key == (None if new is None else new.key):
        return None
    return NotifyNext(timestamp=now, execution=None if new is None else new.execution(now=now))
