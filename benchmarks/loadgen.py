"""A load generator for the emulator benchmarks: many MQTT devices in one process, each over
mutual TLS with its own certificate, client ID = thing name, running the Jobs workflow.

It runs as a child process on 127.0.0.1, driven by its parent through stdin commands; it
answers with one JSON line on stdout per command::

    python benchmarks/loadgen.py PORT FLEET_DIR FIRST STOP [--window N] [--concurrency N]
                                 [--max-jobs N] [--time-limit S]

    (start)   builds every device's TLS context            -> {"event": "loaded"}
    connect   TLS + CONNECT + 5 SUBSCRIBE (acknowledged one by one) for every device,
              at most --concurrency connects in flight       -> {"event": "connected", ...}
    stats     the counters so far                            -> {"event": "stats", ...}
    go        every device runs the Jobs workflow until start-next finds no job (at most
              --max-jobs jobs, --window requests in flight)  -> {"event": "done", ...}
    stop      DISCONNECT and close every device, exit 0

Non-blocking TLS sockets on one selector, no asyncio: the generator spends its CPU on TLS and
our codec, so that the emulator stays the bottleneck. Every wait is bounded by --time-limit.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import json
import os
import selectors
import socket
import ssl
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from certs_tool import Fleet, load_fleet
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PacketDecoder,
    PubAck,
    Publish,
    QoS,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    encode,
)
from simfleet.jobs import (
    NEXT_JOB_ID,
    DescribeRequest,
    ExecutionStatus,
    GetPendingRequest,
    StartNextRequest,
    UpdateRequest,
    encode_request,
)

Q1 = QoS.AT_LEAST_ONCE
KEEP_ALIVE = 1200  # seconds: no PINGREQ during a run


def subscriptions(thing: str) -> tuple[str, ...]:
    """The 5 filters a device subscribes to (issue #3: "CONNECT + 5 subscriptions"): every
    reply topic of the requests it sends, and notify-next. Like the SDK v2 Jobs sample it does
    not subscribe to `notify` (JobExecutionsChanged), which the workflow does not need."""
    base = f"$aws/things/{thing}/jobs"
    return (
        f"{base}/notify-next",
        f"{base}/get/+",
        f"{base}/start-next/+",
        f"{base}/+/get/+",
        f"{base}/+/update/+",
    )


class Stage(enum.Enum):
    WAITING = "waiting"  # not connected yet
    HANDSHAKE = "handshake"
    CONNACK = "connack"
    SUBACK = "suback"
    READY = "ready"  # connected and subscribed; runs the workflow on `go`
    FINISHED = "finished"  # start-next found no job (or --max-jobs reached)
    LOST = "lost"


@dataclass
class Counters:
    connected: int = 0
    lost: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # by error code
    notify_next: int = 0
    finished: int = 0


@dataclass(slots=True)
class Device:
    """One MQTT device: its socket, decoder, output buffer and place in the workflow."""

    thing: str
    context: ssl.SSLContext
    sock: ssl.SSLSocket | None = None
    decoder: PacketDecoder = field(default_factory=PacketDecoder)
    out: bytearray = field(default_factory=bytearray)
    mask: int = 0  # the selector events watched, 0 while unregistered
    stage: Stage = Stage.WAITING
    packet_id: int = 0
    in_flight: int = 0  # requests sent and not yet answered
    jobs: int = 0  # executions start-next handed out
    script: deque[tuple[str, bytes]] = field(default_factory=deque)  # requests not sent yet

    @property
    def prefix(self) -> str:
        return f"$aws/things/{self.thing}/jobs/"

    def publish(self, topic_suffix: str, payload: bytes) -> None:
        self.packet_id = self.packet_id % 0xFFFF + 1
        topic = self.prefix + topic_suffix
        self.out += encode(Publish(topic=topic, payload=payload, qos=Q1, packet_id=self.packet_id))


def _start_next() -> tuple[str, bytes]:
    return "start-next", encode_request(StartNextRequest(client_token="s"))


def _job_script(job_id: str) -> list[tuple[str, bytes]]:
    """What a device does with the job start-next gave it: report progress, read $next, report
    success, list what is pending, ask for the next job."""
    progress = UpdateRequest(
        job_id=job_id,
        status=ExecutionStatus.IN_PROGRESS,
        status_details={"step": "1"},
        client_token="u1",
    )
    success = UpdateRequest(job_id=job_id, status=ExecutionStatus.SUCCEEDED, client_token="u2")
    return [
        (f"{job_id}/update", encode_request(progress)),
        (f"{NEXT_JOB_ID}/get", encode_request(DescribeRequest(job_id=NEXT_JOB_ID))),
        (f"{job_id}/update", encode_request(success)),
        ("get", encode_request(GetPendingRequest(client_token="g"))),
        _start_next(),
    ]


class LoadGenerator:
    def __init__(self, port: int, fleet: Fleet, indices: range, args: argparse.Namespace) -> None:
        self.port = port
        self.window: int = args.window
        self.concurrency: int = args.concurrency
        self.max_jobs: int = args.max_jobs
        self.time_limit: float = args.time_limit
        self.devices = [Device(fleet.devices[i].thing_name, _context(fleet, i)) for i in indices]
        self.counters = Counters()
        self.selector = selectors.DefaultSelector()
        self.waiting: deque[Device] = deque()
        self.connecting = 0
        self.connecting_all = False  # between `connect` and its report
        self.running = False  # between `go` and its report
        self.stdin = b""

    # -- the command loop -------------------------------------------------------------------

    def serve(self) -> None:
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        report("loaded")
        deadline = time.monotonic() + self.time_limit
        stopping = False
        while not stopping:
            if time.monotonic() > deadline:
                raise SystemExit("load generator: time limit reached")
            for key, events in self.selector.select(timeout=0.5):
                if key.data is None:
                    stopping = self._commands()
                else:
                    self._on_socket(key.data, events)
            self._progress()
        self._close_all()

    def _commands(self) -> bool:
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            return True  # the parent is gone
        self.stdin += data
        while b"\n" in self.stdin:
            line, _, self.stdin = self.stdin.partition(b"\n")
            command = line.decode().strip()
            if command == "connect":
                self.connecting_all = True
                self.waiting.extend(self.devices)
            elif command == "stats":
                report("stats", **asdict(self.counters))
            elif command == "go":
                self._go()
            elif command == "stop":
                return True
            else:
                raise SystemExit(f"load generator: unknown command {command!r}")
        return False

    def _progress(self) -> None:
        """Start connects up to the concurrency; report a phase's end once."""
        while self.waiting and self.connecting < self.concurrency:
            self._connect(self.waiting.popleft())
        counters, total = self.counters, len(self.devices)
        if self.connecting_all and self.connecting == 0 and not self.waiting:
            self.connecting_all = False
            report("connected", **asdict(counters))
        if self.running and counters.finished + counters.lost >= total:
            self.running = False
            report("done", **asdict(counters))

    def _go(self) -> None:
        self.running = True
        for device in self.devices:
            if device.stage is Stage.READY:
                device.script.append(_start_next())
                self._pump(device)
                self._flush(device)

    # -- connecting --------------------------------------------------------------------------

    def _connect(self, device: Device) -> None:
        self.connecting += 1
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        # As MQTT clients do: no Nagle delay on the small CONNECT and SUBSCRIBE packets.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.setblocking(False)
        device.sock = device.context.wrap_socket(
            raw, server_hostname="localhost", do_handshake_on_connect=False
        )
        device.stage = Stage.HANDSHAKE
        self._watch(device, selectors.EVENT_READ)
        self._handshake(device)

    def _handshake(self, device: Device) -> None:
        assert device.sock is not None
        try:
            device.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(device, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(device, selectors.EVENT_READ | selectors.EVENT_WRITE)
            return
        except OSError:
            self._lose(device)
            return
        device.stage = Stage.CONNACK
        device.out += encode(Connect(client_id=device.thing, keep_alive=KEEP_ALIVE))
        self._flush(device)

    def _connected(self, device: Device) -> None:
        device.stage = Stage.READY
        self.connecting -= 1
        self.counters.connected += 1

    # -- bytes in and out --------------------------------------------------------------------

    def _on_socket(self, device: Device, events: int) -> None:
        if device.stage is Stage.HANDSHAKE:
            self._handshake(device)
            return
        if events & selectors.EVENT_READ and not self._read(device):
            return
        self._flush(device)

    def _read(self, device: Device) -> bool:
        sock = device.sock
        assert sock is not None
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    self._lose(device)
                    return False
                device.decoder.feed(data)
                if not sock.pending():
                    break
        except ssl.SSLWantReadError:
            pass
        except OSError:
            self._lose(device)
            return False
        while (packet := device.decoder.next_packet()) is not None:
            self._on_packet(device, packet)
        return True

    def _on_packet(self, device: Device, packet: Packet) -> None:
        if isinstance(packet, Publish):
            self._on_message(device, packet)
        elif isinstance(packet, ConnAck) and device.stage is Stage.CONNACK:
            if packet.return_code is not ConnectReturnCode.ACCEPTED:
                raise SystemExit(f"load generator: CONNACK {packet.return_code.name}")
            device.stage = Stage.SUBACK
            self._subscribe(device, 1)
        elif isinstance(packet, SubAck) and device.stage is Stage.SUBACK:
            if SubAckReturnCode.FAILURE in packet.return_codes:
                raise SystemExit(f"load generator: {device.thing} subscribe refused")
            if packet.packet_id < len(subscriptions(device.thing)):
                self._subscribe(device, packet.packet_id + 1)
            else:
                self._connected(device)
        elif not isinstance(packet, PubAck):  # PUBACKs of our requests: nothing to do
            raise SystemExit(f"load generator: unexpected {packet!r}")

    def _flush(self, device: Device) -> None:
        sock = device.sock
        if sock is None or device.stage is Stage.LOST:
            return
        if device.out:
            try:
                sent = sock.send(device.out)
                del device.out[:sent]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except OSError:
                self._lose(device)
                return
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if device.out else 0)
        self._watch(device, wanted)

    def _watch(self, device: Device, mask: int) -> None:
        if mask == device.mask:
            return
        assert device.sock is not None
        if device.mask:
            self.selector.modify(device.sock, mask, device)
        else:
            self.selector.register(device.sock, mask, device)
        device.mask = mask

    def _lose(self, device: Device) -> None:
        if device.stage in (Stage.HANDSHAKE, Stage.CONNACK, Stage.SUBACK):
            self.connecting -= 1
        device.stage = Stage.LOST
        self.counters.lost += 1
        if device.sock is not None:
            if device.mask:
                self.selector.unregister(device.sock)
                device.mask = 0
            device.sock.close()

    def _close_all(self) -> None:
        for device in self.devices:
            if device.sock is not None and device.stage is not Stage.LOST:
                device.out += encode(Disconnect())
                device.sock.settimeout(5)
                # The emulator may be gone already: closing is all that is left then.
                with contextlib.suppress(OSError):
                    device.sock.sendall(device.out)
                device.sock.close()

    # -- MQTT and Jobs -----------------------------------------------------------------------

    def _subscribe(self, device: Device, n: int) -> None:
        topic_filter = subscriptions(device.thing)[n - 1]
        device.out += encode(Subscribe(packet_id=n, topics=((topic_filter, Q1),)))

    def _on_message(self, device: Device, message: Publish) -> None:
        if message.packet_id is not None:
            device.out += encode(PubAck(packet_id=message.packet_id))
        suffix = message.topic.removeprefix(device.prefix)
        counters = self.counters
        if suffix == "notify-next":
            counters.notify_next += 1
            return
        device.in_flight -= 1
        if suffix.endswith("/rejected"):
            code = json.loads(message.payload).get("code", "?")
            counters.rejected[code] = counters.rejected.get(code, 0) + 1
            if suffix == "start-next/rejected":
                self._finish(device)  # no job id to work on: this device is done
        else:
            counters.accepted += 1
            if suffix == "start-next/accepted":
                execution = json.loads(message.payload).get("execution")
                if execution is None or device.jobs >= self.max_jobs:
                    self._finish(device)
                else:
                    device.jobs += 1
                    device.script.extend(_job_script(execution["jobId"]))
        self._pump(device)

    def _pump(self, device: Device) -> None:
        """Send the device's next requests, up to the window."""
        while device.script and device.in_flight < self.window:
            topic_suffix, payload = device.script.popleft()
            device.publish(topic_suffix, payload)
            device.in_flight += 1
            self.counters.sent += 1

    def _finish(self, device: Device) -> None:
        device.script.clear()
        if device.stage is Stage.READY:
            device.stage = Stage.FINISHED
            self.counters.finished += 1


def _context(fleet: Fleet, index: int) -> ssl.SSLContext:
    device = fleet.devices[index]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(fleet.ca_cert_path)
    context.load_cert_chain(fleet.cert_path(device), fleet.key_path(device))
    return context


def report(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("fleet")
    parser.add_argument("first", type=int)
    parser.add_argument("stop", type=int)
    parser.add_argument("--window", type=int, default=5, help="requests in flight per device")
    parser.add_argument("--concurrency", type=int, default=32, help="connects in flight")
    parser.add_argument("--max-jobs", type=int, default=100, help="jobs per device, at most")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds, in all")
    args = parser.parse_args()
    fleet = load_fleet(args.fleet)
    LoadGenerator(args.port, fleet, range(args.first, args.stop), args).serve()


if __name__ == "__main__":
    main()
