"""Jobs and their executions: the device requests over MQTT, the notifications, and the job-wide
operations of the control plane (create, cancel, delete).

The protocol itself is `simfleet.jobs` (answer_mqtt, the service operations, the transition
table, pending_notifications); this module keeps the state it works on. Executions live in
memory by thing and are written through to SQLite on every change, before anything is answered
or published (docs/emulator.md, "Jobs service").

Every change goes through one funnel, `_commit`: store, memory, per-job counts, notify /
notify-next, job completion. Part 2 of the emulator plugs in there: a rollout queues through
`_queue` in batches (and the completion check learns that a job still has things to queue),
timers commit `time_out` records, aborts commit `cancel` records, retries commit a new record
with the next execution number, continuous jobs queue for things joining a target group;
their settings are in `Job.config`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, invalid_request, not_found
from simfleet.emulator.records import Job, JobStatus, TargetSelection
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import (
    ExecutionRecord,
    ExecutionStatus,
    JobsRequest,
    JobsTopic,
    MqttReply,
    UnknownJobsTopic,
    answer_mqtt,
    encode_message,
    pending_notifications,
)
from simfleet.jobs.execution import cancel, handle, queue
from simfleet.jobs.responses import Accepted
from simfleet.jobs.state import Mover, is_allowed
from simfleet.jobs.topics import PREFIX

Publish = Callable[[str, bytes], None]


class TargetKind(enum.Enum):
    """What a job target ARN names: `arn:aws:iot:{region}:{account}:{kind}/{name}`."""

    THING = "thing"
    THING_GROUP = "thinggroup"


@dataclass(frozen=True, kw_only=True, slots=True)
class JobTarget:
    arn: str  # as given to CreateJob, and answered by DescribeJob
    kind: TargetKind
    name: str


class JobsService:
    def __init__(self, store: Store, registry: Registry, clock: Clock, publish: Publish) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._publish = publish
        self._jobs = {job.job_id: job for job in store.jobs()}
        self._documents: dict[str, Mapping[str, Any]] = {
            job_id: json.loads(job.document) for job_id, job in self._jobs.items()
        }
        self._by_thing: dict[str, list[ExecutionRecord]] = {}
        # Each job's things (an ordered set, by thing name) and counts of their latest
        # executions by status: DescribeJob and the completion check read them in O(1).
        self._job_things: dict[str, dict[str, None]] = {job_id: {} for job_id in self._jobs}
        self._counts: dict[str, dict[ExecutionStatus, int]] = {j: {} for j in self._jobs}
        for record in store.executions(self._documents):
            self._by_thing.setdefault(record.thing_name, []).append(record)
        for thing, records in self._by_thing.items():
            for record in records:
                self._job_things[record.job_id][thing] = None
                if _is_latest(record, records):
                    _count(self._counts[record.job_id], record.status, 1)

    # --- device requests ------------------------------------------------------------------

    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        """The reply for the requesting client only; notify / notify-next go out through
        `publish` before this returns, so a broker that must send the reply first defers its
        publish callback (e.g. `loop.call_soon`)."""
        now = int(self._clock.now())
        if isinstance(topic, UnknownJobsTopic):
            return answer_mqtt(topic, payload, (), now)
        reply = answer_mqtt(topic, payload, self._by_thing.get(topic.thing_name, ()), now)
        if reply.changed is not None:
            self._store.put_execution(reply.changed)
            self._commit([reply.changed], now)
        return reply

    def handle_request(self, thing_name: str, request: JobsRequest) -> Accepted:
        """One device request already decoded (the HTTPS device API); raises JobsError."""
        now = int(self._clock.now())
        outcome = handle(self._by_thing.get(thing_name, ()), request, now)
        if outcome.changed is not None:
            self._store.put_execution(outcome.changed)
            self._commit([outcome.changed], now)
        return outcome.response

    # --- job-wide operations --------------------------------------------------------------

    def create_job(
        self,
        *,
        job_id: str,
        targets: Sequence[JobTarget],
        document: str,
        description: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Job:
        """CreateJob, SNAPSHOT: queue an execution for every thing the targets name now.

        `document` must already be checked to be a JSON object (ControlPlane does).
        """
        if job_id in self._jobs:
            raise AwsError("ResourceAlreadyExistsException", f"Job {job_id} already exists", 409)
        things = sorted(self._resolve(targets))
        now = int(self._clock.now())
        job = Job(
            job_id=job_id,
            document=document,
            targets=tuple(t.arn for t in targets),
            created_at=now,
            last_updated_at=now,
            target_selection=TargetSelection.SNAPSHOT,
            description=description,
            config=dict(config or {}),
        )
        parsed: Mapping[str, Any] = json.loads(document)
        records = [
            queue(thing_name=thing, job_id=job_id, job_document=parsed, now=now) for thing in things
        ]
        with self._store.transaction():
            self._store.put_job(job)
            self._store.put_executions(records)
        self._jobs[job_id] = job
        self._documents[job_id] = parsed
        self._job_things[job_id] = {}
        self._counts[job_id] = {}
        self._commit(records, now)
        # [U] A job whose targets hold no thing is COMPLETED at once: all of its (no)
        # executions are terminal.
        self._settle(job_id, now)
        return self._jobs[job_id]

    def cancel_job(
        self,
        job_id: str,
        *,
        force: bool = False,
        reason_code: str | None = None,
        comment: str | None = None,
    ) -> Job:
        """CancelJob (spec §3): QUEUED executions become CANCELED, IN_PROGRESS ones only with
        `force`, terminal ones are untouched; the job becomes CANCELED.

        [U] A canceled job may be canceled again, with force to cancel the executions still
        IN_PROGRESS; a COMPLETED job cannot be canceled (InvalidRequestException).
        """
        job = self.job(job_id)
        if job.status is JobStatus.COMPLETED:
            raise invalid_request(f"Job {job_id} is COMPLETED and cannot be canceled")
        now = int(self._clock.now())
        mover = Mover.FORCE_CANCEL if force else Mover.CANCEL
        canceled = [
            cancel(record, force=force, now=now)
            for record in self._latest(job_id)
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
        self._jobs[job_id] = job
        self._commit(canceled, now)
        return job

    def delete_job(self, job_id: str, *, force: bool = False) -> None:
        """DeleteJob: a job still IN_PROGRESS needs `force`. Its executions disappear; a thing
        that had one pending is notified (spec §1.3: "is deleted")."""
        job = self.job(job_id)
        if job.status is JobStatus.IN_PROGRESS and not force:
            raise AwsError(
                "InvalidStateTransitionException",
                f"Job {job_id} is IN_PROGRESS; delete it with force=true",
                409,
            )
        doomed = [r for thing in self._job_things[job_id] for r in self._records(thing, job_id)]
        with self._store.transaction():
            self._store.delete_job(job_id, doomed)
        now = int(self._clock.now())
        for thing in self._job_things.pop(job_id):
            before = self._by_thing[thing]
            after = [r for r in before if r.job_id != job_id]
            self._by_thing[thing] = after
            self._notify(thing, before, after, now)
        del self._jobs[job_id], self._documents[job_id], self._counts[job_id]

    # --- reads ----------------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        found = self._jobs.get(job_id)
        if found is None:
            raise not_found(f"Job {job_id} not found")
        return found

    def jobs(self) -> Iterator[Job]:
        """Every job, in the order they were created."""
        return iter(self._jobs.values())

    def status_counts(self, job_id: str) -> Mapping[ExecutionStatus, int]:
        """How many targeted things are in each status (their latest execution)."""
        self.job(job_id)
        return self._counts[job_id]

    def executions_for_job(self, job_id: str) -> Iterator[ExecutionRecord]:
        """Every execution of the job, by thing name then execution number (read lazily, so
        that a page of a 100k-thing job costs a page)."""
        self.job(job_id)  # now, not at the first next()
        things = self._job_things[job_id]
        return (r for thing in things for r in self._records(thing, job_id))

    def executions_for_thing(self, thing_name: str) -> list[ExecutionRecord]:
        """The thing's executions, oldest first."""
        records = self._by_thing.get(thing_name, [])
        return sorted(records, key=lambda r: (r.queued_at, r.job_id, r.execution_number))

    def execution(
        self, thing_name: str, job_id: str, execution_number: int | None = None
    ) -> ExecutionRecord:
        """One execution; the latest of the job when no number is given."""
        records = self._records(thing_name, job_id)
        if execution_number is not None:
            records = [r for r in records if r.execution_number == execution_number]
        if not records:
            raise not_found(f"No job execution of {job_id} on {thing_name}")
        return records[-1]

    # --- the funnel -----------------------------------------------------------------------

    def _commit(self, changed: Iterable[ExecutionRecord], now: int) -> None:
        """Bring memory up to `changed` (new or updated records, already in the store), then
        publish the notifications and settle the status of the jobs they belong to."""
        touched: dict[str, None] = {}
        for record in changed:
            thing, job_id = record.thing_name, record.job_id
            before = self._by_thing.get(thing, [])
            after = [r for r in before if r.key != record.key]
            old = next((r for r in before if r.key == record.key), None)
            after.append(record)
            self._by_thing[thing] = after
            counts = self._counts[job_id]
            if _is_latest(record, after):
                previous = old if old is not None else _latest_other(record, after)
                if previous is not None:
                    _count(counts, previous.status, -1)
                _count(counts, record.status, 1)
            self._job_things[job_id][thing] = None
            touched[job_id] = None
            self._notify(thing, before, after, now)
        for job_id in touched:
            self._settle(job_id, now)

    def _settle(self, job_id: str, now: int) -> None:
        """A SNAPSHOT job whose every execution is terminal is COMPLETED (spec §3)."""
        job = self._jobs[job_id]
        counts = self._counts[job_id]
        pending = counts.get(ExecutionStatus.QUEUED, 0) + counts.get(ExecutionStatus.IN_PROGRESS, 0)
        if (
            job.status is JobStatus.IN_PROGRESS
            and job.target_selection is TargetSelection.SNAPSHOT
            and pending == 0
        ):
            job = dataclasses.replace(
                job, status=JobStatus.COMPLETED, completed_at=now, last_updated_at=now
            )
            self._store.put_job(job)
            self._jobs[job_id] = job

    def _notify(
        self,
        thing: str,
        before: Sequence[ExecutionRecord],
        after: Sequence[ExecutionRecord],
        now: int,
    ) -> None:
        found = pending_notifications(before, after, now)
        # The thing name is valid (it came from a parsed topic or the registry), so the topics
        # (spec §1.1) are built without JobsTopic's checks: 4 µs of a ~60 µs update.
        if found.notify is not None:
            self._publish(f"{PREFIX}{thing}/jobs/notify", encode_message(found.notify))
        if found.notify_next is not None:
            self._publish(f"{PREFIX}{thing}/jobs/notify-next", encode_message(found.notify_next))

    # --- internals ------------------------------------------------------------------------

    def _resolve(self, targets: Sequence[JobTarget]) -> dict[str, None]:
        things: dict[str, None] = {}
        for target in targets:
            if target.kind is TargetKind.THING:
                things[self._registry.thing(target.name).name] = None
            else:
                things.update(dict.fromkeys(self._registry.thing_group_members(target.name)))
        return things

    def _records(self, thing: str, job_id: str) -> list[ExecutionRecord]:
        records = [r for r in self._by_thing.get(thing, ()) if r.job_id == job_id]
        return sorted(records, key=lambda r: r.execution_number)

    def _latest(self, job_id: str) -> Iterator[ExecutionRecord]:
        for thing in self._job_things[job_id]:
            records = self._records(thing, job_id)
            if records:
                yield records[-1]


def _is_latest(record: ExecutionRecord, records: Iterable[ExecutionRecord]) -> bool:
    return all(
        r.execution_number <= record.execution_number for r in records if r.job_id == record.job_id
    )


def _latest_other(
    record: ExecutionRecord, records: Iterable[ExecutionRecord]
) -> ExecutionRecord | None:
    """The thing's previous latest execution of the job, now superseded by `record`."""
    others = [r for r in records if r.job_id == record.job_id and r.key != record.key]
    return max(others, key=lambda r: r.execution_number, default=None)


def _count(counts: dict[ExecutionStatus, int], status: ExecutionStatus, delta: int) -> None:
    counts[status] = counts.get(status, 0) + delta
