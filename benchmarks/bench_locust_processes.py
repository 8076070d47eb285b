"""Devices a Locust run holds with one process and with `--processes 2` (issue #6).

    .venv/bin/python benchmarks/bench_locust_processes.py [--devices 1000] [--budget-mb 512]

A freshly minted fleet (EC P-256), the emulator started apart (`--quotas off`: the client is
measured, not AWS's limits) and a locustfile of idle MQTT devices (`MqttDevice` alone: connect,
subscribe, look for work once, then wait for notifications that never come) with a two-step
load shape. Two headless runs against it, one after the other: `locust` (one process) and
`locust --processes 2` (a master and two workers, which lease their devices from it). Each
run first holds `--devices` devices, then twice as many: every step spawns its users at once
(no start delay); the benchmark waits until the emulator counts them all connected, lets the
run settle, and samples the RSS and CPU time of the Locust processes, then moves the shape on.
The second step is the measured ramp: the processes are warm (imports, set-up, first users
done).

For each process that runs users (the one process; each worker, which holds half of them):
    RSS per device        (RSS at step 2 - RSS at step 1) / the devices it gained
    RSS with none         RSS at step 1 - its devices x RSS per device
    held at the budget    (--budget-mb - RSS with none) / RSS per device, at most its file
                          descriptor limit (one socket per device)
    connects per CPU-s    the devices it gained in step 2 over the CPU time it spent then
The master of the distributed run holds no device; its RSS is shown apart. Wall-clock
connects/s (step 2, first new connection to last) are shown too, but on a small machine both
runs share its cores with the emulator, which then bounds them. The figure printed last is the
ratio of devices held at the same memory budget per process, `--processes 2` over one process
(the issue asks for about 2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

IDLE_LOCUSTFILE = '''"""Idle MQTT devices in two steps, for bench_locust_processes.py:
BENCH_USERS users while the file BENCH_STEP says 1, twice as many once it says 2; it ends when
it says 0 (the shape ends the run: a headless shape run has no SIGTERM handler yet)."""

import os
from pathlib import Path

from locust import LoadTestShape

from simfleet.locust import MqttDevice

__all__ = ["MqttDevice", "TwoSteps"]


class TwoSteps(LoadTestShape):
    def tick(self):
        step = int(Path(os.environ["BENCH_STEP"]).read_text())
        users = int(os.environ["BENCH_USERS"]) * step
        return (users, users) if step else None
'''
POLL = 0.1  # seconds between looks at the emulator's connection count
SETTLE = 1.5  # seconds after the last device of a step connected, before sampling
CONNECTIONS = "simfleet_mqtt_connections"
MB = 1024 * 1024


@dataclass
class Holder:
    """One Locust process that runs users: RSS and CPU time at the end of each step."""

    pid: int
    share: float  # the fraction of the run's devices it holds
    rss: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def sample(self) -> None:
        process = psutil.Process(self.pid)
        self.rss.append(process.memory_info().rss)
        self.cpu.append(sum(process.cpu_times()[:2]))


@dataclass
class Run:
    name: str
    step: int  # devices of the first step, and those the second adds
    seconds: float  # wall clock of the second step, from its first connection to its last
    holders: list[Holder]
    master_rss: float | None

    def per_device(self, holder: Holder) -> tuple[float, float]:
        """(RSS with no device, RSS per device) of `holder`."""
        devices = self.step * holder.share
        slope = (holder.rss[1] - holder.rss[0]) / devices
        return holder.rss[0] - devices * slope, slope

    def held_at(self, budget: float, fd_limit: int) -> list[int]:
        held = []
        for holder in self.holders:
            base, slope = self.per_device(holder)
            held.append(min(int((budget - base) / slope), fd_limit))
        return held


def connections(ready: dict[str, Any]) -> int:
    context = ssl.create_default_context(cafile=ready["ca_file"])
    with urllib.request.urlopen(ready["metrics_url"], context=context, timeout=5) as answer:
        text = answer.read().decode()
    for line in text.splitlines():
        if line.startswith(CONNECTIONS + " "):
            return int(float(line.split()[1]))
    raise SystemExit(f"the emulator's /metrics has no {CONNECTIONS}")


@contextmanager
def emulator(fleet: Path, state: Path) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(fleet),
         "--state-dir", str(state), "--mqtt-port", "0", "--jobs-port", "0", "--api-port", "0",
         "--quotas", "off", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the emulator did not start")
        yield json.loads(line)
    finally:
        process.terminate()
        process.communicate(timeout=60)


def until_connected(ready: dict[str, Any], count: int, locust: subprocess.Popen[bytes],
                    deadline: float, log: Path) -> tuple[float, float]:  # fmt: skip
    """Wait until the emulator counts `count` connections: (when it first counted more than
    at the call, when it counted them all), monotonic seconds."""
    before = connections(ready)
    first = None
    while (connected := connections(ready)) < count:
        if locust.poll() is not None:
            raise SystemExit(f"locust exited early, see {log}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{connected} of {count} devices connected in time, see {log}")
        if first is None and connected > before:
            first = time.monotonic()
        time.sleep(POLL)
    now = time.monotonic()
    return first or now, now


def run_locust(name: str, extra: list[str], *, ready: dict[str, Any], fleet: Path,
               locustfile: Path, step: int, time_limit: float, work: Path) -> Run:  # fmt: skip
    workers = 2 if extra else 1
    step_file = work / f"step-{workers}"
    step_file.write_text("1")
    log = work / f"locust-{workers}.log"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
               "--only-summary", "--host", f"mqtts://localhost:{ready['mqtt_port']}",
               "--fleet-dir", str(fleet), "--start-delay", "0", "--device-profile", "default",
               "--exit-code-on-error", "0", *extra]  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCUST_"))}
    env = {**clean, "BENCH_USERS": str(step), "BENCH_STEP": str(step_file)}
    deadline = time.monotonic() + time_limit
    with log.open("wb") as output:
        locust = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        parent = psutil.Process(locust.pid)
        while len(processes := parent.children() if workers > 1 else [parent]) < workers:
            time.sleep(POLL)
        holders = [Holder(process.pid, 1 / workers) for process in processes]
        until_connected(ready, step, locust, deadline, log)
        time.sleep(SETTLE)
        for holder in holders:
            holder.sample()
        step_file.write_text("2")
        first, last = until_connected(ready, 2 * step, locust, deadline, log)
        time.sleep(SETTLE)
        for holder in holders:
            holder.sample()
        master_rss = parent.memory_info().rss if workers > 1 else None
    finally:
        step_file.write_text("0")
        try:
            locust.wait(timeout=60)
        except subprocess.TimeoutExpired:
            locust.kill()
            locust.wait()
    closing = time.monotonic() + 60
    while connections(ready) and time.monotonic() < closing:
        time.sleep(0.2)
    return Run(name, step, last - first, holders, master_rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--devices", type=int, default=1000, help="devices of the first step")
    parser.add_argument("--budget-mb", type=float, default=512.0, help="RSS per process")
    parser.add_argument("--time-limit", type=float, default=180.0, help="per run, seconds")
    parser.add_argument("--fleet-dir", type=Path, help="reuse (and extend) this fleet")
    args = parser.parse_args()
    if args.devices < 100:
        parser.error("--devices must be at least 100")

    from certs_tool import KeyType, apply_policy_template, init_fleet, mint_devices

    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100  # Locust's own files
    load = os.getloadavg()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = args.fleet_dir or work / "fleet"
        if not (root / "fleet.json").exists():
            init_fleet(root, key_type=KeyType.EC_P256, name="bench-processes")
            apply_policy_template(root, "jobs-all")
        mint_devices(root, count=2 * args.devices, key_type=KeyType.EC_P256)
        locustfile = work / "idle.py"
        locustfile.write_text(IDLE_LOCUSTFILE)
        with emulator(root, work / "state") as ready:
            for name, extra in (("1 process", []), ("--processes 2", ["--processes", "2"])):
                run = run_locust(
                    name, extra, ready=ready, fleet=root, locustfile=locustfile,
                    step=args.devices, time_limit=args.time_limit, work=work,
                )  # fmt: skip
                runs.append(run)
                print(f"{name}: {args.devices} devices, then {args.devices} more connected "
                      f"in {run.seconds:.1f}s", flush=True)  # fmt: skip
    report(runs, args.budget_mb * MB, fd_limit, load)


def report(runs: list[Run], budget: float, fd_limit: int, load: tuple[float, float, float]) -> None:
    print(f"load average before the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    held = {}
    for run in runs:
        print(f"{run.name}: {run.step / run.seconds:.0f} connects/s (wall clock, step 2)")
        counts = run.held_at(budget, fd_limit)
        for holder, count in zip(run.holders, counts, strict=True):
            base, slope = run.per_device(holder)
            devices = run.step * holder.share
            cpu = holder.cpu[1] - holder.cpu[0]
            print(f"  process {holder.pid}: RSS {base / MB:.0f} MB + {slope / 1024:.1f} KB per "
                  f"device, {devices / cpu:.0f} connects per CPU-s, {count} devices within "
                  f"{budget / MB:.0f} MB")  # fmt: skip
        if run.master_rss is not None:
            print(f"  master (no devices): RSS {run.master_rss / MB:.0f} MB")
        held[run.name] = sum(counts)
    one, two = held["1 process"], held["--processes 2"]
    print(f"devices held at {budget / MB:.0f} MB per process: 1 process {one}, "
          f"--processes 2 {two}")  # fmt: skip
    print(f"ratio --processes 2 / 1 process, devices held at a fixed memory budget per "
          f"process: {two / one:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
