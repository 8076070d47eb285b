"""Counts the MQTT Jobs requests the broker hands to the Jobs service, by operation and
outcome (issue #4, item 5), without touching either: the app installs it between the two.

    counting = CountingJobsHandler(jobs_service, RequestCounters())
    broker = Broker(jobs=counting, ...)
    counting.counters.count("UpdateJobExecution", "VersionMismatch")

Keys are those the HTTPS APIs use (`RequestCounters`), so that /metrics lists the three
protocols alike: the operation is AWS's name for the API the topic calls
("GetPendingJobExecutions", ...) or "(unrouted)" for a topic that calls none (answered
InvalidTopic, spec §1.4); the outcome is "ok" for an `accepted` reply, else the `code` of the
`rejected` one ("RequestThrottled", "ResourceNotFound", ...).

A publish the broker refuses by policy never reaches the handler, so it is counted as a
policy denial (`BrokerCounters.denials`), not here. An exception from the service is not
counted either: it answers nothing, and the broker counts it as an internal error.
"""

from __future__ import annotations

from simfleet.emulator.broker.ports import JobsHandler
from simfleet.emulator.http.counters import OK, UNROUTED, RequestCounters
from simfleet.jobs import JobsTopic, MqttReply, Rejected, UnknownJobsTopic


class CountingJobsHandler:
    """A `JobsHandler` that counts each answer of `inner`."""

    def __init__(self, inner: JobsHandler, counters: RequestCounters) -> None:
        self._inner = inner
        self._counters = counters

    @property
    def counters(self) -> RequestCounters:
        return self._counters

    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        reply = self._inner.handle_mqtt(topic, payload)
        if isinstance(topic, JobsTopic) and topic.is_request:
            operation = topic.operation.value
        else:
            operation = UNROUTED
        message = reply.message
        outcome = message.code.value if isinstance(message, Rejected) else OK
        self._counters.record(operation, outcome)
        return reply
