"""Builders and an in-memory service for the Jobs core tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from simfleet.jobs import ExecutionRecord, ExecutionStatus, JobsTopic, parse_jobs_topic
from simfleet.jobs.execution import queue
from simfleet.jobs.notifications import pending_notifications
from simfleet.jobs.responses import encode_message
from simfleet.jobs.service import answer_mqtt

DATA = Path(__file__).parent / "data"
THING = "Thing-1"


def golden(name: str) -> bytes:
    return (DATA / name).read_bytes()


def as_json(payload: bytes) -> Any:
    return json.loads(payload)


def record(
    job_id: str = "Job1",
    *,
    queued_at: int = 100,
    status: ExecutionStatus = ExecutionStatus.QUEUED,
    thing_name: str = THING,
    **changes: Any,
) -> ExecutionRecord:
    """A record as `queue` makes it, then with `status` and any other field changed."""
    queued = queue(thing_name=thing_name, job_id=job_id, job_document={"op": job_id}, now=queued_at)
    return dataclasses.replace(queued, status=status, **changes)


def jobs_topic(topic: str) -> JobsTopic:
    parsed = parse_jobs_topic(topic)
    assert isinstance(parsed, JobsTopic), topic
    return parsed


class InMemoryService:
    """The service functions over one list of records, driven the way the emulator drives them:
    answer the publish, store the changed record, then publish the notifications."""

    def __init__(self, now: int = 1_000) -> None:
        self.now = now
        self.records: list[ExecutionRecord] = []

    def _store(self, changed: ExecutionRecord) -> None:
        self.records = [r for r in self.records if r.key != changed.key] + [changed]

    def _notifications(self, before: list[ExecutionRecord], thing: str) -> list[tuple[str, bytes]]:
        notes = pending_notifications(before, self.records, self.now)
        out = []
        if notes.notify is not None:
            out.append((f"$aws/things/{thing}/jobs/notify", encode_message(notes.notify)))
        if notes.notify_next is not None:
            out.append((f"$aws/things/{thing}/jobs/notify-next", encode_message(notes.notify_next)))
        return out

    def add(self, new: ExecutionRecord) -> list[tuple[str, bytes]]:
        """Queue (or change) a record from the control plane; returns the notifications."""
        before = list(self.records)
        self._store(new)
        return self._notifications(before, new.thing_name)

    def publish(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """A device publishes; returns the reply, then the notifications, as (topic, payload)."""
        parsed = parse_jobs_topic(topic)
        assert parsed is not None, topic
        before = list(self.records)
        mine = [r for r in self.records if r.thing_name == parsed.thing_name]
        reply = answer_mqtt(parsed, payload, mine, self.now)
        if reply.changed is not None:
            self._store(reply.changed)
        return [(reply.topic, reply.payload), *self._notifications(before, parsed.thing_name)]
