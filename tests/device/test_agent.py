"""DeviceAgent against the emulator's real Jobs service, in memory (tests/device/memory_transport):
the three workflows, progress updates, drawn outcomes, crashes and resumes, offline periods,
and every error a real agent meets (throttling, version mismatch, canceled jobs, lost replies,
lost connections), with time driven by a ManualClock."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from simfleet.device.agent import DeviceAgent
from simfleet.device.backoff import Backoff
from simfleet.device.distribution import Distribution
from simfleet.device.errors import JobsRejected
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.device.reports import HTTPS, MQTT, RequestReport
from simfleet.emulator.quotas import QuotaConfig
from simfleet.jobs import (
    DescribeRequest,
    ExecutionStatus,
    JobsErrorCode,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
)
from simfleet.jobs.responses import Accepted
from tests.device.memory_transport import Fault, MemoryCloud, MemoryTransport, memory_device

THINGS = ["dev-0", "dev-1", "dev-2", "dev-3"]
THING = THINGS[0]
S = ExecutionStatus

PROFILE = BehaviourProfile(
    name="test",
    steps=(
        Step(name="download", duration=Distribution.constant(1.0)),
        Step(name="install", duration=Distribution.constant(2.0)),
    ),
    step_timeout_minutes=5,
    idle_wait=5.0,
    poll_interval=Distribution.constant(3.0),
    request_timeout=10.0,
    throttle_backoff=Backoff(base=0.5, cap=4.0, multiplier=2.0),
    reconnect_backoff=Backoff(base=1.0, cap=8.0, multiplier=2.0),
)

WORKFLOWS = [
    pytest.param(Workflow.NOTIFY_NEXT, MQTT, id="notify-next-mqtt"),
    pytest.param(Workflow.DESCRIBE_NEXT, MQTT, id="describe-next-mqtt"),
    pytest.param(Workflow.DESCRIBE_NEXT, HTTPS, id="describe-next-https"),
    pytest.param(Workflow.START_NEXT_POLL, MQTT, id="start-next-poll-mqtt"),
    pytest.param(Workflow.START_NEXT_POLL, HTTPS, id="start-next-poll-https"),
    pytest.param(Workflow.NOTIFY_NEXT, HTTPS, id="notify-next-https-polls"),
]


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[MemoryCloud]:
    made = MemoryCloud(tmp_path / "state", things=THINGS)
    yield made
    made.close()


def profile(**changes: object) -> BehaviourProfile:
    return dataclasses.replace(PROFILE, **changes)  # type: ignore[arg-type]


def statuses(cloud: MemoryCloud, thing: str = THING) -> dict[str, ExecutionStatus]:
    return {r.job_id: r.status for r in cloud.executions(thing)}


def pending(cloud: MemoryCloud, thing: str = THING) -> bool:
    return any(r.status.is_pending for r in cloud.executions(thing))


def names(reports: list[RequestReport], protocol: str) -> list[str]:
    return [r.name for r in reports if r.protocol == protocol]


def updates(requests: list[JobsRequest], job_id: str) -> list[UpdateRequest]:
    return [r for r in requests if isinstance(r, UpdateRequest) and r.job_id == job_id]


# --- the workflows ---------------------------------------------------------------------------

USED = {
    Workflow.NOTIFY_NEXT: {"describe", "start-next", "update IN_PROGRESS", "update SUCCEEDED"},
    Workflow.DESCRIBE_NEXT: {"describe", "update IN_PROGRESS", "update SUCCEEDED"},
    Workflow.START_NEXT_POLL: {"start-next", "update IN_PROGRESS", "update SUCCEEDED"},
}


@pytest.mark.parametrize(("workflow", "protocol"), WORKFLOWS)
def test_each_workflow_completes_every_job(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    for job in ("job-1", "job-2", "job-3"):
        cloud.create_job(job, [THING])
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.agent.start()
    device.run_until(lambda: not pending(cloud), cycles=20)

    assert statuses(cloud) == {"job-1": S.SUCCEEDED, "job-2": S.SUCCEEDED, "job-3": S.SUCCEEDED}
    effective = device.agent.workflow
    polls_instead = protocol == HTTPS and workflow is Workflow.NOTIFY_NEXT  # HTTPS cannot push
    assert effective is (Workflow.START_NEXT_POLL if polls_instead else workflow)
    assert set(names(device.reports, protocol)) - {"connect"} == USED[effective]
    assert all(r.error is None for r in device.reports)
    for job in ("job-1", "job-2", "job-3"):
        record = cloud.execution(THING, job)
        assert record.status_details == {"step": "install"}
        # The start, two progress updates and the final update: one version each.
        assert record.version_number == 5


def test_notify_next_works_a_job_queued_while_it_waits(cloud: MemoryCloud) -> None:
    device = memory_device(cloud, THING, PROFILE)
    device.agent.start()
    assert device.transport.sent
    assert not pending(cloud)
    sent_before = len(device.transport.sent)
    device.agent.run_once()  # nothing comes: waits idle_wait, sends nothing
    assert len(device.transport.sent) == sent_before

    cloud.at(cloud.now() + 2, lambda: cloud.create_job("job-1", [THING]))
    device.run_until(lambda: statuses(cloud) == {"job-1": S.SUCCEEDED}, cycles=3)
    assert names(device.reports, MQTT)[-4:] == [
        "start-next",
        "update IN_PROGRESS",
        "update IN_PROGRESS",
        "update SUCCEEDED",
    ]


def test_a_late_notification_about_a_job_already_worked_is_ignored(cloud: MemoryCloud) -> None:
    device = memory_device(cloud, THING, PROFILE)
    # The look at connect goes unanswered once; while the device waits for its reply, a job is
    # queued and its notify-next arrives. The retried look finds the job and works it.
    device.transport.inject(Fault.TIMEOUT, when=lambda r: isinstance(r, DescribeRequest))
    cloud.at(cloud.now() + 1, lambda: cloud.create_job("job-1", [THING]))
    device.agent.start()
    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    sent = len(device.transport.sent)

    device.agent.run_once()  # reads the notification about job-1, now done

    assert len(device.transport.sent) == sent
    assert "queued to notified" not in [r.name for r in device.reports]


@pytest.mark.parametrize("progress_updates", [True, False])
def test_progress_updates_reach_the_service(cloud: MemoryCloud, progress_updates: bool) -> None:
    cloud.create_job("job-1", [THING])
    seen: list[tuple[dict[str, str] | None, int | None, float]] = []

    def sleep(seconds: float) -> None:
        record = cloud.execution(THING, "job-1")
        details = None if record.status_details is None else dict(record.status_details)
        seen.append((details, record.step_deadline, cloud.now()))
        cloud.sleep(seconds)

    device = memory_device(cloud, THING, profile(progress_updates=progress_updates), sleep=sleep)
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    (first, deadline1, at1), (second, deadline2, at2) = seen
    assert first is None  # started: no step done yet
    # start-next carried stepTimeoutInMinutes: the step timer runs from the start.
    assert deadline1 == int(at1) + 5 * 60
    if progress_updates:
        assert second == {"step": "download"}
        assert deadline2 == int(at2) + 5 * 60  # each progress update restarts the step timer
        assert cloud.execution(THING, "job-1").status_details == {"step": "install"}
    else:
        assert second is None
        assert deadline2 == deadline1
        assert names(device.reports, MQTT).count("update IN_PROGRESS") == 0


def test_drawn_outcomes_and_crashes_follow_the_probabilities(cloud: MemoryCloud) -> None:
    jobs = 400
    for index in range(jobs):
        cloud.create_job(f"job-{index}", [THING])
    drawn = profile(
        workflow=Workflow.START_NEXT_POLL,
        steps=(),
        failed_probability=0.2,
        rejected_probability=0.1,
        crash_probability=0.25,
        crash_offline=Distribution.constant(1.0),
    )
    device = memory_device(cloud, THING, drawn, seed=7)
    device.agent.start()
    device.run_until(lambda: not pending(cloud), cycles=4 * jobs)

    counts = Counter(statuses(cloud).values())
    assert counts[S.FAILED] + counts[S.REJECTED] + counts[S.SUCCEEDED] == jobs

    def within(observed: int, p: float) -> bool:
        spread = 4 * math.sqrt(jobs * p * (1 - p))  # 4 sigma of a binomial count
        return abs(observed - jobs * p) <= spread

    assert within(counts[S.FAILED], 0.2), counts
    assert within(counts[S.REJECTED], 0.1), counts
    assert within(device.transport.drops, 0.25), device.transport.drops


@pytest.mark.parametrize(("workflow", "protocol"), WORKFLOWS)
def test_a_crash_mid_job_resumes_the_execution_after_the_last_step_reported(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    for job in ("job-1", "job-2", "job-3"):
        cloud.create_job(job, [THING])
    crashing = profile(
        workflow=workflow, crash_probability=1.0, crash_offline=Distribution.constant(20.0)
    )
    device = memory_device(cloud, THING, crashing, protocol=protocol, seed=3)
    device.agent.start()
    device.run_until(lambda: not pending(cloud), cycles=40)

    assert statuses(cloud) == {"job-1": S.SUCCEEDED, "job-2": S.SUCCEEDED, "job-3": S.SUCCEEDED}
    assert device.transport.drops == 3  # one crash per job, never two
    assert device.transport.connects == 4
    for job in ("job-1", "job-2", "job-3"):
        steps = [u.status_details for u in updates(device.transport.sent, job) if u.status_details]
        # Resumed after the step its statusDetails named: each step is reported exactly once.
        assert steps == [{"step": "download"}, {"step": "install"}]


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [MQTT, HTTPS])
@pytest.mark.parametrize("max_retries", [5, 0])
def test_throttling_by_the_service_quotas_is_survived(
    tmp_path: Path, protocol: str, max_retries: int
) -> None:
    quotas = dataclasses.replace(QuotaConfig.off(), jobs_reads=1.0, jobs_writes=1.0)
    cloud = MemoryCloud(tmp_path / "state", things=THINGS, quotas=quotas)
    try:
        for job in ("job-1", "job-2"):
            cloud.create_job(job, [THING])
        quick = profile(
            workflow=Workflow.DESCRIBE_NEXT,
            steps=tuple(Step(name=f"s{i}", duration=Distribution.constant(0.0)) for i in range(4)),
            max_retries=max_retries,
        )
        device = memory_device(cloud, THING, quick, protocol=protocol)
        device.agent.start()
        device.run_until(lambda: not pending(cloud), cycles=100)
    finally:
        cloud.close()

    assert set(statuses(cloud).values()) == {S.SUCCEEDED}
    throttled = [
        r
        for r in device.reports
        if isinstance(r.error, JobsRejected) and r.error.code is JobsErrorCode.REQUEST_THROTTLED
    ]
    assert throttled, "the quotas throttled nothing"
    assert all(r.error.reason == "RequestThrottled" for r in throttled if r.error)


@pytest.mark.parametrize(
    ("workflow", "protocol", "code"),
    [
        pytest.param(Workflow.NOTIFY_NEXT, MQTT, JobsErrorCode.VERSION_MISMATCH, id="mqtt"),
        # HTTPS answers a stale expectedVersion with 409 InvalidStateTransitionException.
        pytest.param(
            Workflow.DESCRIBE_NEXT, HTTPS, JobsErrorCode.INVALID_STATE_TRANSITION, id="https"
        ),
    ],
)
def test_a_version_mismatch_is_resolved_by_describing_the_execution(
    cloud: MemoryCloud, workflow: Workflow, protocol: str, code: JobsErrorCode
) -> None:
    cloud.create_job("job-1", [THING])
    start = cloud.now()

    def bump() -> None:  # someone else updates the execution during the install step
        bumped = UpdateRequest(job_id="job-1", status=S.IN_PROGRESS, status_details={"by": "x"})
        cloud.jobs.handle_request(THING, bumped)

    cloud.at(start + 2.0, bump)
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    rows = [r for r in device.reports if r.protocol == protocol]
    refused = [i for i, r in enumerate(rows) if isinstance(r.error, JobsRejected)]
    assert len(refused) == 1
    error = rows[refused[0]].error
    assert isinstance(error, JobsRejected)
    assert error.code is code
    assert rows[refused[0]].name == "update IN_PROGRESS"
    assert [r.name for r in rows[refused[0] + 1 :]] == [
        "describe",
        "update IN_PROGRESS",
        "update SUCCEEDED",
    ]


@pytest.mark.parametrize(("workflow", "protocol"), WORKFLOWS)
def test_a_job_canceled_mid_work_is_dropped_and_the_next_one_worked(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    cloud.create_job("job-1", [THING])
    cloud.create_job("job-2", [THING])
    cancel_at = cloud.now() + 2.0
    cloud.at(cancel_at, lambda: cloud.jobs.cancel_job("job-1", force=True))
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.agent.start()
    device.run_until(lambda: not pending(cloud), cycles=10)

    assert statuses(cloud) == {"job-1": S.CANCELED, "job-2": S.SUCCEEDED}
    job1 = updates(device.transport.sent, "job-1")
    # The one update after the cancel was refused; the device sent no other.
    assert [u.status_details for u in job1 if u.status_details] == [
        {"step": "download"},
        {"step": "install"},
    ]
    assert device.transport.drops == 0


@pytest.mark.parametrize("protocol", [MQTT, HTTPS])
def test_a_job_deleted_mid_work_is_dropped_without_a_final_row(
    cloud: MemoryCloud, protocol: str
) -> None:
    cloud.create_job("job-1", [THING])
    cloud.create_job("job-2", [THING])
    start = cloud.now()
    cloud.at(start + 2.0, lambda: cloud.jobs.delete_job("job-1", force=True))
    # A failed cycle would pause for up to 100 s: dropping the job is no failure.
    patient = profile(
        workflow=Workflow.DESCRIBE_NEXT, throttle_backoff=Backoff(base=100.0, cap=100.0)
    )
    device = memory_device(cloud, THING, patient, protocol=protocol)
    device.agent.start()
    device.run_until(lambda: not pending(cloud), cycles=10)
    assert cloud.now() - start == pytest.approx(3.0 + 3.0)  # job-1 to its drop, then job-2

    assert statuses(cloud) == {"job-2": S.SUCCEEDED}
    refused = [r.error for r in device.reports if isinstance(r.error, JobsRejected)]
    assert [e.code for e in refused] == [JobsErrorCode.RESOURCE_NOT_FOUND]
    finals = [r.context["job_id"] for r in device.reports if r.name.startswith("final ")]
    assert finals == ["job-2"]


def test_terminal_state_reached_drops_the_job_with_the_status_described(
    cloud: MemoryCloud,
) -> None:
    cloud.create_job("job-1", [THING])
    cloud.at(cloud.now() + 2.0, lambda: cloud.jobs.cancel_job("job-1", force=True))
    device = memory_device(cloud, THING, PROFILE)
    device.transport.inject(
        JobsErrorCode.TERMINAL_STATE_REACHED,
        when=lambda r: isinstance(r, UpdateRequest) and r.status_details == {"step": "install"},
    )
    device.agent.start()

    rows = [(r.name, r.error is None) for r in device.reports if r.protocol == MQTT][-2:]
    assert rows == [("update IN_PROGRESS", False), ("describe", True)]
    finals = [r.name for r in device.reports if r.name.startswith("final ")]
    assert finals == ["final CANCELED"]


def test_an_internal_error_is_retried_after_a_backoff(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, PROFILE)
    device.transport.inject(
        JobsErrorCode.INTERNAL_ERROR, when=lambda r: isinstance(r, StartNextRequest), times=2
    )
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    starts = [r.error is None for r in device.reports if r.name == "start-next"]
    assert starts == [False, False, True]


@pytest.mark.parametrize("protocol", [MQTT, HTTPS])
def test_a_lost_reply_to_the_final_update_is_not_applied_twice(
    cloud: MemoryCloud, protocol: str
) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(
        cloud, THING, profile(workflow=Workflow.DESCRIBE_NEXT), protocol=protocol
    )
    final = S.SUCCEEDED
    device.transport.inject(
        Fault.LOSE_REPLY, when=lambda r: isinstance(r, UpdateRequest) and r.status is final
    )
    device.agent.start()

    record = cloud.execution(THING, "job-1")
    assert record.status is S.SUCCEEDED
    assert record.version_number == 5  # applied once
    rows = [r for r in device.reports if r.protocol == protocol][-3:]
    assert [r.name for r in rows] == ["update SUCCEEDED", "update SUCCEEDED", "describe"]
    assert [type(r.error).__name__ for r in rows] == ["RequestTimedOut", "JobsRejected", "NoneType"]
    finals = [r for r in device.reports if r.name.startswith("final ")]
    assert [(r.name, r.error) for r in finals] == [("final SUCCEEDED", None)]


def test_a_lost_reply_to_a_progress_update_resends_it_at_the_current_version(
    cloud: MemoryCloud,
) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, PROFILE)
    device.transport.inject(
        Fault.LOSE_REPLY,
        when=lambda r: isinstance(r, UpdateRequest) and r.status_details is not None,
    )
    device.transport.inject(Fault.TIMEOUT, when=lambda r: isinstance(r, StartNextRequest))
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    versions = [
        (u.status_details, u.expected_version) for u in updates(device.transport.sent, "job-1")
    ]
    assert versions == [
        ({"step": "download"}, 2),  # applied, reply lost
        ({"step": "download"}, 2),  # VersionMismatch
        ({"step": "download"}, 3),  # after describing: the current version
        ({"step": "install"}, 4),
        (None, 5),
    ]


@pytest.mark.parametrize(("workflow", "protocol"), WORKFLOWS)
def test_a_lost_connection_is_reconnected_and_the_job_resumed(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.transport.inject(
        Fault.DROP, when=lambda r: isinstance(r, UpdateRequest) and r.status_details is not None
    )
    device.agent.start()  # the drop ends this cycle
    assert not device.transport.connected
    assert cloud.execution(THING, "job-1").status is S.IN_PROGRESS
    device.run_until(lambda: not pending(cloud), cycles=5)

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    assert device.transport.connects == 2
    lost = [r for r in device.reports if r.error is not None]
    assert [(r.name, r.error.reason) for r in lost if r.error] == [
        ("update IN_PROGRESS", "connection lost")
    ]


def test_start_retries_the_connect_with_backoff(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, PROFILE)
    device.transport.connect_failures = 3
    before = cloud.now()
    device.agent.start()

    assert device.transport.connects == 1
    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    connects = [r for r in device.reports if r.name == "connect"]
    assert [r.error is None for r in connects] == [False, False, False, True]
    # Three backoffs of at most 1, 2 and 4 s (reconnect_backoff), plus the job's 3 s.
    assert cloud.now() - before <= 1 + 2 + 4 + 3


def test_a_device_that_cannot_connect_keeps_trying_without_raising(cloud: MemoryCloud) -> None:
    device = memory_device(cloud, THING, PROFILE)
    device.transport.connect_failures = 1000
    device.agent.start()  # gives up after max_retries: run_once goes on trying
    assert device.transport.connects == 0
    for _ in range(30):
        before = cloud.now()
        device.agent.run_once()
        assert cloud.now() - before <= PROFILE.idle_wait + 1e-9
    attempts = [r for r in device.reports if r.name == "connect"]
    assert 1000 - device.transport.connect_failures == len(attempts) < 6 + 30

    device.transport.connect_failures = 0
    cloud.create_job("job-1", [THING])
    device.run_until(lambda: not pending(cloud), cycles=10)


@pytest.mark.parametrize(("workflow", "protocol"), WORKFLOWS)
def test_an_idle_cycle_waits_at_most_idle_wait(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.agent.start()
    for _ in range(10):
        before, sent = cloud.now(), len(device.transport.sent)
        device.agent.run_once()
        assert 0 < cloud.now() - before <= PROFILE.idle_wait
        assert len(device.transport.sent) - sent <= 1
    if device.agent.workflow is Workflow.NOTIFY_NEXT:
        assert len(device.transport.sent) == 1  # the look at start; then it only waits


def test_requests_that_always_fail_never_raise_or_spin(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, profile(workflow=Workflow.START_NEXT_POLL))
    device.transport.inject(Fault.DROP, when=lambda r: True, times=10**6)
    device.agent.start()
    before = cloud.now()
    for _ in range(50):
        device.agent.run_once()
    assert len([r for r in device.reports if r.error is not None]) <= 51
    # The backoff grew: 50 cycles took far longer than 50 of its first draws could.
    assert cloud.now() - before > 50 * PROFILE.reconnect_backoff.base


def agent_on(
    cloud: MemoryCloud, transport: MemoryTransport, reports: list[RequestReport]
) -> DeviceAgent:
    return DeviceAgent(
        transport,
        profile(workflow=Workflow.START_NEXT_POLL),
        rng=random.Random(1),
        sleep=cloud.sleep,
        wall_clock=cloud.now,
        monotonic=cloud.now,
        report=reports.append,
    )


def test_an_unexpected_refusal_pauses_the_device_before_it_looks_again(
    cloud: MemoryCloud,
) -> None:
    class Refusing(MemoryTransport):
        def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
            self.sent.append(request)
            raise JobsRejected(JobsErrorCode.INVALID_REQUEST, "no")

    reports: list[RequestReport] = []
    transport = Refusing(cloud, THING, reports.append)
    agent = agent_on(cloud, transport, reports)
    agent.start()
    before = cloud.now()
    for _ in range(20):
        agent.run_once()
    assert len(transport.sent) == 21  # one try per cycle, none retried at once
    # Each failed cycle backs off (throttle_backoff: 0.5 s doubling up to 4 s, full jitter).
    assert cloud.now() - before >= 20


def test_a_programming_error_is_raised(cloud: MemoryCloud) -> None:
    class Broken(MemoryTransport):
        def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
            raise RuntimeError("bug")

    reports: list[RequestReport] = []
    agent = agent_on(cloud, Broken(cloud, THING, reports.append), reports)
    with pytest.raises(RuntimeError, match="bug"):
        agent.start()


def test_offline_periods_leave_cleanly_and_find_work_queued_meanwhile(
    cloud: MemoryCloud,
) -> None:
    away = profile(offline_probability=1.0, offline_duration=Distribution.constant(20.0))
    device = memory_device(cloud, THING, away)
    start = cloud.now()
    device.agent.start()  # nothing to do: goes offline for 20 s
    assert not device.transport.connected
    assert device.transport.disconnects == 1
    cloud.at(start + 10, lambda: cloud.create_job("job-1", [THING]))
    device.run_until(lambda: device.transport.connected, cycles=5)
    # Back online after 20 s, it looked for work at once and found the job queued meanwhile.
    assert device.transport.connects == 2
    record = cloud.execution(THING, "job-1")
    assert record.status is S.SUCCEEDED
    assert record.started_at == int(start + 20)


def test_stop_disconnects_cleanly(cloud: MemoryCloud) -> None:
    device = memory_device(cloud, THING, PROFILE)
    device.agent.start()
    device.agent.stop()
    assert not device.transport.connected
    assert names(device.reports, MQTT)[-1] == "disconnect"
    assert device.transport.drops == 0
