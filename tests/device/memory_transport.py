"""A `JobsTransport` in memory, over the emulator's real Jobs service: our own seam.

    MemoryCloud        the emulator's JobsService over a SQLite store in a temporary directory,
                       a ManualClock, things registered by name, optional quotas; `sleep`
                       moves the clock, runs the service's timers and the test's scheduled
                       actions (`at`), so an agent's waits take no real time
    MemoryTransport    one device: MQTT (requests as publishes through JobsClient and
                       `handle_mqtt`, notify-next pushed) or HTTPS (requests through the
                       iot-jobs-data codec and `handle_request`, no push); one report per call;
                       faults (or refusals) injected per request (`inject`) and per
                       connect (`connect_failures`)
    memory_device()    a DeviceAgent over a MemoryTransport, its clocks the cloud's (`Device`)

Requests and replies go through the same encoders and decoders as the real transports, so a
VersionMismatch reads back over HTTPS as InvalidStateTransition, as it does on the wire.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import json
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from simfleet.device.agent import DeviceAgent
from simfleet.device.errors import ConnectFailed, ConnectionLost, JobsRejected, RequestTimedOut
from simfleet.device.profile import BehaviourProfile
from simfleet.device.reports import (
    CONNECT,
    DISCONNECT,
    HTTPS,
    MQTT,
    Reporter,
    RequestReport,
    request_name,
)
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.job_config import JobConfig
from simfleet.emulator.jobs_service import JobsService, JobTarget, TargetKind
from simfleet.emulator.quotas import QuotaConfig, Quotas
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import (
    ExecutionRecord,
    JobsClient,
    JobsError,
    JobsErrorCode,
    JobsRequest,
    NotifyNext,
    Rejected,
    ReplyReceived,
    parse_jobs_topic,
)
from simfleet.jobs.https import (
    decode_https_error,
    decode_https_request,
    decode_https_response,
    encode_https_error,
    encode_https_request,
    encode_https_response,
)
from simfleet.jobs.responses import Accepted
from simfleet.jobs.topics import JobsTopic

REGION = "eu-west-1"
ACCOUNT = "111122223333"


class Fault(enum.Enum):
    """What goes wrong with one request."""

    DROP = "drop"  # the connection drops as it is sent: ConnectionLost, nothing applied
    TIMEOUT = "timeout"  # it is lost on the way: RequestTimedOut, nothing applied
    LOSE_REPLY = "lose-reply"  # it is applied but its reply is lost: RequestTimedOut


@dataclass(kw_only=True)
class _Injected:
    fault: Fault | JobsErrorCode
    when: Callable[[JobsRequest], bool]
    times: int


@dataclass(order=True)
class _Scheduled:
    due: float
    order: int
    action: Callable[[], object] = field(compare=False)


class MemoryCloud:
    """The Jobs service of one emulator, in memory but for a temporary SQLite file."""

    def __init__(
        self,
        state_dir: Path,
        *,
        things: list[str],
        quotas: QuotaConfig | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self.clock = clock or ManualClock()
        self.store = Store.open(state_dir)
        self.registry = Registry(self.store, clock=self.clock)
        for name in things:
            self.registry.create_thing(name, attributes={})
        self.quotas = None if quotas is None else Quotas(quotas, now=self.clock.now())
        self.jobs = JobsService(
            self.store, self.registry, self.clock, self._publish, quotas=self.quotas
        )
        self._listeners: dict[str, MemoryTransport] = {}
        self._schedule: list[_Scheduled] = []
        self._order = itertools.count()

    def close(self) -> None:
        self.store.close()

    # --- time -----------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass: scheduled actions and the service's timers run when due."""
        if seconds < 0:
            raise ValueError(f"sleep({seconds}) is negative")
        end = self.clock.now() + seconds
        while self._schedule and self._schedule[0].due <= end:
            due = heapq.heappop(self._schedule)
            self.clock.advance(max(0.0, due.due - self.clock.now()))
            self.jobs.tick()
            due.action()
        self.clock.advance(end - self.clock.now())
        self.jobs.tick()

    def at(self, due: float, action: Callable[[], object]) -> None:
        """Run `action` when the clock reaches `due` (epoch seconds)."""
        heapq.heappush(self._schedule, _Scheduled(due, next(self._order), action))

    # --- the operator's side --------------------------------------------------------------

    def create_job(
        self,
        job_id: str,
        things: list[str],
        *,
        config: JobConfig | None = None,
        document: dict[str, object] | None = None,
    ) -> None:
        targets = [
            JobTarget(
                arn=f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{t}", kind=TargetKind.THING, name=t
            )
            for t in things
        ]
        self.jobs.create_job(
            job_id=job_id,
            targets=targets,
            document=json.dumps(document or {"operation": job_id}),
            config=config,
        )

    def execution(self, thing: str, job_id: str) -> ExecutionRecord:
        return self.jobs.execution(thing, job_id)

    def executions(self, thing: str) -> list[ExecutionRecord]:
        return self.jobs.executions_for_thing(thing)

    # --- devices --------------------------------------------------------------------------

    def transport(self, thing: str, report: Reporter, *, protocol: str = MQTT) -> MemoryTransport:
        return MemoryTransport(self, thing, report, protocol=protocol)

    def listen(self, transport: MemoryTransport) -> None:
        """Deliver the service's publishes for the transport's thing to it."""
        self._listeners[transport.thing_name] = transport

    def _publish(self, topic: str, payload: bytes) -> None:
        parsed = parse_jobs_topic(topic)
        if isinstance(parsed, JobsTopic):
            listener = self._listeners.get(parsed.thing_name)
            if listener is not None:
                listener.deliver(topic, payload)


class MemoryTransport:
    """One device's connection to a MemoryCloud (see the module docstring)."""

    def __init__(
        self, cloud: MemoryCloud, thing_name: str, report: Reporter, *, protocol: str = MQTT
    ) -> None:
        if protocol not in (MQTT, HTTPS):
            raise ValueError(f"protocol {protocol!r} is neither {MQTT} nor {HTTPS}")
        self._cloud = cloud
        self._thing_name = thing_name
        self._protocol = protocol
        self._connected = False
        self._client = JobsClient(thing_name)
        self._notifications: deque[NotifyNext] = deque()
        self._faults: list[_Injected] = []
        self._reporter = report
        self.sent: list[JobsRequest] = []  # every request that reached the service
        self.connect_failures = 0  # the next connects that fail
        self.connects = 0
        self.drops = 0
        self.disconnects = 0
        cloud.listen(self)

    # --- JobsTransport --------------------------------------------------------------------

    @property
    def protocol(self) -> str:
        return self._protocol

    @property
    def thing_name(self) -> str:
        return self._thing_name

    @property
    def pushes_notifications(self) -> bool:
        return self._protocol == MQTT

    @property
    def connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self._connected:
            raise RuntimeError("connect() on a connected transport")
        if self.connect_failures > 0:
            self.connect_failures -= 1
            error = ConnectFailed("connection refused")
            self._report(CONNECT, error=error)
            raise error
        self._connected = True
        self._client = JobsClient(self._thing_name)  # a new session: nothing in flight
        self.connects += 1
        if self._protocol == MQTT:  # HTTPS devices report no connect row (docs/devices.md)
            self._report(CONNECT)

    def disconnect(self) -> None:
        if self._connected and self._protocol == MQTT:
            self._report(DISCONNECT)
        self._close()
        self.disconnects += 1

    def drop(self) -> None:
        self._close()
        self.drops += 1

    def call(self, request: JobsRequest, *, timeout: float) -> Accepted:
        if not self._connected:
            raise ConnectionLost("not connected")
        fault = self._fault_for(request)
        if fault is Fault.DROP:
            self._close()
            self._fail(request, ConnectionLost("connection lost"))
        if isinstance(fault, JobsErrorCode):  # refused before the service sees it
            self._fail(request, JobsRejected(fault, "injected"))
        if fault is Fault.TIMEOUT:
            self._cloud.sleep(timeout)
            self._fail(request, RequestTimedOut("timeout"))
        self.sent.append(request)
        if self._protocol == MQTT:
            response, size = self._mqtt(request)
        else:
            response, size = self._https(request)
        if fault is Fault.LOSE_REPLY:
            self._cloud.sleep(timeout)
            self._fail(request, RequestTimedOut("timeout"))
        if isinstance(response, JobsError):
            self._fail(request, JobsRejected(response.code, response.message), size=size)
        self._report(request_name(request), size=size, request=request)
        return response

    def next_notification(self, timeout: float) -> NotifyNext | None:
        if not self._connected:
            raise ConnectionLost("not connected")
        if self._protocol == HTTPS:
            return None
        if not self._notifications:
            # Waiting: time passes, and what the test scheduled may send something. [The
            # memory transport returns at the end of the wait, not at the first arrival.]
            self._cloud.sleep(timeout)
        return self._notifications.popleft() if self._notifications else None

    # --- the test's side ------------------------------------------------------------------

    def inject(
        self,
        fault: Fault | JobsErrorCode,
        *,
        when: Callable[[JobsRequest], bool],
        times: int = 1,
    ) -> None:
        """Make the next `times` requests for which `when` holds fail with `fault`, or be
        refused with an error code (and not applied)."""
        self._faults.append(_Injected(fault=fault, when=when, times=times))

    def deliver(self, topic: str, payload: bytes) -> None:
        """A publish from the service; notify-next is queued while connected (MQTT)."""
        if not (self._connected and self._protocol == MQTT):
            return
        event = self._client.receive(topic, payload)
        if isinstance(event, NotifyNext):
            self._notifications.append(event)

    # --- internals ------------------------------------------------------------------------

    def _mqtt(self, request: JobsRequest) -> tuple[Accepted | JobsError, int]:
        outgoing = self._client.send(request, now=self._cloud.now())
        topic = parse_jobs_topic(outgoing.topic)
        assert isinstance(topic, JobsTopic)
        reply = self._cloud.jobs.handle_mqtt(topic, outgoing.payload)
        payload = reply.payload
        event = self._client.receive(reply.topic, payload)
        assert isinstance(event, ReplyReceived), event
        response = event.response
        if isinstance(response, Rejected):
            return response.to_error(), len(payload)
        return response, len(payload)

    def _https(self, request: JobsRequest) -> tuple[Accepted | JobsError, int]:
        call = encode_https_request(self._thing_name, request)
        decoded = decode_https_request(call.method, call.path, call.query, call.body or b"")
        assert decoded is not None
        thing, service_request = decoded
        try:
            accepted = self._cloud.jobs.handle_request(thing, service_request)
        except JobsError as error:
            https_error, body = encode_https_error(error)
            return decode_https_error(https_error.status, https_error.error_type, body), len(body)
        body = encode_https_response(accepted)
        return decode_https_response(request, body), len(body)

    def _fault_for(self, request: JobsRequest) -> Fault | JobsErrorCode | None:
        for injected in self._faults:
            if injected.times > 0 and injected.when(request):
                injected.times -= 1
                return injected.fault
        return None

    def _fail(
        self,
        request: JobsRequest,
        error: JobsRejected | RequestTimedOut | ConnectionLost,
        *,
        size: int = 0,
    ) -> NoReturn:
        self._report(request_name(request), size=size, error=error, request=request)
        raise error

    def _close(self) -> None:
        self._connected = False
        self._notifications.clear()

    def _report(
        self,
        name: str,
        *,
        size: int = 0,
        error: JobsRejected | RequestTimedOut | ConnectionLost | ConnectFailed | None = None,
        request: JobsRequest | None = None,
    ) -> None:
        context = {"thing_name": self._thing_name}
        job_id = getattr(request, "job_id", None)
        if isinstance(job_id, str):
            context["job_id"] = job_id
        report = RequestReport(
            protocol=self._protocol,
            name=name,
            duration_ms=0.0,
            size=size,
            error=error,
            context=context,
        )
        self._reporter(report)


@dataclass
class Device:
    """An agent over a MemoryTransport, and every report the two made, in order."""

    agent: DeviceAgent
    transport: MemoryTransport
    reports: list[RequestReport]

    def rows(self, protocol: str) -> list[RequestReport]:
        return [r for r in self.reports if r.protocol == protocol]

    def run_until(self, done: Callable[[], bool], *, cycles: int = 100) -> int:
        """run_once() until `done()`; the number of cycles it took (AssertionError if more)."""
        for cycle in range(cycles):
            if done():
                return cycle
            self.agent.run_once()
        assert done(), f"not done after {cycles} cycles"
        return cycles


def memory_device(
    cloud: MemoryCloud,
    thing: str,
    profile: BehaviourProfile,
    *,
    protocol: str = MQTT,
    seed: int = 0,
    sleep: Callable[[float], None] | None = None,
) -> Device:
    """A device on `thing`, its clocks the cloud's and its rng seeded."""
    reports: list[RequestReport] = []
    transport = cloud.transport(thing, reports.append, protocol=protocol)
    agent = DeviceAgent(
        transport,
        profile,
        rng=random.Random(seed),
        sleep=sleep or cloud.sleep,
        wall_clock=cloud.now,
        monotonic=cloud.now,
        report=reports.append,
    )
    return Device(agent=agent, transport=transport, reports=reports)
