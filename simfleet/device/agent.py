"""`DeviceAgent`: what one device does with AWS IoT Jobs, over any `JobsTransport`
(docs/devices.md, "Agent").

No I/O and no clock here: `sleep`, the clocks and the rng are passed in, so the same agent runs
under gevent in Locust and in memory in the tests. A cycle (`run_once`):

    away (offline, crashed, backing off)?  sleep toward the time to come back, at most
                                           idle_wait; connect once it has come
    find work, by workflow                 notify-next: wait for one (idle_wait at most);
                                           polling: describe $next / start-next when due
    none                                   maybe go offline (offline_probability)
    a job                                  its steps, progress updates, final status; or a
                                           crash mid-job (crash_probability)

Every wait is a `sleep` or a transport timeout, so no loop spins. Request-level errors
(throttling, timeouts, version mismatches, executions the service ended) are handled in
`JobRequests` (job_requests.py); what is left ends the cycle:

    ConnectionLost                    reconnect after reconnect_backoff, then resume the
                                      IN_PROGRESS execution, as after a crash
    any other DeviceError             the next cycle looks for work afresh after
                                      throttle_backoff (retries exhausted, an odd refusal)

A DeviceError never leaves `run_once`; anything else (a programming error) does.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Mapping

from simfleet.device.backoff import Backoff
from simfleet.device.errors import ConnectionLost, DeviceError
from simfleet.device.job_requests import ActiveJob, Ended, JobRequests
from simfleet.device.job_timings import ExecutionKey, JobTimings, execution_key
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.device.reports import Reporter
from simfleet.device.transport import JobsTransport
from simfleet.jobs import ExecutionStatus, JobExecution

_DEVICE_ENDINGS = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.REJECTED}
)
# Executions ended lately: a notify-next about one of them came late and is ignored.
_REMEMBERED = 32


class DeviceAgent:
    """One device's Jobs workflow; `start()` once, `run_once()` in a loop, `stop()` at the end."""

    def __init__(
        self,
        transport: JobsTransport,
        profile: BehaviourProfile,
        *,
        rng: random.Random,
        sleep: Callable[[float], None],
        wall_clock: Callable[[], float],
        monotonic: Callable[[], float],
        report: Reporter,
    ) -> None:
        self._transport = transport
        self._requests = JobRequests(transport, profile, rng=rng, sleep=sleep)
        self._profile = profile
        self._rng = rng
        self._sleep = sleep
        self._monotonic = monotonic
        self._timings = JobTimings(
            transport.thing_name, report, wall_clock=wall_clock, monotonic=monotonic
        )
        self._workflow = profile.workflow
        if profile.workflow is Workflow.NOTIFY_NEXT and not transport.pushes_notifications:
            # [choice] A transport that cannot push (HTTPS) would wait for nothing: it polls
            # with start-next, as AWS recommends for HTTPS devices, so that one profile serves a
            # mixed fleet.
            self._workflow = Workflow.START_NEXT_POLL
        self._come_back_at = -math.inf  # monotonic: no cycle before this (away, backing off)
        self._failures = 0  # cycles failed in a row: the backoff's attempt number
        self._look = True  # look for work at once (after a (re)connect) rather than wait
        self._next_poll = -math.inf  # monotonic: when a polling workflow polls next
        self._crashed: set[ExecutionKey] = set()  # jobs that had their crash (once per job)
        self._ended: deque[ExecutionKey] = deque(maxlen=_REMEMBERED)

    @property
    def workflow(self) -> Workflow:
        """The workflow this agent runs (notify-next becomes start-next-poll without push)."""
        return self._workflow

    def start(self) -> None:
        """Connect, retrying after reconnect_backoff up to max_retries times, then look for
        work once. A device that still cannot connect is left to run_once, which goes on
        trying."""
        for attempt in range(self._profile.max_retries + 1):
            if attempt:
                self._sleep(max(0.0, self._come_back_at - self._monotonic()))
            if self._connect():
                self._cycle()
                return

    def run_once(self) -> None:
        """One cycle: find a job and work it to its end, or wait at most about idle_wait."""
        wait = self._come_back_at - self._monotonic()
        if wait > self._profile.idle_wait:
            self._sleep(self._profile.idle_wait)
            return
        if wait > 0:
            self._sleep(wait)
        if not self._transport.connected and not self._connect():
            return
        self._cycle()

    def stop(self) -> None:
        """Leave cleanly."""
        self._transport.disconnect()

    # --- connection and cycle -------------------------------------------------------------

    def _connect(self) -> bool:
        try:
            self._transport.connect()
        except DeviceError:  # reported by the transport
            self._back_off(self._profile.reconnect_backoff)
            return False
        self._come_back_at = -math.inf
        # Notifications sent while the device was away are lost: look for work at once.
        self._look = True
        return True

    def _back_off(self, backoff: Backoff) -> None:
        self._come_back_at = self._monotonic() + backoff.sample(self._failures, self._rng)
        self._failures += 1

    def _cycle(self) -> None:
        try:
            job = self._find_work()
            if job is None:
                self._maybe_go_offline()
            else:
                self._work(job)
        except ConnectionLost:
            self._transport.drop()  # make sure it is closed; the next cycle reconnects
            self._look = True
            self._back_off(self._profile.reconnect_backoff)
            return
        except DeviceError:
            self._look = True
            self._back_off(self._profile.throttle_backoff)
            return
        self._failures = 0

    def _maybe_go_offline(self) -> None:
        if self._rng.random() < self._profile.offline_probability:
            # [choice] A device going offline on purpose (power saving, maintenance) leaves
            # cleanly; the unplanned loss is the crash, which drops the connection.
            self._transport.disconnect()
            self._look = True
            self._come_back_at = self._monotonic() + self._profile.offline_duration.sample(
                self._rng
            )

    # --- finding work ---------------------------------------------------------------------

    def _find_work(self) -> ActiveJob | None:
        if self._workflow is Workflow.NOTIFY_NEXT:
            return self._look_now() if self._look else self._await_notification()
        if not self._look:
            wait = self._next_poll - self._monotonic()
            if wait > self._profile.idle_wait:
                self._sleep(self._profile.idle_wait)
                return None
            if wait > 0:
                self._sleep(wait)
        job = self._look_now()
        self._next_poll = self._monotonic() + self._profile.poll_interval.sample(self._rng)
        return job

    def _look_now(self) -> ActiveJob | None:
        self._look = False
        if self._workflow is Workflow.START_NEXT_POLL:
            return self._start_next()
        return self._claim(self._requests.describe_next())

    def _await_notification(self) -> ActiveJob | None:
        notice = self._transport.next_notification(self._profile.idle_wait)
        if notice is None:
            return None
        execution = notice.execution
        if execution is not None:
            if execution_key(execution) in self._ended:
                return None  # a notification that came after the device ended the execution
            if execution.status is ExecutionStatus.QUEUED:
                self._timings.notified(execution)
        return self._claim(execution)

    def _claim(self, execution: JobExecution | None) -> ActiveJob | None:
        """Take `$next` as the service described it: resume it, or start it."""
        if execution is None:
            self._forget_all()
            return None
        if execution.status is ExecutionStatus.IN_PROGRESS:
            return ActiveJob(execution=execution, version=execution.version_number)
        if execution.status is not ExecutionStatus.QUEUED:
            return None
        if self._workflow is Workflow.NOTIFY_NEXT:
            return self._start_next()
        job = ActiveJob(execution=execution, version=execution.version_number)
        ended = self._requests.update(job, ExecutionStatus.IN_PROGRESS, None)
        if ended is not None:
            self._end(job, ended)
            return None
        self._timings.started(execution)
        return job

    def _start_next(self) -> ActiveJob | None:
        execution = self._requests.start_next()
        if execution is None:
            self._forget_all()
            return None
        # start-next answers $next after the move. A QUEUED execution is always at version 1
        # (only a device's start moves it on), so version 2 is one this call started, unless
        # this agent started it earlier and now resumes it.
        if execution.version_number == 2 and not self._timings.started_here(execution):
            self._timings.started(execution)
        return ActiveJob(execution=execution, version=execution.version_number)

    # --- working a job --------------------------------------------------------------------

    def _work(self, job: ActiveJob) -> None:
        steps = self._profile.steps
        first = _resume_index(steps, job.execution.status_details)
        crash_at = self._draw_crash(job.key, first, len(steps))
        for index in range(first, len(steps)):
            duration = steps[index].duration.sample(self._rng)
            if crash_at == index:
                self._sleep(duration * self._rng.random())
                self._crash(job.key)
                return
            self._sleep(duration)
            if self._profile.progress_updates:
                details = {"step": steps[index].name}
                ended = self._requests.update(job, ExecutionStatus.IN_PROGRESS, details)
                if ended is not None:
                    self._end(job, ended)
                    return
        if crash_at == len(steps):
            self._crash(job.key)
            return
        status = self._draw_status()
        self._end(job, self._requests.update(job, status, None) or Ended(status))

    def _draw_crash(self, key: ExecutionKey, first: int, steps: int) -> int | None:
        """The step the device crashes in (`steps`: before its final update), or None."""
        if key in self._crashed or self._rng.random() >= self._profile.crash_probability:
            return None
        return self._rng.randint(first, steps)

    def _draw_status(self) -> ExecutionStatus:
        draw = self._rng.random()
        if draw < self._profile.failed_probability:
            return ExecutionStatus.FAILED
        if draw < self._profile.failed_probability + self._profile.rejected_probability:
            return ExecutionStatus.REJECTED
        return ExecutionStatus.SUCCEEDED

    def _crash(self, key: ExecutionKey) -> None:
        """Drop the connection with no goodbye, stay away, then resume the job (drawn once)."""
        self._crashed.add(key)
        self._transport.drop()
        self._look = True
        self._come_back_at = self._monotonic() + self._profile.crash_offline.sample(self._rng)

    def _end(self, job: ActiveJob, ended: Ended) -> None:
        status = ended.status
        if status is None:
            self._timings.forget(job.execution)
        elif status in _DEVICE_ENDINGS:
            self._timings.device_ended(job.execution, status)
        else:
            expected = status in self._profile.expected_endings
            self._timings.service_ended(job.execution, status, expected=expected)
        self._crashed.discard(job.key)
        self._ended.append(job.key)
        self._next_poll = -math.inf  # after a job, a poller looks for the next one at once

    def _forget_all(self) -> None:
        """Nothing is pending on the thing: no job of ours is left to resume."""
        self._crashed.clear()
        self._timings.forget_all()


def _resume_index(steps: tuple[Step, ...], details: Mapping[str, str] | None) -> int:
    """The first step not done: the one after the step the execution's statusDetails name."""
    done = None if details is None else details.get("step")
    for index, step in enumerate(steps):
        if step.name == done:
            return index + 1
    return 0
