"""What outcomes and time do to jobs (spec §3): the state the Jobs service works on and the
funnel every change of executions goes through, the rollouts, the timers, the retries and the
aborts. `JobsService` (jobs_service.py) adds the operations that devices and the control plane
call; this half holds everything they share.

Every change of executions goes through `_commit`: memory (`ExecutionBook`), notify /
notify-next, timers, then what the outcomes cause (an abort, a retry, a faster rollout) and the
job's status (COMPLETED once a snapshot job has nothing left to run). Records reach `_commit`
already written to the store, so nothing is answered or published that a restart would lose.

Time: everything reads `clock.now()`, in whole seconds. `tick()` performs what is due, at a
cost proportional to what is due (a heap of deadlines, job_timers.py): call it every second,
or at `next_deadline()` (and again after any request, which may set an earlier deadline).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simfleet.emulator.abort import EXECUTED, firing_criterion
from simfleet.emulator.clock import Clock
from simfleet.emulator.execution_book import ExecutionBook, ThingChange
from simfleet.emulator.job_config import JobConfig
from simfleet.emulator.job_timers import DeadlineQueue, RolloutDue, TimeoutDue, Timer
from simfleet.emulator.records import Job, JobStatus, TargetSelection
from simfleet.emulator.registry import Registry
from simfleet.emulator.retry import should_retry
from simfleet.emulator.rollout import RolloutPlan
from simfleet.emulator.store import Store
from simfleet.jobs import ExecutionRecord, ExecutionStatus, encode_message, pending_notifications
from simfleet.jobs.execution import cancel, queue, time_out
from simfleet.jobs.state import Mover, is_allowed
from simfleet.jobs.topics import PREFIX

Publish = Callable[[str, bytes], None]

_RETRIED = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT})


class JobsEngine:
    def __init__(self, store: Store, registry: Registry, clock: Clock, publish: Publish) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._publish = publish
        self._jobs = {job.job_id: job for job in store.jobs()}
        self._documents: dict[str, Mapping[str, Any]] = {
            job_id: json.loads(job.document) for job_id, job in self._jobs.items()
        }
        self._configs = {j: JobConfig.from_members(job.config) for j, job in self._jobs.items()}
        self._book = ExecutionBook()
        for job_id in self._jobs:
            self._book.add_job(job_id)
        self._timers: DeadlineQueue[Timer] = DeadlineQueue()
        self._rollouts: dict[str, RolloutPlan] = {}
        records = store.executions(self._documents)
        self._book.load(records)
        for record in records:
            self._schedule_timeout(record)
        now = int(clock.now())
        for job_id, state in store.rollouts().items():
            config = self._configs[job_id].rollout
            if config is not None:  # a rollout row is written only for a rollout config
                things = store.rollout_things(job_id, state.released)
                plan = self._rollouts[job_id] = RolloutPlan(config, things, state)
                plan.resume(now=now, succeeded=self._succeeded(job_id))
                self._schedule_rollout(job_id, now)

    # --- time -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Perform the rollouts, timeouts, retries and aborts due at `clock.now()`."""
        self._run_due(int(self._clock.now()))

    def next_deadline(self) -> float | None:
        """When something is next due (epoch seconds), or None when nothing is scheduled."""
        due = self._timers.next_due()
        return None if due is None else float(due)

    # --- the funnel -----------------------------------------------------------------------

    def _commit(self, changed: Sequence[ExecutionRecord], now: int) -> None:
        """Bring memory up to `changed` (new or updated records, already in the store),
        publish the notifications, then act on the outcomes and settle the jobs' status."""
        for change in self._book.apply(changed):
            self._notify(change, now)
        for record in changed:
            self._schedule_timeout(record)
        for job_id in dict.fromkeys(r.job_id for r in changed):
            ended = [r for r in changed if r.job_id == job_id and r.status in EXECUTED]
            if ended:
                self._after_outcomes(job_id, ended, now)
            self._settle(job_id, now)

    def _after_outcomes(self, job_id: str, ended: list[ExecutionRecord], now: int) -> None:
        """Executions of the job ended: abort the job, or retry them, or speed up its rollout."""
        if self._check_abort(job_id, now):
            return
        config = self._configs[job_id]
        plan = self._rollouts.get(job_id)
        # numberOfSucceededThings may have earned a faster rate, from the next second.
        if plan is not None and plan.restage(now=now, succeeded=self._succeeded(job_id)):
            self._store.put_rollout(job_id, plan.state)
            self._schedule_rollout(job_id, now)
        if not config.retry or self._jobs[job_id].status is not JobStatus.IN_PROGRESS:
            return
        retries = [
            self._new_execution(job_id, r.thing_name, now, r.execution_number + 1)
            for r in ended
            if r.status in _RETRIED
            and self._book.latest(r.thing_name, job_id) == r
            and should_retry(config.retry, self._book.of(r.thing_name, job_id))
        ]
        if retries:
            with self._store.transaction():
                self._store.put_executions(retries)
            self._commit(retries, now)

    def _check_abort(self, job_id: str, now: int) -> bool:
        """Cancel the job if its abortConfig says so (abort.py); return whether it did.

        As AWS does ("only QUEUED job executions are canceled ... IN_PROGRESS will not be
        canceled"), an abort is a CancelJob without force. [U] The job keeps no reasonCode or
        comment: AWS documents none for an abort.
        """
        criteria = self._configs[job_id].abort
        if (
            not criteria
            or self._jobs[job_id].status is not JobStatus.IN_PROGRESS
            or firing_criterion(criteria, self._book.outcomes(job_id)) is None
        ):
            return False
        self._cancel(job_id, now, force=False, reason_code=None, comment=None)
        return True

    def _cancel(
        self,
        job_id: str,
        now: int,
        *,
        force: bool,
        reason_code: str | None,
        comment: str | None,
    ) -> None:
        job = self._jobs[job_id]
        mover = Mover.FORCE_CANCEL if force else Mover.CANCEL
        canceled = [
            cancel(record, force=force, now=now)
            for record in self._book.latest_of_job(job_id)
            if is_allowed(mover, record.status, ExecutionStatus.CANCELED)
        ]
        job = dataclasses.replace(
            job,
            status=JobStatus.CANCELED,
            last_updated_at=now,
            force_canceled=job.force_canceled or force,
            reason_code=job.reason_code if reason_code is None else reason_code,
            comment=job.comment if comment is None else comment,
        )
        with self._store.transaction():
            self._store.put_job(job)
            self._store.put_executions(canceled)
            self._store.delete_rollout(job_id)
        self._jobs[job_id] = job
        self._stop_rollout(job_id)
        self._commit(canceled, now)

    def _settle(self, job_id: str, now: int) -> None:
        """A SNAPSHOT job with nothing left to run is COMPLETED (spec §3): every execution is
        terminal and the rollout has notified every thing (a retry is queued before this)."""
        job = self._jobs[job_id]
        counts = self._book.status_counts(job_id)
        pending = counts.get(ExecutionStatus.QUEUED, 0) + counts.get(ExecutionStatus.IN_PROGRESS, 0)
        if (
            job.status is JobStatus.IN_PROGRESS
            and job.target_selection is TargetSelection.SNAPSHOT
            and pending == 0
            and job_id not in self._rollouts
        ):
            job = dataclasses.replace(
                job, status=JobStatus.COMPLETED, completed_at=now, last_updated_at=now
            )
            self._store.put_job(job)
            self._jobs[job_id] = job

    def _notify(self, change: ThingChange, now: int) -> None:
        if _same_statuses(change):
            # Nothing joined or left the pending set and the `$next` order is unchanged (it
            # depends on status, queue time and the execution's key only: see
            # simfleet.jobs.execution.pending_by_status), so neither notify nor notify-next can
            # fire: a progress update (IN_PROGRESS -> IN_PROGRESS), the commonest write, skips
            # the computation.
            return
        found = pending_notifications(change.before, change.after, now)
        thing = change.thing_name
        # The thing name is valid (it came from a parsed topic or the registry), so the topics
        # (spec §1.1) are built without JobsTopic's checks: 4 µs of a ~60 µs update.
        if found.notify is not None:
            self._publish(f"{PREFIX}{thing}/jobs/notify", encode_message(found.notify))
        if found.notify_next is not None:
            self._publish(f"{PREFIX}{thing}/jobs/notify-next", encode_message(found.notify_next))

    # --- timers and rollouts --------------------------------------------------------------

    def _run_due(self, now: int) -> None:
        while True:
            expired = []
            while (timer := self._timers.pop_due(now)) is not None:
                if isinstance(timer, RolloutDue):
                    self._release(timer.job_id, now)
                    continue
                record = self._book.find(timer.thing_name, timer.job_id, timer.execution_number)
                timed_out = None if record is None else time_out(record, now)
                if timed_out is not None:
                    expired.append(timed_out)
            if not expired:
                return
            with self._store.transaction():
                self._store.put_executions(expired)
            self._commit(expired, now)

    def _release(self, job_id: str, now: int) -> None:
        """Queue what the job's rollout has due by `now`."""
        plan = self._rollouts[job_id]
        records = [
            self._new_execution(job_id, thing, now)
            for thing in plan.release(now=now, succeeded=self._succeeded(job_id))
            if not self._book.has(thing, job_id)  # a continuous job may have reached it
        ]
        done = plan.remaining == 0
        with self._store.transaction():
            self._store.put_executions(records)
            if done:
                self._store.delete_rollout(job_id)
            else:
                self._store.put_rollout(job_id, plan.state)
        if done:
            self._stop_rollout(job_id)
        else:
            self._schedule_rollout(job_id, now)
        self._commit(records, now)
        self._settle(job_id, now)

    def _schedule_rollout(self, job_id: str, now: int) -> None:
        due = self._rollouts[job_id].next_release(now=now, succeeded=self._succeeded(job_id))
        if due is not None:
            self._timers.set(RolloutDue(job_id), due)

    def _stop_rollout(self, job_id: str) -> None:
        self._rollouts.pop(job_id, None)
        self._timers.discard(RolloutDue(job_id))

    def _schedule_timeout(self, record: ExecutionRecord) -> None:
        deadline = record.deadline
        if record.status is ExecutionStatus.IN_PROGRESS and deadline is not None:
            self._timers.set(TimeoutDue.of(record), deadline)
        else:
            self._timers.discard(TimeoutDue.of(record))

    # --- internals ------------------------------------------------------------------------

    def _add_job(self, job: Job) -> None:
        self._jobs[job.job_id] = job
        self._book.add_job(job.job_id)

    def _new_execution(
        self, job_id: str, thing: str, now: int, execution_number: int = 1
    ) -> ExecutionRecord:
        return queue(
            thing_name=thing,
            job_id=job_id,
            job_document=self._documents[job_id],
            now=now,
            execution_number=execution_number,
            in_progress_timeout_minutes=self._configs[job_id].in_progress_timeout_minutes,
        )

    def _succeeded(self, job_id: str) -> int:
        return self._book.outcomes(job_id).get(ExecutionStatus.SUCCEEDED, 0)


def _same_statuses(change: ThingChange) -> bool:
    """Whether `change` replaced executions in place without changing any status."""
    before, after = change.before, change.after
    return len(before) == len(after) and all(
        old.key == new.key and old.status is new.status and old.queued_at == new.queued_at
        for old, new in zip(before, after, strict=True)
    )
