"""In-test implementations of the broker's seams, built from a real minted fleet.

- ``FleetPrincipals``: a PrincipalSource over the fleet's devices (ACTIVE, attached to their
  thing, carrying the fleet's policies plus any extra ones a test adds).
- ``InMemoryJobs``: a JobsHandler that answers with ``answer_mqtt`` over a list of records
  and publishes notify / notify-next through the broker, as the real service will.
- ``FakeScheduler`` (on a ManualClock), ``FakeTransport`` and ``MemoryClient``: the broker
  driven with no sockets.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs_tool import DeviceRecord, Fleet
from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.broker import Broker, BrokerConfig, MqttConnection
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    Packet,
    PacketDecoder,
    QoS,
    SubAck,
    Subscribe,
    encode,
)
from simfleet.emulator.policy import ThingIdentity
from simfleet.jobs import (
    ExecutionRecord,
    JobsTopic,
    MqttReply,
    UnknownJobsTopic,
    answer_mqtt,
    encode_message,
    pending_notifications,
)
from simfleet.jobs.execution import queue

# Lets a device publish, subscribe and receive under `open/`, and receive only
# `open/public` of what it subscribed to there: the Receive checks' test policy.
OPEN_TOPICS_POLICY = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:RetainPublish"],
                "Resource": "arn:aws:iot:*:*:topic/open/*",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": "arn:aws:iot:*:*:topicfilter/open/*",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": "arn:aws:iot:*:*:topic/open/public*",
            },
        ],
    }
)

# A monitor's view: subscribe to and receive anything (but still publish only its own topics).
WATCH_ALL_POLICY = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iot:Subscribe", "iot:Receive"],
                "Resource": ["arn:aws:iot:*:*:topicfilter/*", "arn:aws:iot:*:*:topic/*"],
            }
        ],
    }
)


def device_der(fleet: Fleet, device: DeviceRecord) -> bytes:
    cert = x509.load_pem_x509_certificate(fleet.cert_path(device).read_bytes())
    return cert.public_bytes(Encoding.DER)


@dataclass(frozen=True, kw_only=True)
class FleetPrincipal:
    """Shaped like the registry's Principal (docs/emulator.md)."""

    certificate_id: str
    certificate_pem: bytes
    status: str
    things: tuple[ThingIdentity, ...]
    policies: tuple[PolicyDocument, ...]


class FleetPrincipals:
    """Every device of ``fleet`` registered ACTIVE, as `register_fleet` will do."""

    def __init__(self, fleet: Fleet, *, extra_policies: tuple[PolicyDocument, ...] = ()) -> None:
        documents = tuple(parse_policy(raw) for _, raw in fleet.policy_documents())
        self._by_id = {
            device.certificate_id: FleetPrincipal(
                certificate_id=device.certificate_id,
                certificate_pem=fleet.cert_path(device).read_bytes(),
                status="ACTIVE",
                things=(ThingIdentity(name=device.thing_name),),
                policies=documents + extra_policies,
            )
            for device in fleet.devices
        }

    def principal(self, certificate_id: str) -> FleetPrincipal | None:
        return self._by_id.get(certificate_id)

    def change(self, device: DeviceRecord, **changes: Any) -> None:
        """Change a registered certificate (status, things, policies)."""
        current = self._by_id[device.certificate_id]
        self._by_id[device.certificate_id] = dataclasses.replace(current, **changes)


class InMemoryJobs:
    """Executions in a list; the reply returned, notifications published, as the service does."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.records: list[ExecutionRecord] = []
        self.publish: Callable[[str, bytes], None] = lambda topic, payload: None
        self.requests: list[str] = []

    def queue_job(self, thing_name: str, job_id: str) -> None:
        now = int(self.clock.now())
        record = queue(thing_name=thing_name, job_id=job_id, job_document={"op": job_id}, now=now)
        self._store(thing_name, record)

    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        self.requests.append(topic.topic)
        mine = [r for r in self.records if r.thing_name == topic.thing_name]
        reply = answer_mqtt(topic, payload, mine, int(self.clock.now()))
        if reply.changed is not None:
            self._store(topic.thing_name, reply.changed)
        return reply

    def _store(self, thing_name: str, changed: ExecutionRecord) -> None:
        before = [r for r in self.records if r.thing_name == thing_name]
        self.records = [
            r for r in self.records if r.key != changed.key or r.thing_name != thing_name
        ]
        self.records.append(changed)
        after = [r for r in self.records if r.thing_name == thing_name]
        notes = pending_notifications(before, after, int(self.clock.now()))
        base = f"$aws/things/{thing_name}/jobs"
        if notes.notify is not None:
            self.publish(f"{base}/notify", encode_message(notes.notify))
        if notes.notify_next is not None:
            self.publish(f"{base}/notify-next", encode_message(notes.notify_next))


class _Timer:
    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """Timers on a ManualClock; ``advance`` moves the clock and runs what fell due."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()

    def call_later(self, delay: float, callback: Callable[[], object], /) -> _Timer:
        timer = _Timer(self.clock.now() + delay, callback)
        heapq.heappush(self._heap, (timer.due, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def fire_all_now(self) -> None:
        """Run every pending timer without moving the clock (an early wake-up)."""
        heap, self._heap = self._heap, []
        for _, _, timer in sorted(heap):
            if not timer.cancelled:
                timer.callback()

    def advance(self, seconds: float) -> None:
        end = self.clock.now() + seconds
        while self._heap and self._heap[0][0] <= end:
            due, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self.clock.advance(max(0.0, due - self.clock.now()))
            timer.callback()
        self.clock.advance(end - self.clock.now())


class FakeTransport:
    """A ClientTransport that keeps what the broker wrote."""

    def __init__(self, certificate: bytes | None, address: str | None = "127.0.0.1") -> None:
        self.certificate = certificate
        self.address = address
        self.written = bytearray()
        self.closed = False
        self.backlog = 0  # what write_buffer_size reports: a stalled client's unsent bytes

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.written += data

    def close(self) -> None:
        self.closed = True

    def write_buffer_size(self) -> int:
        return self.backlog

    def peer_certificate(self) -> bytes | None:
        return self.certificate

    def peer_address(self) -> str | None:
        return self.address


class MemoryClient:
    """One client of an in-memory broker: send packets, read what came back."""

    def __init__(self, broker: Broker, certificate: bytes | None) -> None:
        self.transport = FakeTransport(certificate)
        self.connection: MqttConnection = broker.open_connection(self.transport)
        self._decoder = PacketDecoder(max_payload_size=1 << 20)
        self._read = 0
        self._unread: list[Packet] = []

    def closed(self) -> bool:
        return self.transport.closed

    def send(self, *packets: Packet) -> None:
        self.send_raw(b"".join(encode(p) for p in packets))

    def send_raw(self, data: bytes) -> None:
        self.connection.data_received(data)

    def received(self) -> list[Packet]:
        """The packets the broker wrote since the last call."""
        self._decoder.feed(bytes(self.transport.written[self._read :]))
        self._read = len(self.transport.written)
        out, self._unread = self._unread, []
        while (packet := self._decoder.next_packet()) is not None:
            out.append(packet)
        return out

    def connect(self, client_id: str, *, clean: bool = True, keep_alive: int = 60) -> ConnAck:
        self.send(Connect(client_id=client_id, clean_session=clean, keep_alive=keep_alive))
        packets = self.received()
        assert packets, "no CONNACK"
        assert isinstance(packets[0], ConnAck), packets
        self._unread = packets[1:]  # a resumed session's messages, for the next received()
        return packets[0]

    def subscribe(self, *filters: str, qos: QoS = QoS.AT_LEAST_ONCE, packet_id: int = 1) -> SubAck:
        self.send(Subscribe(packet_id=packet_id, topics=tuple((f, qos) for f in filters)))
        packets = self.received()
        assert packets, "no SUBACK"
        assert isinstance(packets[0], SubAck), packets
        self._unread = packets[1:]  # retained messages, for the next received()
        return packets[0]

    def drop(self) -> None:
        """The network connection breaks (no DISCONNECT)."""
        self.transport.closed = True
        self.connection.connection_lost()


@dataclass
class MemoryBroker:
    """A broker on a ManualClock with in-memory clients of ``fleet``'s devices."""

    fleet: Fleet
    broker: Broker
    principals: FleetPrincipals
    jobs: InMemoryJobs
    clock: ManualClock
    scheduler: FakeScheduler

    def client(self, index: int | None = None, *, certificate: bytes | None = None) -> MemoryClient:
        """A client presenting device ``index``'s certificate (or ``certificate``)."""
        if index is not None:
            certificate = device_der(self.fleet, self.fleet.devices[index])
        return MemoryClient(self.broker, certificate)

    def connected(self, index: int, **options: Any) -> MemoryClient:
        client = self.client(index)
        ack = client.connect(self.fleet.devices[index].client_id, **options)
        assert ack.return_code == 0
        return client

    def thing(self, index: int) -> str:
        return self.fleet.devices[index].thing_name


def memory_broker(
    fleet: Fleet,
    *,
    config: BrokerConfig | None = None,
    extra_policies: tuple[PolicyDocument, ...] = (),
) -> MemoryBroker:
    clock = ManualClock()
    scheduler = FakeScheduler(clock)
    principals = FleetPrincipals(fleet, extra_policies=extra_policies)
    jobs = InMemoryJobs(clock)
    broker = Broker(
        principals=principals, jobs=jobs, clock=clock, scheduler=scheduler, config=config
    )
    jobs.publish = broker.publish_internal
    return MemoryBroker(
        fleet=fleet,
        broker=broker,
        principals=principals,
        jobs=jobs,
        clock=clock,
        scheduler=scheduler,
    )
