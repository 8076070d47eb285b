"""MQTT devices in one gevent process: `MqttTransport` against Locust's own MQTT client.

    .venv/bin/python benchmarks/bench_device_mqtt.py [--devices 10000] [--locust-devices 300]

One emulator (`--quotas off`) on one core, a freshly minted fleet (EC P-256), and, one after
the other, a gevent-patched child process per client on the other core:

    MqttTransport   simfleet.device.mqtt: own TLS context per device, hub watchers on the
                    socket (no select()), Jobs requests through JobsClient, a report per call
    locust          locust.contrib.mqtt.MqttClient as MqttUser drives it (connect_async,
                    loop_start: a thread and a socketpair per client, select()), each with its
                    own device context (the emulator, like AWS, wants one certificate per
                    client ID), Jobs requests matched by clientToken in on_message

Each child measures, in order:
  (a) RSS per device: `--devices` devices connected and idle (keep-alive 60 s), RSS after the
      ramp minus RSS before it (a warm-up of a few devices first), over the device count;
  (b) connects per second during that ramp (`--concurrency` connects in flight; TLS context,
      TCP, TLS handshake, CONNECT/CONNACK and SUBSCRIBE/SUBACK for each);
  (c) Jobs request/replies per second: `--rt-devices` of the connected devices each run
      get-pending and describe `$next` one after the other for `--rt-seconds`.
Locust's client waits in select(), which refuses file descriptors past 1023, and holds three
each: it runs `--locust-devices` devices (default 300, where it still works).

Targets (issue #5, one Locust core): >= 10,000 devices at <= 60 KB each, >= 250 connects/s,
>= 3,000 Jobs request/replies/s. Figures are printed last, ours over Locust's as ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RSS_TARGET_KB = 60.0
CONNECTS_TARGET = 250.0
ROUND_TRIPS_TARGET = 3000.0
WARMUP_DEVICES = 20
CALL_TIMEOUT = 10.0
HOLD_SECONDS = 2.0
CLIENTS = ("MqttTransport", "locust")


# ---- child: one client, every device a greenlet ---------------------------------------------


def child(client: str, spec: dict[str, Any]) -> dict[str, Any]:
    from gevent import monkey  # type: ignore[import-untyped]

    monkey.patch_all()
    import gc

    import gevent
    import psutil
    from gevent.pool import Pool  # type: ignore[import-untyped]

    _pin(0, 0)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    make = _ours(spec) if client == "MqttTransport" else _locust(spec)
    process = psutil.Process()
    devices = spec["devices"]
    count = spec["count"]

    def rss() -> int:
        gc.collect()
        return int(process.memory_info().rss)

    warm = [make(device) for device in devices[:WARMUP_DEVICES]]
    for device in warm:
        device.round_trip()
        device.close()
    del warm
    before = rss()
    pool = Pool(spec["concurrency"])
    emulator = spec["emulator_pid"]
    cpu0, started, emulator0 = time.process_time(), time.perf_counter(), cpu_seconds(emulator)
    connected = list(pool.imap(make, devices[WARMUP_DEVICES : WARMUP_DEVICES + count]))
    ramp = time.perf_counter() - started
    ramp_cpu = time.process_time() - cpu0
    ramp_emulator = cpu_seconds(emulator) - emulator0
    max_fd = max(_open_fds())
    gevent.sleep(HOLD_SECONDS)
    after = rss()
    busy = connected[: spec["rt_devices"]]
    deadline = time.perf_counter() + spec["rt_seconds"]
    done: list[int] = []

    def loop(device: Any) -> None:
        n = 0
        while time.perf_counter() < deadline:
            device.round_trip()
            n += 1
        done.append(n)

    cpu0, started, emulator0 = time.process_time(), time.perf_counter(), cpu_seconds(emulator)
    gevent.joinall([gevent.spawn(loop, device) for device in busy], raise_error=True)
    work = time.perf_counter() - started
    work_cpu = time.process_time() - cpu0
    work_emulator = cpu_seconds(emulator) - emulator0
    for device in connected:
        device.close()
    return {
        "devices": count,
        "kb_per_device": (after - before) / count / 1024,
        "connects_per_s": count / ramp,
        "connects_per_cpu_s": count / ramp_cpu,
        "round_trips_per_s": sum(done) / work,
        "round_trips_per_cpu_s": sum(done) / work_cpu,
        "cpu_share": {
            "ramp": {"client": ramp_cpu / ramp, "emulator": ramp_emulator / ramp},
            "work": {"client": work_cpu / work, "emulator": work_emulator / work},
        },
        "max_fd": max_fd,
    }


class _Ours:
    __slots__ = ("_flip", "_transport")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._flip = False

    def round_trip(self) -> None:
        from simfleet.jobs import DescribeRequest, GetPendingRequest

        self._flip = not self._flip
        request = GetPendingRequest() if self._flip else DescribeRequest(job_id="$next")
        self._transport.call(request, timeout=CALL_TIMEOUT)

    def close(self) -> None:
        self._transport.disconnect()


def _ours(spec: dict[str, Any]) -> Callable[[dict[str, str]], _Ours]:
    from simfleet.device.mqtt import MqttConfig, MqttTransport
    from simfleet.device.reports import RequestReport
    from simfleet.device.tls import device_ssl_context

    config = MqttConfig(host=spec["host"], port=spec["port"])
    failures: list[RequestReport] = []

    def report(row: RequestReport) -> None:
        if row.error is not None:
            failures.append(row)
            raise SystemExit(f"MqttTransport: {row.name} failed: {row.error.reason}")

    def make(device: dict[str, str]) -> _Ours:
        context = device_ssl_context(spec["ca_file"], device["cert"], device["key"])
        transport = MqttTransport(
            device["thing"], config=config, ssl_context=context, report=report
        )
        transport.connect()
        return _Ours(transport)

    return make


class _Theirs:
    """A Locust MqttClient holding one device, with Jobs requests matched in on_message."""

    def __init__(self, spec: dict[str, Any], device: dict[str, str], environment: Any) -> None:
        import ssl

        from gevent.event import Event  # type: ignore[import-untyped]
        from locust.contrib.mqtt import MqttClient

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(spec["ca_file"])
        context.load_cert_chain(device["cert"], device["key"])
        self._thing = device["thing"]
        self._replied = Event()
        self._token = 0
        self._subscribed = Event()
        connected = Event()
        client = MqttClient(environment=environment, client_id=self._thing)
        client.tls_set_context(context)
        client.on_message = lambda _c, _u, message: self._on_message(message)
        client.on_connect = lambda *_: connected.set()
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.connect_async(spec["host"], spec["port"], keepalive=60)
        client.loop_start()
        if not connected.wait(CALL_TIMEOUT):
            raise SystemExit(f"locust: {self._thing} did not connect")
        base = f"$aws/things/{self._thing}/jobs"
        client.subscribe([(f"{base}/get/+", 1), (f"{base}/$next/get/+", 1)])
        if not self._subscribed.wait(CALL_TIMEOUT):
            raise SystemExit(f"locust: {self._thing} got no SUBACK")
        self._client = client
        self._waiting = ""

    def _on_message(self, message: Any) -> None:
        if json.loads(message.payload).get("clientToken") == self._waiting:
            self._replied.set()

    def round_trip(self) -> None:
        self._token += 1
        self._waiting = str(self._token)
        self._replied.clear()
        topic = "get" if self._token % 2 else "$next/get"
        payload = json.dumps({"clientToken": self._waiting})
        self._client.publish(f"$aws/things/{self._thing}/jobs/{topic}", payload, qos=1)
        if not self._replied.wait(CALL_TIMEOUT):
            raise SystemExit(f"locust: {self._thing} got no reply")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _locust(spec: dict[str, Any]) -> Callable[[dict[str, str]], _Theirs]:
    from locust.env import Environment

    environment = Environment()
    return lambda device: _Theirs(spec, device, environment)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _open_fds() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


# ---- parent: fleet, emulator, children ------------------------------------------------------


def _pin(pid: int, cpu: int) -> None:
    """Pin a child to one CPU when there are two or more, so that client and emulator each
    have a core (issue #5: the emulator on the other core)."""
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(pid, {cpu})


@contextmanager
def emulator(fleet: Path, state: Path) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(fleet),
         "--state-dir", str(state), "--mqtt-port", "0", "--jobs-port", "0",
         "--quotas", "off", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    _pin(process.pid, 1)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the emulator did not start")
        yield json.loads(line)
    finally:
        process.terminate()
        process.communicate(timeout=60)


def run_child(client: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", client],
        input=json.dumps(spec), capture_output=True, text=True, check=False,
        timeout=spec["time_limit"],
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{client} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--locust-devices", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50, help="connects in flight")
    parser.add_argument("--rt-devices", type=int, default=200)
    parser.add_argument("--rt-seconds", type=float, default=5.0)
    parser.add_argument("--time-limit", type=float, default=600.0, help="per child, seconds")
    parser.add_argument("--fleet-dir", type=Path, help="reuse (and extend) this fleet")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(sys.stdin.read()))))
        return
    if args.devices < args.rt_devices or args.locust_devices < 1:
        parser.error("--devices must be at least --rt-devices, --locust-devices at least 1")

    from certs_tool import KeyType, apply_policy_template, init_fleet, load_fleet, mint_devices

    with tempfile.TemporaryDirectory() as tmp:
        root = args.fleet_dir or Path(tmp) / "fleet"
        if not (root / "fleet.json").exists():
            init_fleet(root, key_type=KeyType.EC_P256, name="bench-mqtt")
            apply_policy_template(root, "jobs-all")
        total = WARMUP_DEVICES + max(args.devices, args.locust_devices)
        mint_devices(root, count=total, key_type=KeyType.EC_P256)
        fleet = load_fleet(root)
        devices = [
            {"thing": d.thing_name, "cert": str(fleet.cert_path(d)), "key": str(fleet.key_path(d))}
            for d in fleet.devices[:total]
        ]
        results: dict[str, dict[str, Any]] = {}
        load = os.getloadavg()
        with emulator(root, Path(tmp) / "state") as ready:
            for client, count in (("MqttTransport", args.devices), ("locust", args.locust_devices)):
                spec = {
                    "host": "localhost",  # a name, so that SNI is sent (spec §5)
                    "port": ready["mqtt_port"],
                    "ca_file": ready["ca_file"],
                    "devices": devices,
                    "count": count,
                    "concurrency": args.concurrency,
                    "rt_devices": min(args.rt_devices, count),
                    "rt_seconds": args.rt_seconds,
                    "time_limit": args.time_limit,
                    "emulator_pid": ready["pid"],
                }
                results[client] = run_child(client, spec)
                print(f"{client}: {json.dumps(results[client])}", flush=True)
    report(results, load)


def report(results: dict[str, dict[str, Any]], load: tuple[float, float, float]) -> None:
    ours, theirs = results["MqttTransport"], results["locust"]
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows = (
        ("RSS per idle device (KB)", "kb_per_device", f"<= {RSS_TARGET_KB:.0f}", True),
        ("connects/s during the ramp", "connects_per_s", f">= {CONNECTS_TARGET:.0f}", False),
        ("connects per client CPU-second", "connects_per_cpu_s", "", False),
        ("Jobs request/replies per s", "round_trips_per_s", f">= {ROUND_TRIPS_TARGET:.0f}", False),
        ("Jobs request/replies per CPU-s", "round_trips_per_cpu_s", "", False),
    )
    print(f"{'':34}{'MqttTransport':>15}{'locust':>10}{'ours/locust':>13}  target")
    print(f"{'devices held':34}{ours['devices']:>15}{theirs['devices']:>10}")
    for label, key, target, lower_is_better in rows:
        ratio = ours[key] / theirs[key]
        note = " (lower is better)" if lower_is_better else ""
        print(f"{label:34}{ours[key]:>15.1f}{theirs[key]:>10.1f}{ratio:>13.2f}  {target}{note}")
    print(f"highest file descriptor: MqttTransport {ours['max_fd']}, locust {theirs['max_fd']}")
    for name, result in results.items():
        shares = ", ".join(
            f"{phase}: client {share['client']:.0%} emulator {share['emulator']:.0%}"
            for phase, share in result["cpu_share"].items()
        )
        print(f"CPU use ({name}) {shares}")


if __name__ == "__main__":
    main()
