"""The device side of the MQTT Jobs API, with no I/O (spec §1.1).

`JobsClient` turns requests into publishes (topic, payload, clientToken), keeps a table of the
requests in flight, and turns each message that arrives into an event: a reply matched to its
request by clientToken, a notification, or a stray reply nobody waits for (one that came after
its request expired, say). It reads no clock: the driver passes `now`, and calls `expire(now)`
from time to time to learn which requests got no answer in time.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simfleet.jobs.requests import (
    MAX_CLIENT_TOKEN_BYTES,
    JobsRequest,
    encode_request,
    request_topic,
)
from simfleet.jobs.responses import (
    JobsResponse,
    Notify,
    NotifyNext,
    Rejected,
    decode_message,
)
from simfleet.jobs.topics import JobsTopic, Operation, check_thing_name, parse_jobs_topic
from simfleet.jobs.topics import subscription_filters as _subscription_filters


@dataclass(frozen=True, kw_only=True)
class OutgoingRequest:
    """A publish for the driver to send (QoS 1, as the SDKs and Device Client do, spec §1.1)."""

    topic: str
    payload: bytes
    client_token: str
    request: JobsRequest  # as sent, clientToken filled in


@dataclass(frozen=True, kw_only=True)
class InFlight:
    client_token: str
    request: JobsRequest
    sent_at: float
    deadline: float


@dataclass(frozen=True, kw_only=True)
class ReplyReceived:
    """The accepted or rejected reply to a request of ours."""

    request: JobsRequest
    response: JobsResponse
    sent_at: float

    @property
    def accepted(self) -> bool:
        return not isinstance(self.response, Rejected)


@dataclass(frozen=True, kw_only=True)
class StrayReply:
    """A reply for this thing that matches no request in flight."""

    operation: Operation
    job_id: str | None
    response: JobsResponse


JobsEvent = ReplyReceived | StrayReply | Notify | NotifyNext


class JobsClient:
    """One device's Jobs state over MQTT: requests in flight and how replies match them.

    Client tokens are `token_prefix` followed by a counter (no randomness inside); a request
    that already carries a token keeps it.
    """

    def __init__(
        self, thing_name: str, *, token_prefix: str = "", request_timeout: float = 30.0
    ) -> None:
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        self._thing_name = check_thing_name(thing_name)
        self._prefix = token_prefix
        self._counter = itertools.count(1)
        self._timeout = request_timeout
        self._in_flight: dict[str, InFlight] = {}

    @property
    def thing_name(self) -> str:
        return self._thing_name

    @property
    def in_flight(self) -> Mapping[str, InFlight]:
        """The requests awaiting a reply, by clientToken (read-only)."""
        return MappingProxyType(self._in_flight)

    def subscriptions(self) -> tuple[str, ...]:
        """The topic filters to subscribe to before sending requests."""
        return _subscription_filters(self._thing_name)

    def send(
        self, request: JobsRequest, *, now: float, timeout: float | None = None
    ) -> OutgoingRequest:
        """Register `request` as sent at `now` and return what to publish."""
        token = request.client_token
        if token is None:
            token = f"{self._prefix}{next(self._counter)}"
        if len(token.encode()) > MAX_CLIENT_TOKEN_BYTES:
            raise ValueError(f"clientToken {token!r} is longer than 64 bytes")
        if token in self._in_flight:
            raise ValueError(f"clientToken {token!r} is already in flight")
        request = dataclasses.replace(request, client_token=token)
        self._in_flight[token] = InFlight(
            client_token=token,
            request=request,
            sent_at=now,
            deadline=now + (self._timeout if timeout is None else timeout),
        )
        return OutgoingRequest(
            topic=request_topic(self._thing_name, request).topic,
            payload=encode_request(request),
            client_token=token,
            request=request,
        )

    def receive(self, topic: str, payload: bytes) -> JobsEvent | None:
        """The event for a message that arrived; None for anything not a Jobs reply or
        notification for this thing. Raises MalformedMessage for a payload AWS would not send.
        """
        parsed = parse_jobs_topic(topic)
        # The client must check the thingName in the topic (spec §1.1).
        if not isinstance(parsed, JobsTopic) or parsed.thing_name != self._thing_name:
            return None
        if parsed.is_request:
            return None
        message = decode_message(parsed, payload)
        if isinstance(message, Notify | NotifyNext):
            return message
        return self._match(parsed, message)

    def _match(self, topic: JobsTopic, response: JobsResponse) -> JobsEvent:
        pending = self._in_flight.get(response.client_token or "")
        # The token must answer a request made on this very topic (same operation and job).
        if pending is None or request_topic(self._thing_name, pending.request) != (
            dataclasses.replace(topic, reply=None)
        ):
            return StrayReply(operation=topic.operation, job_id=topic.job_id, response=response)
        del self._in_flight[pending.client_token]
        return ReplyReceived(request=pending.request, response=response, sent_at=pending.sent_at)

    def expire(self, now: float) -> tuple[InFlight, ...]:
        """Forget and return the requests whose deadline has passed by `now`, oldest first."""
        expired = sorted(
            (f for f in self._in_flight.values() if f.deadline <= now), key=lambda f: f.sent_at
        )
        for flight in expired:
            del self._in_flight[flight.client_token]
        return tuple(expired)
