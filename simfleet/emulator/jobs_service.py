"""The Jobs service: the device requests (MQTT and HTTPS) and the control-plane operations on
jobs and executions, over the state, funnel and timers of `JobsEngine` (job_engine.py, which
says how time is driven: `tick()` / `next_deadline()`).

The protocol itself is `simfleet.jobs` (answer_mqtt, the service operations, the transition
table, pending_notifications); the rate, timer, abort and retry rules are the sans-io modules
rollout, job_timers, abort and retry. Device requests first perform what is due, so a device
never updates an execution whose timer has run out but whose tick has not come yet.

With `quotas` (spec §6, simfleet.emulator.quotas), a device request over the account's Jobs
read or write rate is refused before anything else happens, whichever driver brought it: over
MQTT with a RequestThrottled reply on `…/rejected` that echoes a readable clientToken (spec
§1.4), over HTTPS with JobsError(RequestThrottled), which the HTTPS drivers answer 429
ThrottlingException (spec §2). A throttled request changes nothing, notifies no one and runs
no timer.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from simfleet.emulator import rollout
from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, invalid_request, not_found
from simfleet.emulator.job_config import JobConfig
from simfleet.emulator.job_engine import JobsEngine, Publish
from simfleet.emulator.job_timers import TimeoutDue
from simfleet.emulator.quotas import Quotas, throttled_error, throttled_reply
from simfleet.emulator.records import Job, JobStatus, TargetSelection
from simfleet.emulator.registry import Registry
from simfleet.emulator.rollout import RolloutPlan
from simfleet.emulator.store import Store
from simfleet.jobs import (
    ExecutionRecord,
    ExecutionStatus,
    JobsRequest,
    JobsTopic,
    MqttReply,
    UnknownJobsTopic,
    answer_mqtt,
)
from simfleet.jobs.execution import cancel, handle
from simfleet.jobs.requests import request_operation
from simfleet.jobs.responses import Accepted
from simfleet.jobs.state import Mover, is_allowed


class TargetKind(enum.Enum):
    """What a job target ARN names: `arn:aws:iot:{region}:{account}:{kind}/{name}`."""

    THING = "thing"
    THING_GROUP = "thinggroup"


@dataclass(frozen=True, kw_only=True, slots=True)
class JobTarget:
    arn: str  # as given to CreateJob, and answered by DescribeJob
    kind: TargetKind
    name: str


def _invalid_state(message: str) -> AwsError:
    return AwsError("InvalidStateTransitionException", message, 409)


class JobsService(JobsEngine):
    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        publish: Publish,
        *,
        quotas: Quotas | None = None,
    ) -> None:
        super().__init__(store, registry, clock, publish)
        self._quotas = quotas

    # --- device requests ------------------------------------------------------------------

    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        """The reply for the requesting client only; notify / notify-next go out through
        `publish` before this returns, so a broker that must send the reply first defers its
        publish callback (e.g. `loop.call_soon`)."""
        clock_now = self._clock.now()
        now = int(clock_now)
        quotas = self._quotas
        if (
            quotas is not None
            and isinstance(topic, JobsTopic)
            and topic.is_request
            and not quotas.allow_jobs(topic.operation, clock_now)
        ):
            return throttled_reply(topic, payload, now)
        self._run_due(now)
        if isinstance(topic, UnknownJobsTopic):
            return answer_mqtt(topic, payload, (), now)
        reply = answer_mqtt(topic, payload, self._book.records(topic.thing_name), now)
        if reply.changed is not None:
            self._store.put_execution(reply.changed)
            self._commit([reply.changed], now)
        return reply

    def handle_request(self, thing_name: str, request: JobsRequest) -> Accepted:
        """One device request already decoded (the HTTPS device API); raises JobsError."""
        clock_now = self._clock.now()
        quotas = self._quotas
        if quotas is not None and not quotas.allow_jobs(request_operation(request), clock_now):
            raise throttled_error()
        now = int(clock_now)
        self._run_due(now)
        outcome = handle(self._book.records(thing_name), request, now)
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
        config: JobConfig | None = None,
        target_selection: TargetSelection = TargetSelection.SNAPSHOT,
    ) -> Job:
        """CreateJob: queue an execution for every thing the targets name now, at once or at
        the rollout's rate. `document` must already be checked to be a JSON object
        (ControlPlane does)."""
        if job_id in self._jobs:
            raise AwsError("ResourceAlreadyExistsException", f"Job {job_id} already exists", 409)
        config = config or JobConfig()
        things = sorted(self._resolve(targets))
        now = int(self._clock.now())
        job = Job(
            job_id=job_id,
            document=document,
            targets=tuple(t.arn for t in targets),
            created_at=now,
            last_updated_at=now,
            target_selection=target_selection,
            description=description,
            config=config.to_members(),
        )
        self._documents[job_id] = json.loads(document)
        self._configs[job_id] = config
        if config.rollout is None or not things:
            records = [self._new_execution(job_id, thing, now) for thing in things]
            with self._store.transaction():
                self._store.put_job(job)
                self._store.put_executions(records)
            self._add_job(job)
            self._commit(records, now)
        else:
            state = rollout.start(now)
            with self._store.transaction():
                self._store.put_job(job)
                self._store.put_rollout_things(job_id, things)
                self._store.put_rollout(job_id, state)
            self._add_job(job)
            self._rollouts[job_id] = RolloutPlan(config.rollout, things, state)
            self._release(job_id, now)
        # [U] A snapshot job whose targets hold no thing is COMPLETED at once: all of its (no)
        # executions are terminal.
        self._settle(job_id, now)
        return self._jobs[job_id]

    def update_job(self, job_id: str, *, description: str | None, config: JobConfig) -> Job:
        """UpdateJob. [U] Only an IN_PROGRESS job's configuration may change (its description
        always may). A new in-progress timeout applies to the executions not started yet
        ("you can update the value of this timer until the start of your job execution"); a
        new rollout rate applies from the next second."""
        job = self.job(job_id)
        old = self._configs[job_id]
        if config != old and job.status is not JobStatus.IN_PROGRESS:
            raise invalid_request(f"Job {job_id} is {job.status.value}; its configuration is final")
        now = int(self._clock.now())
        requeued = []
        if config.in_progress_timeout_minutes != old.in_progress_timeout_minutes:
            requeued = [
                dataclasses.replace(
                    r, in_progress_timeout_minutes=config.in_progress_timeout_minutes
                )
                for r in self._book.latest_of_job(job_id)
                if r.status is ExecutionStatus.QUEUED
            ]
        job = dataclasses.replace(
            job,
            description=job.description if description is None else description,
            config=config.to_members(),
            last_updated_at=now,
        )
        plan = self._rollouts.get(job_id)
        if plan is not None and config.rollout is not None and config.rollout != plan.config:
            plan.reconfigure(config.rollout, now=now, succeeded=self._succeeded(job_id))
        with self._store.transaction():
            self._store.put_job(job)
            self._store.put_executions(requeued)
            if plan is not None:
                self._store.put_rollout(job_id, plan.state)
        self._jobs[job_id] = job
        self._configs[job_id] = config
        # Devices see nothing of a queued execution's timeout: no notification.
        self._book.apply(requeued)
        if plan is not None:
            self._schedule_rollout(job_id, now)
        self._check_abort(job_id, now)
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
        `force`, terminal ones are untouched; the job becomes CANCELED and its rollout stops.

        [U] A canceled job may be canceled again, with force to cancel the executions still
        IN_PROGRESS; a COMPLETED job cannot be canceled (InvalidRequestException).
        """
        job = self.job(job_id)
        if job.status is JobStatus.COMPLETED:
            raise invalid_request(f"Job {job_id} is COMPLETED and cannot be canceled")
        now = int(self._clock.now())
        self._cancel(job_id, now, force=force, reason_code=reason_code, comment=comment)
        return self._jobs[job_id]

    def delete_job(self, job_id: str, *, force: bool = False) -> None:
        """DeleteJob: a job still IN_PROGRESS needs `force`. Its executions disappear; a thing
        that had one pending is notified (spec §1.3: "is deleted")."""
        job = self.job(job_id)
        if job.status is JobStatus.IN_PROGRESS and not force:
            raise _invalid_state(f"Job {job_id} is IN_PROGRESS; delete it with force=true")
        doomed = [r for thing in self._book.things(job_id) for r in self._book.of(thing, job_id)]
        with self._store.transaction():
            self._store.delete_job(job_id, doomed)
        self._stop_rollout(job_id)
        for record in doomed:
            self._timers.discard(TimeoutDue.of(record))
        now = int(self._clock.now())
        for change in self._book.drop_job(job_id):
            self._notify(change, now)
        del self._jobs[job_id], self._documents[job_id], self._configs[job_id]

    def thing_joined_group(self, thing_name: str, group: str) -> None:
        """A thing was added to `group`: every CONTINUOUS job targeting the group (or a group
        above it, as `Registry.thing_group_members` counts members) queues an execution for it
        at once, whatever its rollout rate ("created in near-real time as soon as the devices
        join the target group"). A thing that has an execution of the job, or that the
        rollout will still reach, gets none."""
        groups = {group, *(g.name for g in self._registry.ancestors(group))}
        now = int(self._clock.now())
        records = []
        for job_id, job in self._jobs.items():
            plan = self._rollouts.get(job_id)
            if (
                job.status is JobStatus.IN_PROGRESS
                and job.target_selection is TargetSelection.CONTINUOUS
                and not groups.isdisjoint(_target_groups(job))
                and not self._book.has(thing_name, job_id)
                and not (plan is not None and plan.is_pending(thing_name))
            ):
                records.append(self._new_execution(job_id, thing_name, now))
        if records:
            with self._store.transaction():
                self._store.put_executions(records)
            self._commit(records, now)

    # --- operations on one execution ------------------------------------------------------

    def cancel_execution(
        self,
        thing_name: str,
        job_id: str,
        *,
        force: bool = False,
        expected_version: int | None = None,
        status_details: Mapping[str, str] | None = None,
    ) -> None:
        """CancelJobExecution on the thing's latest execution of the job: QUEUED ones, and
        IN_PROGRESS ones with `force`; new statusDetails replace the stored ones."""
        self.job(job_id)
        record = self._book.latest(thing_name, job_id)
        if record is None:
            raise not_found(f"No job execution of {job_id} on {thing_name}")
        mover = Mover.FORCE_CANCEL if force else Mover.CANCEL
        if not is_allowed(mover, record.status, ExecutionStatus.CANCELED):
            extra = "" if record.status.is_terminal else "; cancel it with force=true"
            raise _invalid_state(
                f"The job execution of {job_id} on {thing_name} is {record.status.value}{extra}"
            )
        if expected_version not in (None, record.version_number):
            raise AwsError(
                "VersionConflictException",
                f"Expected version {expected_version}, current is {record.version_number}",
                409,
            )
        now = int(self._clock.now())
        canceled = cancel(record, force=force, now=now)
        if status_details is not None:
            canceled = dataclasses.replace(canceled, status_details=dict(status_details))
        self._store.put_execution(canceled)
        self._commit([canceled], now)

    def delete_execution(
        self, thing_name: str, job_id: str, execution_number: int, *, force: bool = False
    ) -> None:
        """DeleteJobExecution: a terminal execution, or any with `force`. The thing is
        notified if it leaves the pending set."""
        self.job(job_id)
        record = self._book.find(thing_name, job_id, execution_number)
        if record is None:
            raise not_found(f"No job execution #{execution_number} of {job_id} on {thing_name}")
        if not (record.status.is_terminal or force):
            raise _invalid_state(
                f"The job execution is {record.status.value}; delete it with force=true"
            )
        self._store.delete_execution(record)
        self._timers.discard(TimeoutDue.of(record))
        now = int(self._clock.now())
        self._notify(self._book.remove(record), now)
        self._settle(job_id, now)

    # --- reads ----------------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        found = self._jobs.get(job_id)
        if found is None:
            raise not_found(f"Job {job_id} not found")
        return found

    def config(self, job_id: str) -> JobConfig:
        self.job(job_id)
        return self._configs[job_id]

    def jobs(self) -> Iterator[Job]:
        """Every job, in the order they were created."""
        return iter(self._jobs.values())

    def status_counts(self, job_id: str) -> Mapping[ExecutionStatus, int]:
        """How many targeted things are in each status (their latest execution)."""
        self.job(job_id)
        return self._book.status_counts(job_id)

    def executions_for_job(self, job_id: str) -> Iterator[ExecutionRecord]:
        """Every execution of the job, by thing then execution number (read lazily, so that
        a page of a 100k-thing job costs a page)."""
        self.job(job_id)  # now, not at the first next()
        things = self._book.things(job_id)
        return (r for thing in things for r in self._book.of(thing, job_id))

    def executions_for_thing(self, thing_name: str) -> list[ExecutionRecord]:
        """The thing's executions, oldest first."""
        records = self._book.records(thing_name)
        return sorted(records, key=lambda r: (r.queued_at, r.job_id, r.execution_number))

    def execution(
        self, thing_name: str, job_id: str, execution_number: int | None = None
    ) -> ExecutionRecord:
        """One execution; the latest of the job when no number is given."""
        if execution_number is None:
            found = self._book.latest(thing_name, job_id)
        else:
            found = self._book.find(thing_name, job_id, execution_number)
        if found is None:
            raise not_found(f"No job execution of {job_id} on {thing_name}")
        return found

    # --- internals ------------------------------------------------------------------------

    def _resolve(self, targets: Sequence[JobTarget]) -> dict[str, None]:
        things: dict[str, None] = {}
        for target in targets:
            if target.kind is TargetKind.THING:
                things[self._registry.thing(target.name).name] = None
            else:
                things.update(dict.fromkeys(self._registry.thing_group_members(target.name)))
        return things


def _target_groups(job: Job) -> Iterable[str]:
    """The names of the thing groups among the job's target ARNs."""
    for arn in job.targets:
        # arn:aws:iot:{region}:{account}:thinggroup/{name}; a group name may hold ':'.
        kind, _, name = arn.split(":", 5)[-1].partition("/")
        if kind == TargetKind.THING_GROUP.value:
            yield name
