"""Rollouts through the Jobs service (spec §3): executions are queued and their things notified
at the configured rate, observed per emulated second and minute, with time driven as the app
drives it (`next_deadline()` then `tick()`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.emulator.jobs_config.conftest import Restart
from tests.emulator.jobs_config.helpers import (
    State,
    advance_to,
    bulk_group,
    create_job,
    device,
    fresh_clock,
    job,
    notifications,
    open_state,
    queued_at,
    run_until,
)

BulkState = Callable[[int], tuple[State, list[str]]]


@pytest.fixture
def bulk(state_dir: Path, opened: list[State]) -> BulkState:
    """A state whose thing group "bulk" holds `count` things."""

    def make(count: int) -> tuple[State, list[str]]:
        clock = fresh_clock()
        names = bulk_group(state_dir, "bulk", count, start=clock.now())
        state = open_state(state_dir, clock)
        opened.append(state)
        return state, names

    return make


def _per_second(state: State, job_id: str, start: int) -> list[int]:
    counts = Counter(t - start for t in queued_at(state, job_id))
    return [counts[s] for s in range(max(counts) + 1)]


def _per_minute(state: State, job_id: str, start: int) -> list[int]:
    counts = Counter((t - start) // 60 for t in queued_at(state, job_id))
    return [counts[m] for m in range(max(counts) + 1)]


def test_maximum_per_minute_is_the_rate_observed_each_minute(bulk: BulkState) -> None:
    state, names = bulk(250)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 100})
    # Spread over the seconds of each minute: ceil(100 * (s + 1) / 60) by the s-th second.
    assert len(queued_at(state, "job-1")) == 2
    run_until(state, start + 30)
    notified = [n for n in names if notifications(state, n)]
    assert len(notified) == 52 == len(queued_at(state, "job-1"))
    # Every notified thing got one notify and one notify-next, the others nothing.
    assert all([level for level, _ in notifications(state, n)] == ["notify", "notify-next"]
               for n in notified)  # fmt: skip

    run_until(state, start + 3600)
    assert _per_minute(state, "job-1", start) == [100, 100, 50]
    assert max(_per_second(state, "job-1", start)) == 2
    assert max(queued_at(state, "job-1")) == start + 149
    details = job(state, "job-1")["jobProcessDetails"]
    assert details["numberOfQueuedThings"] == 250
    assert job(state, "job-1")["status"] == "IN_PROGRESS"
    assert state.jobs.next_deadline() is None


def test_exponential_rate_grows_with_notified_things(bulk: BulkState) -> None:
    state, _ = bulk(300)
    start = int(state.clock.now())
    rollout = {
        "exponentialRate": {
            "baseRatePerMinute": 60,
            "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 60},
        }
    }
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig=rollout)
    run_until(state, start + 600)
    seconds = _per_second(state, "job-1", start)
    # 60/min until 60 notified, 120/min until 120, 240/min until 180, then 480/min ...
    assert seconds[:105] == [1] * 60 + [2] * 30 + [4] * 15
    assert max(seconds[105:113]) == 8
    assert max(seconds) == 16
    assert _per_minute(state, "job-1", start)[0] == 60
    assert sum(seconds) == 300
    assert job(state, "job-1")["jobExecutionsRolloutConfig"] == rollout


def test_exponential_rate_grows_with_succeeded_things(bulk: BulkState) -> None:
    state, names = bulk(200)
    start = int(state.clock.now())
    rollout = {
        "maximumPerMinute": 240,
        "exponentialRate": {
            "baseRatePerMinute": 60,
            "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 3},
        },
    }
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig=rollout)
    for second in range(1, 10):
        advance_to(state, start + second)
    # Three executions succeed at the tenth second: 120/min from the next one on.
    for name in names[:3]:
        assert device(state, name, "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    for second in range(10, 20):
        advance_to(state, start + second)
    for name in names[3:6]:
        assert device(state, name, "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    for second in range(20, 30):
        advance_to(state, start + second)
    # Stage 4 would run at 960/min: maximumPerMinute holds it at 240.
    for name in names[6:12]:
        assert device(state, name, "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    for second in range(30, 35):
        advance_to(state, start + second)
    assert _per_second(state, "job-1", start) == [1] * 10 + [2] * 10 + [4] * 15


def test_a_10000_thing_rollout_at_1000_per_minute_takes_10_minutes(bulk: BulkState) -> None:
    state, _ = bulk(10_000)
    start = int(state.clock.now())
    cpu = time.process_time()
    create_job(
        state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 1000}
    )
    ticks = run_until(state, start + 3600)
    cpu = time.process_time() - cpu
    assert _per_minute(state, "job-1", start) == [1000] * 10
    assert max(queued_at(state, "job-1")) == start + 599  # the last second of minute 10
    assert max(_per_second(state, "job-1", start)) == 17
    assert ticks == 599  # one per emulated second after CreateJob's own, none after
    assert job(state, "job-1")["jobProcessDetails"]["numberOfQueuedThings"] == 10_000
    # Emulated time costs nothing: 10 minutes of rollout run in a few CPU seconds.
    assert cpu < 30


def test_cancel_stops_a_rollout(bulk: BulkState) -> None:
    state, names = bulk(100)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    run_until(state, start + 9)
    state.control.cancel_job(jobId="job-1")
    run_until(state, start + 3600)
    assert len(queued_at(state, "job-1")) == 10
    described = job(state, "job-1")
    assert described["status"] == "CANCELED"
    assert described["jobProcessDetails"]["numberOfCanceledThings"] == 10
    assert state.jobs.next_deadline() is None
    assert notifications(state, names[50]) == []
    assert state.store.rollouts() == {}


def test_a_snapshot_job_completes_only_when_the_rollout_is_over(bulk: BulkState) -> None:
    state, names = bulk(3)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    # The first thing finishes at once; two more are still to be notified.
    assert device(state, names[0], "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    assert job(state, "job-1")["status"] == "IN_PROGRESS"
    run_until(state, start + 60)
    assert device(state, names[1], "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    run_until(state, start + 120)
    assert job(state, "job-1")["status"] == "IN_PROGRESS"
    assert device(state, names[2], "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    described = job(state, "job-1")
    assert (described["status"], described["completedAt"].timestamp()) == ("COMPLETED", start + 120)


def test_a_restart_mid_rollout_carries_on(bulk: BulkState, restart: Restart) -> None:
    state, _ = bulk(300)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 120})
    run_until(state, start + 70)
    before = queued_at(state, "job-1")
    state = restart(state)
    assert queued_at(state, "job-1") == before
    run_until(state, start + 3600)
    # As if nothing had happened: 2 per second, each thing once, 150 s in all.
    assert _per_second(state, "job-1", start) == [2] * 150
    assert len({r.thing_name for r in state.jobs.executions_for_job("job-1")}) == 300
    assert state.store.rollouts() == {}


def test_a_restart_after_downtime_resumes_at_the_rate(bulk: BulkState, restart: Restart) -> None:
    state, _ = bulk(100)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    run_until(state, start + 9)
    state.clock.advance(1000)  # the emulator was down for a while
    state = restart(state)
    state.jobs.tick()
    # No burst of the missed minutes: one per second from the restart on.
    assert len(queued_at(state, "job-1")) == 11
    run_until(state, start + 1009 + 30)
    assert len(queued_at(state, "job-1")) == 41


def test_the_rollout_is_in_the_store_until_it_is_over(bulk: BulkState) -> None:
    state, names = bulk(5)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    stored = state.store.rollouts()["job-1"]
    assert stored.released == 1
    assert state.store.rollout_things("job-1", 1) == names[1:]
    run_until(state, start + 10)
    assert state.store.rollouts() == {}
    assert state.store.rollout_things("job-1", 0) == []


def test_a_success_brings_a_slow_rollout_forward(bulk: BulkState) -> None:
    state, names = bulk(10)
    start = int(state.clock.now())
    rollout = {
        "exponentialRate": {
            "baseRatePerMinute": 1,
            "incrementFactor": 5,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
        }
    }
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig=rollout)
    assert state.jobs.next_deadline() == start + 60  # 1 per minute
    advance_to(state, start + 1)
    assert device(state, names[0], "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    # 5 per minute from the next second, on top of the 2/60 of a thing accrued by then.
    assert state.jobs.next_deadline() == start + 2 + (60 - 2) // 5
    run_until(state, start + 20)
    assert queued_at(state, "job-1") == [start, start + 13]


def test_delete_job_ends_its_rollout(bulk: BulkState, restart: Restart) -> None:
    state, names = bulk(100)
    start = int(state.clock.now())
    create_job(state, "job-1", ["group:bulk"], jobExecutionsRolloutConfig={"maximumPerMinute": 60})
    run_until(state, start + 4)
    state.control.delete_job(jobId="job-1", force=True)
    assert state.jobs.next_deadline() is None
    assert state.store.rollouts() == {}
    assert state.store.rollout_things("job-1", 0) == []
    state = restart(state)
    run_until(state, start + 3600)
    assert [t for t in names if notifications(state, t)] == []  # nothing since the restart
    assert list(state.jobs.jobs()) == []
