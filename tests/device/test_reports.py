"""The job-level rows (protocol JOB) a DeviceAgent reports: their names, their durations from the
service's whole-second queuedAt / startedAt and the device's clocks, and which endings count as
failures. Time is a ManualClock starting a quarter second past a whole second, so that a row
timed from the wrong clock shows."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from simfleet.device.distribution import Distribution
from simfleet.device.errors import DeviceError
from simfleet.device.presets import PRESETS
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.device.reports import (
    HTTPS,
    IN_PROGRESS_TO_TERMINAL,
    JOB,
    MQTT,
    QUEUED_TO_IN_PROGRESS,
    QUEUED_TO_NOTIFIED,
    QUEUED_TO_TERMINAL,
    RequestReport,
)
from simfleet.emulator.clock import ManualClock
from simfleet.jobs import ExecutionStatus
from tests.device.memory_transport import MemoryCloud, memory_device

THING = "dev-0"
START = 1_750_000_000.25
S = ExecutionStatus

PROFILE = BehaviourProfile(
    name="timed",
    steps=(
        Step(name="download", duration=Distribution.constant(1.0)),
        Step(name="install", duration=Distribution.constant(2.0)),
    ),
    idle_wait=5.0,
    poll_interval=Distribution.constant(3.0),
)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[MemoryCloud]:
    made = MemoryCloud(tmp_path / "state", things=[THING, "dev-1"], clock=ManualClock(START))
    yield made
    made.close()


def profile(**changes: object) -> BehaviourProfile:
    return dataclasses.replace(PROFILE, **changes)  # type: ignore[arg-type]


def rows(reports: list[RequestReport]) -> dict[str, float]:
    """JOB rows by name, in ms; each name at most once (one job)."""
    found = [r for r in reports if r.protocol == JOB]
    assert len({r.name for r in found}) == len(found), [r.name for r in found]
    return {r.name: r.duration_ms for r in found}


def test_rows_of_a_job_found_at_start(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])  # queuedAt: the whole second, 0.25 s ago
    cloud.sleep(0.5)
    device = memory_device(cloud, THING, PROFILE)
    device.agent.start()

    assert rows(device.reports) == {
        QUEUED_TO_IN_PROGRESS: pytest.approx(750.0),
        IN_PROGRESS_TO_TERMINAL: pytest.approx(3000.0),  # the two steps, on the monotonic clock
        QUEUED_TO_TERMINAL: pytest.approx(3750.0),
        "final SUCCEEDED": pytest.approx(3750.0),
    }
    job_rows = [r for r in device.reports if r.protocol == JOB]
    assert all(r.error is None for r in job_rows)
    assert all(r.context == {"thing_name": THING, "job_id": "job-1"} for r in job_rows)


def test_rows_of_a_job_notified_while_waiting(cloud: MemoryCloud) -> None:
    device = memory_device(cloud, THING, PROFILE)
    device.agent.start()
    cloud.at(START + 2, lambda: cloud.create_job("job-1", [THING]))
    device.agent.run_once()  # waits 5 s for a notification, then works the job

    queued_at = int(START + 2)
    assert rows(device.reports) == {
        QUEUED_TO_NOTIFIED: pytest.approx((START + 5 - queued_at) * 1000),
        QUEUED_TO_IN_PROGRESS: pytest.approx((START + 5 - queued_at) * 1000),
        IN_PROGRESS_TO_TERMINAL: pytest.approx(3000.0),
        QUEUED_TO_TERMINAL: pytest.approx((START + 8 - queued_at) * 1000),
        "final SUCCEEDED": pytest.approx((START + 8 - queued_at) * 1000),
    }


@pytest.mark.parametrize(
    ("workflow", "protocol"),
    [
        pytest.param(Workflow.DESCRIBE_NEXT, MQTT, id="describe-next"),
        pytest.param(Workflow.START_NEXT_POLL, HTTPS, id="start-next-poll"),
    ],
)
def test_pollers_report_no_notified_row(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    device = memory_device(cloud, THING, profile(workflow=workflow), protocol=protocol)
    device.agent.start()
    cloud.create_job("job-1", [THING])
    device.run_until(lambda: cloud.execution(THING, "job-1").status is S.SUCCEEDED, cycles=5)

    assert set(rows(device.reports)) == {
        QUEUED_TO_IN_PROGRESS,
        IN_PROGRESS_TO_TERMINAL,
        QUEUED_TO_TERMINAL,
        "final SUCCEEDED",
    }


@pytest.mark.parametrize(
    ("changes", "final"),
    [
        pytest.param({"failed_probability": 1.0}, "final FAILED", id="failed"),
        pytest.param({"rejected_probability": 1.0}, "final REJECTED", id="rejected"),
    ],
)
def test_outcomes_the_device_drew_are_not_failures(
    cloud: MemoryCloud, changes: dict[str, object], final: str
) -> None:
    cloud.create_job("job-1", [THING])
    device = memory_device(cloud, THING, profile(**changes))
    device.agent.start()

    finals = [r for r in device.reports if r.name.startswith("final ")]
    assert [(r.name, r.error) for r in finals] == [(final, None)]
    assert QUEUED_TO_TERMINAL in rows(device.reports)


@pytest.mark.parametrize("expected", [False, True])
def test_a_cancel_is_a_failure_unless_the_profile_expects_it(
    cloud: MemoryCloud, expected: bool
) -> None:
    cloud.create_job("job-1", [THING])
    cloud.at(START + 2, lambda: cloud.jobs.cancel_job("job-1", force=True))
    endings = frozenset({S.CANCELED}) if expected else frozenset()
    device = memory_device(cloud, THING, profile(expected_endings=endings))
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.CANCELED
    found = [r for r in device.reports if r.protocol == JOB]
    # The service ended it: no `… to terminal` rows, one `final CANCELED` (queued to the end).
    assert [r.name for r in found] == [QUEUED_TO_IN_PROGRESS, "final CANCELED"]
    final = found[-1]
    assert final.duration_ms == pytest.approx((START + 3 - int(START)) * 1000)
    if expected:
        assert final.error is None
    else:
        assert isinstance(final.error, DeviceError)
        assert final.error.reason == "CANCELED by the service"


def test_a_step_timeout_is_reported_as_final_timed_out(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    slow = profile(
        step_timeout_minutes=1,
        steps=(Step(name="download", duration=Distribution.constant(90.0)),),
    )
    device = memory_device(cloud, THING, slow)
    device.agent.start()

    assert cloud.execution(THING, "job-1").status is S.TIMED_OUT
    finals = [r for r in device.reports if r.name.startswith("final ")]
    assert [r.name for r in finals] == ["final TIMED_OUT"]
    assert isinstance(finals[0].error, DeviceError)
    assert finals[0].error.reason == "TIMED_OUT by the service"


def test_a_crashed_agent_times_in_progress_on_its_monotonic_clock(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    crashing = profile(crash_probability=1.0, crash_offline=Distribution.constant(20.0))
    device = memory_device(cloud, THING, crashing, seed=5)
    device.agent.start()
    device.run_until(lambda: cloud.execution(THING, "job-1").status is S.SUCCEEDED, cycles=10)

    found = rows(device.reports)
    assert set(found) == {
        QUEUED_TO_IN_PROGRESS,
        IN_PROGRESS_TO_TERMINAL,
        QUEUED_TO_TERMINAL,
        "final SUCCEEDED",
    }
    # The same clock from the start it saw: in progress = queued to terminal - queued to start,
    # the time away included.
    in_progress = found[QUEUED_TO_TERMINAL] - found[QUEUED_TO_IN_PROGRESS]
    assert found[IN_PROGRESS_TO_TERMINAL] == pytest.approx(in_progress)
    assert in_progress > 20_000


def test_a_new_agent_resuming_an_execution_times_it_from_started_at(cloud: MemoryCloud) -> None:
    cloud.create_job("job-1", [THING])
    gone = profile(crash_probability=1.0, crash_offline=Distribution.constant(1e6))
    first = memory_device(cloud, THING, gone, seed=5)
    first.agent.start()  # starts the job, crashes, never comes back
    record = cloud.execution(THING, "job-1")
    assert record.status is S.IN_PROGRESS
    assert record.started_at is not None
    cloud.sleep(10.0)

    second = memory_device(cloud, THING, PROFILE)  # a Locust user restarted on the thing
    second.agent.start()
    end = cloud.now()

    assert cloud.execution(THING, "job-1").status is S.SUCCEEDED
    assert rows(second.reports) == {
        IN_PROGRESS_TO_TERMINAL: pytest.approx((end - record.started_at) * 1000),
        QUEUED_TO_TERMINAL: pytest.approx((end - record.queued_at) * 1000),
        "final SUCCEEDED": pytest.approx((end - record.queued_at) * 1000),
    }


JOB_ROWS = {
    QUEUED_TO_NOTIFIED,
    QUEUED_TO_IN_PROGRESS,
    IN_PROGRESS_TO_TERMINAL,
    QUEUED_TO_TERMINAL,
    *(f"final {status.value}" for status in S),
}


@pytest.mark.parametrize(
    ("workflow", "protocol"),
    [
        pytest.param(Workflow.NOTIFY_NEXT, MQTT, id="notify-next"),
        pytest.param(Workflow.DESCRIBE_NEXT, HTTPS, id="describe-next"),
        pytest.param(Workflow.START_NEXT_POLL, HTTPS, id="start-next-poll"),
    ],
)
def test_a_flaky_fleet_reports_one_final_row_per_execution(
    cloud: MemoryCloud, workflow: Workflow, protocol: str
) -> None:
    flaky = dataclasses.replace(PRESETS["flaky"], workflow=workflow, failed_probability=0.2)
    devices = [
        memory_device(cloud, thing, flaky, protocol=protocol, seed=index)
        for index, thing in enumerate([THING, "dev-1"])
    ]
    for index in range(12):
        cloud.create_job(f"job-{index}", [THING, "dev-1"])
    for device in devices:
        device.agent.start()
    for _ in range(300):
        if not any(r.status.is_pending for t in (THING, "dev-1") for r in cloud.executions(t)):
            break
        for device in devices:
            device.agent.run_once()

    for device in devices:
        thing = device.transport.thing_name
        job_rows = device.rows(JOB)
        assert {r.name for r in job_rows} <= JOB_ROWS
        assert all(r.duration_ms >= 0 for r in job_rows)
        assert all(r.context["thing_name"] == thing for r in job_rows)
        finals = Counter(
            (r.context["job_id"], r.name) for r in job_rows if r.name.startswith("final ")
        )
        ended = Counter(
            (record.job_id, f"final {record.status.value}") for record in cloud.executions(thing)
        )
        assert finals == ended  # every execution ended, each reported once, as it ended
        assert device.transport.drops > 0  # the profile crashed some jobs
