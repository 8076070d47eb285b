"""The service's answer to one MQTT publish in the Jobs namespace, from topic and payload to
reply topic and message (spec §1.1, §1.4). The emulator parses the topic, loads that thing's
records, calls `answer_mqtt`, stores `changed`, publishes the reply to the requesting client
only, then publishes what `pending_notifications` returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from simfleet.jobs.errors import JobsError, JobsErrorCode
from simfleet.jobs.execution import ExecutionRecord, handle
from simfleet.jobs.requests import decode_request
from simfleet.jobs.responses import JobsResponse, Rejected, encode_message
from simfleet.jobs.topics import JobsTopic, Reply, UnknownJobsTopic


@dataclass(frozen=True, kw_only=True)
class MqttReply:
    """A reply to publish on `topic`, and the record the request changed (None if none)."""

    topic: str
    message: JobsResponse
    changed: ExecutionRecord | None = None

    @property
    def payload(self) -> bytes:
        return encode_message(self.message)


def answer_mqtt(
    topic: JobsTopic | UnknownJobsTopic,
    payload: bytes,
    executions: Iterable[ExecutionRecord],
    now: int,
) -> MqttReply:
    """Answer a publish to `topic` (from `parse_jobs_topic`) over the thing's `executions`."""
    if isinstance(topic, UnknownJobsTopic) or not topic.is_request:
        # A reply or notification topic is no API a device can call either. [U] Where AWS
        # answers InvalidTopic is undocumented; spec §1.4 assumes `<topic>/rejected`.
        error = JobsError(JobsErrorCode.INVALID_TOPIC, f"Unrecognized topic {topic.topic}")
        return MqttReply(
            topic=f"{topic.topic}/rejected", message=Rejected.from_error(error, timestamp=now)
        )
    try:
        request = decode_request(topic, payload)
    except JobsError as error:  # carries the token when it was readable
        return _rejected(topic, error, now)
    try:
        outcome = handle(executions, request, now)
    except JobsError as error:  # ResourceNotFound, VersionMismatch, …: echo the token too
        error.client_token = request.client_token
        return _rejected(topic, error, now)
    return MqttReply(
        topic=topic.with_reply(Reply.ACCEPTED).topic,
        message=outcome.response,
        changed=outcome.changed,
    )


def _rejected(topic: JobsTopic, error: JobsError, now: int) -> MqttReply:
    return MqttReply(
        topic=topic.with_reply(Reply.REJECTED).topic,
        message=Rejected.from_error(error, timestamp=now),
    )
