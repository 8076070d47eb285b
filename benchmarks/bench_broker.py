"""The MQTT broker over mutual TLS, per broker CPU-second, with EC P-256 certificates.

The broker runs in this process on one asyncio loop; load generators are child processes on
127.0.0.1 (bounded in number and time). Only this process's CPU time counts, so the rates
hold on a shared machine. Phases:

1. idle:  ``--idle`` devices (default 2,000) connect (TLS, CONNECT, 5 SUBSCRIBE) and stay:
          RSS per idle connection (target <= 60 KB, issue #3).
2. churn: with those connected, ``--churn`` more connects, each TLS handshake + CONNECT +
          5 SUBSCRIBE (acknowledged one by one) + DISCONNECT: connects per CPU-second
          (target >= 400).
3. route: ``--pairs`` publisher/subscriber pairs exchange ``--messages`` QoS 1 messages each
          (PUBACK both ways, at most ``--window`` in flight per publisher): QoS 1 messages
          routed per CPU-second (target >= 10,000).

Usage: python benchmarks/bench_broker.py [--idle 2000] [--churn 1000] [--pairs 8]
       [--messages 4000] [--window 20] [--batch 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from certs_tool import Fleet, KeyType, apply_policy_template, init_fleet, load_fleet, mint_devices
from certs_tool.policy.document import PolicyDocument, parse_policy
from simfleet.emulator.broker import Broker, BrokerServer, ssl_context_for_fleet
from simfleet.emulator.clock import SystemClock
from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketDecoder,
    PubAck,
    Publish,
    QoS,
    SubAck,
    Subscribe,
    encode,
)
from simfleet.emulator.policy import ThingIdentity
from simfleet.jobs import JobsTopic, MqttReply, UnknownJobsTopic, answer_mqtt
from simfleet.jobs.topics import subscription_filters

Q1 = QoS.AT_LEAST_ONCE
# Publish, subscribe and receive under bench/ for the routing phase.
BENCH_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:Receive"],
            "Resource": "arn:aws:iot:*:*:topic/bench/*",
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": "arn:aws:iot:*:*:topicfilter/bench/*",
        },
    ],
}


# -- the broker's side (this process) ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Principal:
    status: str
    things: tuple[ThingIdentity, ...]
    policies: tuple[PolicyDocument, ...]


class _Principals:
    def __init__(self, fleet: Fleet) -> None:
        policies = (
            *(parse_policy(raw) for _, raw in fleet.policy_documents()),
            parse_policy(BENCH_POLICY),
        )
        self._by_id = {
            d.certificate_id: _Principal(
                status="ACTIVE", things=(ThingIdentity(name=d.thing_name),), policies=policies
            )
            for d in fleet.devices
        }

    def principal(self, certificate_id: str) -> _Principal | None:
        return self._by_id.get(certificate_id)


class _NoJobs:
    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        return answer_mqtt(topic, payload, (), int(time.time()))


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def run_children(role: str, port: int, fleet: Path, ranges: list[range], *extra: str) -> None:
    """Start one child per range, wait for all to finish (at most 10 minutes)."""
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            role,
            str(port),
            str(fleet),
            str(r.start),
            str(r.stop),
            *extra,
        )
        for r in ranges
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(c.wait() for c in children)), 600)
    if any(codes):
        raise RuntimeError(f"{role} load generator failed: exit codes {codes}")


def split(first: int, count: int, parts: int, unit: int = 1) -> list[range]:
    """``count`` indices from ``first`` in at most ``parts`` ranges, each a multiple of ``unit``."""
    step = -(-count // unit // parts) * unit
    return [range(s, min(s + step, first + count)) for s in range(first, first + count, step)]


async def bench(args: argparse.Namespace, root: Path) -> None:
    fleet = load_fleet(root)
    loop = asyncio.get_running_loop()
    broker = Broker(
        principals=_Principals(fleet), jobs=_NoJobs(), clock=SystemClock(), scheduler=loop
    )
    server = BrokerServer(broker)
    context = ssl_context_for_fleet(
        fleet.server_cert_path, fleet.server_key_path, fleet.ca_cert_path
    )
    port = await server.start("127.0.0.1", 0, context)
    churn_first = args.idle
    pairs_first = args.idle + args.churn

    await run_children("churn", port, root, [range(churn_first, churn_first + 50)])  # warm-up
    gc.collect()
    before = rss_kb()
    idle = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        "idle",
        str(port),
        str(root),
        "0",
        str(args.idle),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert idle.stdout is not None
    assert idle.stdin is not None
    await asyncio.wait_for(idle.stdout.readline(), 600)
    gc.collect()
    per_connection = (rss_kb() - before) / args.idle
    connected = broker.counters.connections_current

    cpu = time.process_time()
    await run_children("churn", port, root, split(churn_first, args.churn, 2))
    connect_rate = args.churn / (time.process_time() - cpu)

    out_before = broker.counters.messages_out
    cpu = time.process_time()
    await run_children(
        "route",
        port,
        root,
        split(pairs_first, args.pairs * 2, 2, unit=2),
        str(args.messages),
        str(args.window),
        str(args.batch),
    )
    route_cpu = time.process_time() - cpu
    routed = broker.counters.messages_out - out_before

    idle.stdin.write(b"done\n")
    await idle.stdin.drain()
    await asyncio.wait_for(idle.wait(), 60)
    await server.close()
    refused = sum(broker.counters.connects_refused.values())
    if refused or broker.counters.protocol_errors or routed != args.pairs * args.messages:
        raise RuntimeError(f"unexpected counters: {broker.counters.snapshot()}")

    print(f"idle connections held:        {connected:,} (of {args.idle:,})")
    print(f"RSS per idle TLS connection:  {per_connection:.1f} KB (target <= 60)")
    print(f"connects per CPU-second:      {connect_rate:,.0f} (target >= 400)")
    print(f"QoS 1 messages routed:        {routed:,} in {route_cpu:.2f} CPU-s")
    print(f"QoS 1 messages routed per CPU-second: {routed / route_cpu:,.0f} (target >= 10,000)")


# -- load generators (child processes) -----------------------------------------------------------


def client_context(fleet: Fleet, index: int) -> ssl.SSLContext:
    device = fleet.devices[index]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(fleet.ca_cert_path)
    context.load_cert_chain(fleet.cert_path(device), fleet.key_path(device))
    return context


class BlockingClient:
    def __init__(self, port: int, fleet: Fleet, index: int) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=60)
        # As MQTT clients do: without it, Nagle holds CONNECT behind the unacknowledged TLS
        # Finished for a delayed ACK (40 ms), and the broker idles between connects.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = client_context(fleet, index).wrap_socket(raw, server_hostname="localhost")
        self.decoder = PacketDecoder()

    def recv(self) -> Packet:
        while (packet := self.decoder.next_packet()) is None:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the broker")
            self.decoder.feed(data)
        return packet

    def session(self, fleet: Fleet, index: int) -> None:
        """CONNECT, then the 5 Jobs subscriptions of an SDK device, one SUBSCRIBE each."""
        thing = fleet.devices[index].thing_name
        self.sock.sendall(encode(Connect(client_id=thing, keep_alive=1200)))
        assert isinstance(self.recv(), ConnAck)
        for n, topic_filter in enumerate(subscription_filters(thing)[:5], start=1):
            self.sock.sendall(encode(Subscribe(packet_id=n, topics=((topic_filter, Q1),))))
            assert isinstance(self.recv(), SubAck)


def child_idle(port: int, fleet: Fleet, indices: range) -> None:
    clients = []
    for index in indices:
        client = BlockingClient(port, fleet, index)
        client.session(fleet, index)
        clients.append(client)
    print("ready", flush=True)
    sys.stdin.readline()
    for client in clients:
        client.sock.close()


def child_churn(port: int, fleet: Fleet, indices: range) -> None:
    for index in indices:
        client = BlockingClient(port, fleet, index)
        client.session(fleet, index)
        client.sock.sendall(encode(Disconnect()))
        client.sock.close()


@dataclass(frozen=True, kw_only=True)
class RouteLoad:
    count: int  # messages per pair
    window: int  # QoS 1 publishes in flight per publisher
    batch: int  # publishes per write


async def _pair(port: int, fleet: Fleet, pub: int, sub: int, load: RouteLoad) -> None:
    count, window, batch = load.count, load.window, load.batch
    topic = f"bench/{fleet.devices[sub].thing_name}"
    sub_r, sub_w = await _session(port, fleet, sub)
    sub_w.write(encode(Subscribe(packet_id=1, topics=((topic, Q1),))))
    await _read_packet(sub_r, PacketDecoder())
    pub_r, pub_w = await _session(port, fleet, pub)
    credit = asyncio.Semaphore(window)
    payload = b'{"status":"IN_PROGRESS","statusDetails":{"step":"3"},"clientToken":"c-12345"}'

    async def publish() -> None:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            for _ in range(size):
                await credit.acquire()
            pub_w.write(
                b"".join(
                    encode(Publish(topic=topic, payload=payload, qos=Q1, packet_id=n % 0xFFFF + 1))
                    for n in range(start, start + size)
                )
            )

    async def count_acks() -> None:
        decoder, acked = PacketDecoder(), 0
        while acked < count:
            decoder.feed(await pub_r.read(65536))
            while (packet := decoder.next_packet()) is not None:
                assert isinstance(packet, PubAck)
                acked += 1
                credit.release()

    async def receive() -> None:
        decoder, received = PacketDecoder(), 0
        while received < count:
            decoder.feed(await sub_r.read(65536))
            acks = []
            while (packet := decoder.next_packet()) is not None:
                assert isinstance(packet, Publish)
                assert packet.packet_id is not None
                acks.append(encode(PubAck(packet_id=packet.packet_id)))
                received += 1
            sub_w.write(b"".join(acks))

    await asyncio.gather(publish(), count_acks(), receive())
    for writer in (pub_w, sub_w):
        writer.write(encode(Disconnect()))
        writer.close()


async def _session(
    port: int, fleet: Fleet, index: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(fleet, index), server_hostname="localhost"
    )
    writer.write(encode(Connect(client_id=fleet.devices[index].thing_name, keep_alive=1200)))
    assert isinstance(await _read_packet(reader, PacketDecoder()), ConnAck)
    return reader, writer


async def _read_packet(reader: asyncio.StreamReader, decoder: PacketDecoder) -> Packet:
    while (packet := decoder.next_packet()) is None:
        decoder.feed(await reader.read(65536))
    return packet


def child_route(port: int, fleet: Fleet, indices: range, load: RouteLoad) -> None:
    members = list(indices)
    pairs = list(zip(members[0::2], members[1::2], strict=True))

    async def main() -> None:
        await asyncio.gather(*(_pair(port, fleet, p, s, load) for p, s in pairs))

    asyncio.run(main())


def child(argv: list[str]) -> None:
    role, port, root, first, stop, *extra = argv
    fleet = load_fleet(root)
    indices = range(int(first), int(stop))
    if role == "idle":
        child_idle(int(port), fleet, indices)
    elif role == "churn":
        child_churn(int(port), fleet, indices)
    else:
        count, window, batch = (int(x) for x in extra)
        child_route(int(port), fleet, indices, RouteLoad(count=count, window=window, batch=batch))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--churn", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1, help="QoS 1 publishes per TLS write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        root = Path(tmp) / "fleet"
        init_fleet(root, key_type=KeyType.EC_P256)
        apply_policy_template(root, "jobs-all")
        mint_devices(root, count=args.idle + args.churn + args.pairs * 2, key_type=KeyType.EC_P256)
        asyncio.run(bench(args, root))


if __name__ == "__main__":
    main()
