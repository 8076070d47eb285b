"""The emulator's state parts wired together over one state directory, as app.py will."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import parse_jobs_topic
from simfleet.jobs.service import MqttReply

REGION = "eu-west-1"
ACCOUNT = "111122223333"
DOCUMENT = json.dumps({"operation": "reboot", "delaySeconds": 5})


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"


@dataclass
class State:
    store: Store
    registry: Registry
    jobs: JobsService
    control: ControlPlane
    clock: ManualClock
    published: list[tuple[str, bytes]] = field(default_factory=list)

    def mqtt(self, thing: str, level: str, payload: dict[str, Any] | None = None) -> MqttReply:
        """A device's publish on `$aws/things/{thing}/jobs/{level}`."""
        topic = parse_jobs_topic(f"$aws/things/{thing}/jobs/{level}")
        assert topic is not None
        return self.jobs.handle_mqtt(topic, json.dumps(payload or {}).encode())

    def sent(self, thing: str, level: str) -> list[dict[str, Any]]:
        """The payloads published so far on `$aws/things/{thing}/jobs/{level}`."""
        wanted = f"$aws/things/{thing}/jobs/{level}"
        return [json.loads(payload) for topic, payload in self.published if topic == wanted]


def open_state(state_dir: Path, clock: ManualClock | None = None) -> State:
    clock = clock or ManualClock()
    store = Store.open(state_dir)
    registry = Registry(store, clock=clock)
    published: list[tuple[str, bytes]] = []
    jobs = JobsService(
        store, registry, clock, lambda topic, payload: published.append((topic, payload))
    )
    control = ControlPlane(registry, jobs, region=REGION, account_id=ACCOUNT, clock=clock)
    return State(
        store=store,
        registry=registry,
        jobs=jobs,
        control=control,
        clock=clock,
        published=published,
    )


def reply(result: MqttReply) -> tuple[str, dict[str, Any]]:
    """The last level of a reply topic (accepted / rejected) and its decoded payload."""
    decoded: dict[str, Any] = json.loads(result.payload)
    return result.topic.rsplit("/", 1)[1], decoded
