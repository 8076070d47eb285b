"""The whole emulator (`simfleet emulator`: broker, SQLite store, registry, Jobs service) per
emulator CPU-second, with EC P-256 certificates and 2,000 connected devices.

The emulator runs as users run it, in its own process; only its CPU time counts (utime + stime
from /proc/<pid>/stat), so the rates hold on a shared machine. Load generators
(`benchmarks/loadgen.py`) are child processes on 127.0.0.1, each driving many devices over
non-blocking TLS sockets. Phases:

1. connect: ``--devices`` devices (each its own certificate, client ID = thing name) connect:
            TLS handshake + CONNECT + 5 SUBSCRIBE acknowledged one by one, and stay. Connects
            per CPU-second (target >= 400), RSS per connection (target <= 60 KB).
2. jobs:    ``--jobs`` jobs are created through boto3, each targeting every device (not
            measured; their notify-next is counted).
3. work:    every device runs the Jobs workflow over MQTT, QoS 1, at most ``--window``
            requests in flight: start-next, update IN_PROGRESS, describe $next, update
            SUCCEEDED, get pending, start-next ... until start-next finds no job. Jobs
            request/responses (each answered on accepted or rejected) per CPU-second
            (target >= 6,000). ``--window 1`` is a device that waits for every reply: each
            request then costs the emulator a TLS read and a socket send of its own.

``--profile FILE`` runs the emulator under cProfile during phase 3 only and prints where its
time goes (cProfile times by the wall clock, and the rates of such a run carry its overhead).

Usage: python benchmarks/bench_emulator_jobs.py [--devices 2000] [--jobs 4] [--loaders 2]
       [--window 5] [--concurrency 32] [--time-limit 100] [--profile FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from certs_tool import KeyType, apply_policy_template, init_fleet, load_fleet, mint_devices

LOADGEN = Path(__file__).with_name("loadgen.py")
WARMUP_DEVICES = 50
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the emulator process, seen from /proc -------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of every thread of `pid`, in seconds (proc(5): fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


# -- child processes ------------------------------------------------------------------------------


class Child:
    """A child process speaking JSON lines on stdout (and commands on stdin, if any)."""

    def __init__(self, name: str, argv: list[str], *, commands: bool) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE if commands else subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any]:
        """The next JSON line; the child must print it within `timeout` seconds."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: nothing printed within {timeout:g} s")
            if select.select([fd], [], [], left)[0]:
                data = os.read(fd, 65536)
                if not data:
                    code = self.process.wait(10)
                    raise RuntimeError(f"{self.name} exited with code {code}")
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        got = self.read(timeout)
        if got.get("event") != event:
            raise RuntimeError(f"{self.name}: expected {event!r}, got {got}")
        return got


@contextlib.contextmanager
def supervised() -> Iterator[list[Child]]:
    """Children started into the yielded list are ended on any exit: SIGTERM, then SIGKILL."""
    children: list[Child] = []
    try:
        yield children
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in children:
            try:
                child.process.wait(10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(10)


def loaders(
    children: list[Child],
    root: Path,
    *,
    port: int,
    first: int,
    count: int,
    args: argparse.Namespace,
) -> list[Child]:
    """Load generators for devices [first, first + count), split across `args.loaders`."""
    step = -(-count // args.loaders)
    started = []
    for start in range(first, first + count, step):
        stop = min(start + step, first + count)
        child = Child(
            f"load generator {start}-{stop}",
            [sys.executable, str(LOADGEN), str(port), str(root), str(start), str(stop),
             "--window", str(args.window), "--concurrency", str(args.concurrency),
             "--max-jobs", str(args.jobs), "--time-limit", str(4 * args.time_limit)],
            commands=True,
        )  # fmt: skip
        children.append(child)
        started.append(child)
    for child in started:
        child.expect("loaded", args.time_limit)
    return started


def broadcast(group: list[Child], command: str, reply: str, timeout: float) -> list[dict[str, Any]]:
    for child in group:
        child.send(command)
    return [child.expect(reply, timeout) for child in group]


def stop_all(group: list[Child], timeout: float) -> None:
    for child in group:
        child.send("stop")
    for child in group:
        child.process.wait(timeout)


def total(reports: list[dict[str, Any]], key: str) -> int:
    return sum(int(r[key]) for r in reports)


# -- the phases -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Connects:
    cpu: float  # emulator CPU-seconds
    rss_per_connection_kb: float


@dataclass(frozen=True, kw_only=True)
class JobsCreated:
    wall: float
    cpu: float
    notify_next: int  # delivered to the devices by CreateJob
    job_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Work:
    wall: float
    cpu: float
    system_cpu: float  # the part of `cpu` spent in the kernel (sockets, SQLite's writes)
    load_cpu: float  # the load generators' CPU-seconds, together
    accepted: int
    rejected: Counter[str]
    notify_next: int  # delivered to the devices during the work
    succeeded: int  # executions SUCCEEDED, as DescribeJob counts them


def connect(group: list[Child], pid: int, args: argparse.Namespace) -> Connects:
    rss, cpu = rss_kb(pid), cpu_seconds(pid)
    reports = broadcast(group, "connect", "connected", args.time_limit)
    connects = Connects(
        cpu=cpu_seconds(pid) - cpu, rss_per_connection_kb=(rss_kb(pid) - rss) / args.devices
    )
    if total(reports, "connected") != args.devices:
        raise RuntimeError(f"not every device connected: {reports}")
    return connects


def create_jobs(
    iot: Any, group: list[Child], pid: int, arns: list[str], args: argparse.Namespace
) -> JobsCreated:
    job_ids = tuple(f"bench-{n}" for n in range(1, args.jobs + 1))
    wall, cpu = time.monotonic(), cpu_seconds(pid)
    for n, job_id in enumerate(job_ids, start=1):
        document = json.dumps({"operation": "bench", "step": n})
        iot.create_job(jobId=job_id, targets=arns, document=document)
    wall, cpu = time.monotonic() - wall, cpu_seconds(pid) - cpu
    # The first job's notify-next goes to every device: wait for them (bounded), so that
    # none is delivered during the measured phase.
    deadline = time.monotonic() + args.time_limit
    while True:
        count = total(broadcast(group, "stats", "stats", args.time_limit), "notify_next")
        if count >= args.devices or time.monotonic() > deadline:
            return JobsCreated(wall=wall, cpu=cpu, notify_next=count, job_ids=job_ids)
        time.sleep(0.1)


def work(
    iot: Any, group: list[Child], pid: int, jobs: JobsCreated, args: argparse.Namespace
) -> Work:
    if args.profile:
        os.kill(pid, signal.SIGUSR1)
    load_cpu = sum(cpu_seconds(c.pid) for c in group)
    wall, (user, system) = time.monotonic(), cpu_times(pid)
    reports = broadcast(group, "go", "done", args.time_limit)
    wall, (user_after, system_after) = time.monotonic() - wall, cpu_times(pid)
    user, system = user_after - user, system_after - system
    load_cpu = sum(cpu_seconds(c.pid) for c in group) - load_cpu
    if args.profile:
        os.kill(pid, signal.SIGUSR2)
    if total(reports, "finished") != args.devices:
        raise RuntimeError(f"not every device finished its jobs: {reports}")
    rejected: Counter[str] = Counter()
    for report in reports:
        rejected.update(report["rejected"])
    succeeded = sum(
        iot.describe_job(jobId=j)["job"]["jobProcessDetails"]["numberOfSucceededThings"]
        for j in jobs.job_ids
    )
    return Work(
        wall=wall,
        cpu=user + system,
        system_cpu=system,
        load_cpu=load_cpu,
        accepted=total(reports, "accepted"),
        rejected=rejected,
        notify_next=total(reports, "notify_next") - jobs.notify_next,
        succeeded=succeeded,
    )


def bench(args: argparse.Namespace, tmp: Path) -> None:
    root = tmp / "fleet"
    init_fleet(root, key_type=KeyType.EC_P256)
    apply_policy_template(root, "jobs-all")
    mint_devices(root, count=args.devices + WARMUP_DEVICES, key_type=KeyType.EC_P256)
    things = [d.thing_name for d in load_fleet(root).devices[: args.devices]]
    serve = ["emulator", "--fleet", str(root), "--state-dir", str(tmp / "state"),
             "--mqtt-port", "0", "--jobs-port", "0", "--log-level", "WARNING",
             "--quotas", "off"]  # the emulator's own speed, not AWS's quotas  # fmt: skip
    if args.profile:
        command = [sys.executable, __file__, "--profiled-emulator", str(args.profile), *serve]
    else:
        command = [sys.executable, "-m", "simfleet.cli", *serve]

    with supervised() as children:
        emulator = Child("the emulator", command, commands=False)
        children.append(emulator)
        ready = emulator.read(args.time_limit)
        port, pid = int(ready["mqtt_port"]), emulator.pid
        # Warm-up: the emulator's first connects allocate what stays (caches, code paths).
        warmup = loaders(
            children, root, port=port, first=args.devices, count=WARMUP_DEVICES, args=args
        )
        broadcast(warmup, "connect", "connected", args.time_limit)
        stop_all(warmup, args.time_limit)

        group = loaders(children, root, port=port, first=0, count=args.devices, args=args)
        connects = connect(group, pid, args)
        iot = boto3.client(
            "iot", endpoint_url=ready["api_url"], verify=ready["ca_file"],
            region_name=ready["region"], aws_access_key_id=ready["access_key_id"],
            aws_secret_access_key=ready["secret_access_key"],
            config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        arn = f"arn:aws:iot:{ready['region']}:{ready['account_id']}:thing/"
        jobs = create_jobs(iot, group, pid, [arn + t for t in things], args)
        done = work(iot, group, pid, jobs, args)
        iot.close()
        stop_all(group, args.time_limit)
        emulator.process.send_signal(signal.SIGTERM)
        if emulator.process.wait(args.time_limit) != 0:
            raise RuntimeError(f"the emulator exited with code {emulator.process.returncode}")

    if args.profile:
        print_profile(args.profile)
    print_figures(args, connects, jobs, done)


def print_figures(
    args: argparse.Namespace, connects: Connects, jobs: JobsCreated, done: Work
) -> None:
    answered = done.accepted + done.rejected.total()
    expected = args.devices * (5 * args.jobs + 1)
    print(f"devices connected:               {args.devices:,} (EC P-256, 5 subscriptions each)")
    print(f"connects per emulator CPU-second: {args.devices / connects.cpu:,.0f} (target >= 400)")
    print(
        f"RSS per connection:              {connects.rss_per_connection_kb:.1f} KB (target <= 60)"
    )
    print(
        f"jobs created (boto3):            {args.jobs} x {args.devices:,} executions in "
        f"{jobs.wall:.2f} s, {jobs.cpu:.2f} emulator CPU-s; notify-next: {jobs.notify_next:,}"
    )
    print(f"notify-next delivered in work:   {done.notify_next:,}")
    print(f"executions SUCCEEDED (boto3):    {done.succeeded:,} of {args.jobs * args.devices:,}")
    print(f"Jobs requests answered:          {answered:,} of {expected:,} expected")
    print(
        f"  accepted / rejected:           {done.accepted:,} / {done.rejected.total():,} "
        f"{dict(done.rejected)}"
    )
    print(
        f"  in:                            {done.cpu:.2f} emulator CPU-s ({done.system_cpu:.2f} in "
        f"the kernel), {done.wall:.2f} s wall "
        f"(emulator busy {done.cpu / done.wall:.0%}; load generators {done.load_cpu:.2f} CPU-s)"
    )
    rate = answered / done.cpu
    print(f"Jobs request/responses per emulator CPU-second: {rate:,.0f} (target >= 6,000)")


def print_profile(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(30)


def profiled_emulator(path: str, argv: list[str]) -> int:
    """`simfleet emulator` with cProfile switched on by SIGUSR1, off and dumped by SIGUSR2."""
    import cProfile

    from simfleet.cli import main

    profiler = cProfile.Profile()

    def start(_signum: int, _frame: object) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    return main(argv)


def main() -> None:
    if sys.argv[1:2] == ["--profiled-emulator"]:
        sys.exit(profiled_emulator(sys.argv[2], sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4, help="jobs, each targeting every device")
    parser.add_argument("--loaders", type=int, default=2, help="load generator processes")
    parser.add_argument("--window", type=int, default=5, help="requests in flight per device")
    parser.add_argument("--concurrency", type=int, default=32, help="connects in flight per loader")
    parser.add_argument("--time-limit", type=float, default=100.0, help="seconds per phase")
    parser.add_argument("--profile", type=Path, help="write the emulator's profile of phase 3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        bench(args, Path(tmp))


if __name__ == "__main__":
    main()
