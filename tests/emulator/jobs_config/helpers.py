"""The emulator's state over one directory (tests/emulator/state/helpers.py), plus what the
job-configuration tests read: executions by status, notifications per thing, time driven the
way the app drives it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.records import Thing, ThingGroup
from simfleet.emulator.store import Store
from simfleet.emulator.thing_groups import new_id
from tests.emulator.state.helpers import DOCUMENT, REGION, State, arn, open_state, reply

__all__ = ["DOCUMENT", "REGION", "State", "arn", "open_state", "reply"]


def create_job(state: State, job_id: str, targets: list[str], **config: Any) -> None:
    """CreateJob through the control plane; `targets` are thing names, or `group:NAME`."""
    arns = [
        arn("thinggroup", t.removeprefix("group:")) if t.startswith("group:") else arn("thing", t)
        for t in targets
    ]
    state.control.create_job(jobId=job_id, targets=arns, document=DOCUMENT, **config)


def job(state: State, job_id: str) -> dict[str, Any]:
    described: dict[str, Any] = state.control.describe_job(jobId=job_id)["job"]
    return described


def status(state: State, job_id: str, thing: str, number: int | None = None) -> str:
    extra = {} if number is None else {"executionNumber": number}
    found = state.control.describe_job_execution(jobId=job_id, thingName=thing, **extra)
    value: str = found["execution"]["status"]
    return value


def statuses(state: State, job_id: str) -> Counter[str]:
    """The job's executions (every execution number) by status."""
    return Counter(r.status.value for r in state.jobs.executions_for_job(job_id))


def queued_at(state: State, job_id: str) -> list[int]:
    """When each execution of the job was queued, in order."""
    return sorted(r.queued_at for r in state.jobs.executions_for_job(job_id))


def advance_to(state: State, when: float) -> None:
    """Move the clock to `when` (epoch seconds) and tick, as the app's timer does."""
    state.clock.advance(when - state.clock.now())
    state.jobs.tick()


def run_until(state: State, until: float) -> int:
    """Drive the service at `next_deadline()` up to `until`; return the number of ticks."""
    ticks = 0
    while (due := state.jobs.next_deadline()) is not None and due <= until:
        advance_to(state, max(due, state.clock.now()))
        ticks += 1
    if state.clock.now() < until:
        advance_to(state, until)
    return ticks


def device(state: State, thing: str, level: str, payload: dict[str, Any] | None = None) -> str:
    """A device's MQTT request; the reply's last level (accepted / rejected)."""
    outcome, _ = reply(state.mqtt(thing, level, payload))
    return outcome


def notifications(state: State, thing: str) -> list[tuple[str, dict[str, Any]]]:
    """The (notify | notify-next, payload) messages published to `thing`, in order."""
    prefix = f"$aws/things/{thing}/jobs/"
    return [
        (topic.removeprefix(prefix), json.loads(payload))
        for topic, payload in state.published
        if topic.startswith(prefix)
    ]


def bulk_group(state_dir: Path, group: str, count: int, *, start: float) -> list[str]:
    """`count` things in a new thing group, written straight to the store (one transaction:
    the control plane's one write per call would dominate a 10,000-thing test)."""
    names = [f"bulk-{i:05d}" for i in range(count)]
    store = Store.open(state_dir)
    with store.transaction():
        store.put_things(Thing(name=n, thing_id=new_id()) for n in names)
        store.put_thing_group(ThingGroup(name=group, group_id=new_id(), created_at=start))
        store.add_memberships((group, n) for n in names)
    store.close()
    return names


def fresh_clock() -> ManualClock:
    return ManualClock(start=1_750_000_020.0)  # a whole minute plus 20 s: minutes are not aligned
