"""HTTPS Jobs calls per second from one gevent process: httpx, geventhttpclient, HttpsTransport.

    .venv/bin/python benchmarks/bench_device_https.py [--devices 100] [--seconds 8]

One emulator (`--quotas off`) and one job queued for every device of a freshly minted fleet
(EC P-256). Then, one after the other, a gevent-patched child process per client runs every
device as a greenlet with its own certificate and one keep-alive connection, cycling through
get-pending, describe (with the job document) and update IN_PROGRESS for `--seconds`. Every
client encodes and decodes with `simfleet.jobs.https`, so they differ only in the HTTP client:

    httpx                   httpx.Client (the issue's preferred client), keepalive_expiry 300 s
    geventhttpclient        geventhttpclient.HTTPClient, one per device (Locust's FastHttpSession
                            uses the same pool)
    HttpsTransport          simfleet.device.https (also reports a RequestReport per call)

The two geventhttpclient-based clients run again with every socket above file descriptor 1023,
as in a Locust process that holds thousands of devices. Per run: calls/s (wall; the emulator on
the other core may be what bounds it), calls per client CPU-second (what one Locust core can
drive), TLS handshakes (one per device when keep-alive holds), the two processes' CPU use.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLIENTS = ("httpx", "geventhttpclient", "HttpsTransport")
# Past select()'s FD_SETSIZE: gevent's select.select() calls the real one first (see https.py).
HIGH_FD_FLOOR = 1100
CALL_TIMEOUT = 10.0
TARGET = 2500


# ---- child: one client, every device a greenlet ---------------------------------------------


def child(client: str, spec: dict[str, Any]) -> dict[str, Any]:
    from gevent import monkey  # type: ignore[import-untyped]

    monkey.patch_all()
    import ssl

    import gevent

    from certs_tool import load_fleet
    from simfleet.device.tls import device_ssl_context
    from simfleet.jobs import DescribeRequest, ExecutionStatus, GetPendingRequest, UpdateRequest

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if spec["high_fds"]:
        floor = [os.open(os.devnull, os.O_RDONLY) for _ in range(HIGH_FD_FLOOR)]
        assert floor[-1] > 1023
    handshakes = [0]
    wrap_socket = ssl.SSLContext.wrap_socket

    def counting_wrap_socket(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
        handshakes[0] += 1
        return wrap_socket(self, *args, **kwargs)

    ssl.SSLContext.wrap_socket = counting_wrap_socket  # type: ignore[method-assign]
    fleet = load_fleet(Path(spec["fleet"]))
    devices = fleet.devices[: spec["devices"]]
    job_id = spec["job_id"]
    requests = [
        GetPendingRequest(),
        DescribeRequest(job_id=job_id, include_job_document=True),
        UpdateRequest(
            job_id=job_id, status=ExecutionStatus.IN_PROGRESS, status_details={"step": "bench"}
        ),
    ]
    make = {"httpx": _httpx, "geventhttpclient": _geventhttpclient, "HttpsTransport": _transport}
    callers = [
        make[client](
            spec,
            device.thing_name,
            device_ssl_context(fleet.ca_cert_path, fleet.cert_path(device), fleet.key_path(device)),
        )
        for device in devices
    ]
    for call in callers:  # warm up: every connection open before the clock starts
        call(requests[0])
    counts = {"ok": 0, "failed": 0}
    deadline = time.monotonic() + spec["seconds"]

    def loop(call: Callable[[Any], bool]) -> None:
        index = 0
        while time.monotonic() < deadline:
            counts["ok" if call(requests[index % 3]) else "failed"] += 1
            index += 1

    before = os.times()
    started = time.monotonic()
    gevent.joinall([gevent.spawn(loop, call) for call in callers], raise_error=True)
    wall = time.monotonic() - started
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return {**counts, "wall": wall, "cpu": cpu, "handshakes": handshakes[0]}


def _httpx(spec: dict[str, Any], thing: str, context: Any) -> Callable[[Any], bool]:
    import httpx

    from simfleet.jobs.https import decode_https_response, encode_https_request

    client = httpx.Client(
        base_url=f"https://{spec['host']}:{spec['port']}",
        verify=context,
        timeout=CALL_TIMEOUT,
        # httpx closes idle connections after 5 s by default, less than a polling interval.
        limits=httpx.Limits(max_connections=1, keepalive_expiry=300.0),
    )

    def call(request: Any) -> bool:
        encoded = encode_https_request(thing, request)
        response = client.request(
            encoded.method, encoded.path, params=dict(encoded.query), content=encoded.body
        )
        if response.status_code != 200:
            return False
        decode_https_response(request, response.content)
        return True

    return call


def _geventhttpclient(spec: dict[str, Any], thing: str, context: Any) -> Callable[[Any], bool]:
    from urllib.parse import urlencode

    from geventhttpclient import HTTPClient

    from simfleet.jobs.https import decode_https_response, encode_https_request

    client = HTTPClient(
        spec["host"],
        spec["port"],
        ssl=True,
        ssl_context_factory=lambda **_: context,
        connection_timeout=CALL_TIMEOUT,
        network_timeout=CALL_TIMEOUT,
        concurrency=1,
    )

    def call(request: Any) -> bool:
        encoded = encode_https_request(thing, request)
        target = f"{encoded.path}?{urlencode(encoded.query)}" if encoded.query else encoded.path
        response = client.request(encoded.method, target, body=encoded.body)
        body = response.read()
        if response.status_code != 200:
            return False
        decode_https_response(request, body)
        return True

    return call


def _transport(spec: dict[str, Any], thing: str, context: Any) -> Callable[[Any], bool]:
    from collections import deque

    from simfleet.device import DeviceError, RequestReport
    from simfleet.device.https import HttpsConfig, HttpsTransport

    rows: deque[RequestReport] = deque(maxlen=1)  # a listener that keeps nothing
    transport = HttpsTransport(
        thing,
        config=HttpsConfig(host=spec["host"], port=spec["port"]),
        ssl_context=context,
        report=rows.append,
    )
    transport.connect()

    def call(request: Any) -> bool:
        try:
            transport.call(request, timeout=CALL_TIMEOUT)
        except DeviceError:
            return False
        return True

    return call


# ---- parent: fleet, emulator, one child per run ---------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(client: str, spec: dict[str, Any], emulator_pid: int) -> dict[str, Any]:
    before = cpu_seconds(emulator_pid)
    done = subprocess.run(
        [sys.executable, __file__, "--child", client],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=spec["seconds"] + 120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{client}: the child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["emulator_cpu"] = cpu_seconds(emulator_pid) - before
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        json.dump(child(args.child, json.load(sys.stdin)), sys.stdout)
        return

    import boto3  # type: ignore[import-untyped]

    from certs_tool import apply_policy_template, init_fleet, load_fleet, mint_devices

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        init_fleet(root, name="bench-https")
        apply_policy_template(root, "jobs-all")
        mint_devices(root, count=args.devices, workers=1)
        fleet = load_fleet(root)
        emulator = subprocess.Popen(
            [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(root),
             "--state-dir", str(Path(tmp) / "state"), "--mqtt-port", "0", "--jobs-port", "0",
             "--quotas", "off", "--log-level", "WARNING"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert emulator.stdout is not None
        ready = json.loads(emulator.stdout.readline())
        try:
            iot = boto3.client(
                "iot", endpoint_url=ready["api_url"], verify=ready["ca_file"],
                region_name=ready["region"], aws_access_key_id=ready["access_key_id"],
                aws_secret_access_key=ready["secret_access_key"],
            )  # fmt: skip
            arn = f"arn:aws:iot:{ready['region']}:{ready['account_id']}:thing/"
            iot.create_job(
                jobId="bench",
                targets=[arn + device.thing_name for device in fleet.devices],
                document=json.dumps({"operation": "firmware-update", "version": "2.1.0"}),
            )
            iot.close()
            spec = {
                "host": ready["host"],
                "port": ready["jobs_port"],
                "fleet": str(root),
                "devices": args.devices,
                "seconds": args.seconds,
                "job_id": "bench",
            }
            results = {}
            for client, high_fds in [
                ("httpx", False),
                ("geventhttpclient", False),
                ("HttpsTransport", False),
                ("geventhttpclient", True),
                ("HttpsTransport", True),
            ]:
                label = client + (" (fds > 1023)" if high_fds else "")
                results[label] = run(client, {**spec, "high_fds": high_fds}, emulator.pid)
        finally:
            emulator.terminate()
            emulator.communicate(timeout=30)

    print(f"{args.devices} devices, {args.seconds:g} s per run, one keep-alive connection each")
    print(f"{'client':32} {'calls':>8} {'failed':>6} {'calls/s':>8} {'per CPU-s':>9} "
          f"{'client CPU':>10} {'emul. CPU':>9} {'TLS hs':>6}")  # fmt: skip
    for label, r in results.items():
        print(f"{label:32} {r['ok']:8,} {r['failed']:6,} {r['ok'] / r['wall']:8,.0f} "
              f"{r['ok'] / r['cpu']:9,.0f} {r['cpu'] / r['wall']:10.0%} "
              f"{r['emulator_cpu'] / r['wall']:9.0%} {r['handshakes']:6,}")  # fmt: skip
    rate = {label: r["ok"] / r["wall"] for label, r in results.items()}
    per_cpu = {label: r["ok"] / r["cpu"] for label, r in results.items()}
    print(f"geventhttpclient / httpx: {rate['geventhttpclient'] / rate['httpx']:.2f}x calls/s, "
          f"{per_cpu['geventhttpclient'] / per_cpu['httpx']:.2f}x per CPU-second")  # fmt: skip
    print(f"HttpsTransport / httpx: {rate['HttpsTransport'] / rate['httpx']:.2f}x calls/s, "
          f"{per_cpu['HttpsTransport'] / per_cpu['httpx']:.2f}x per CPU-second")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"HTTPS Jobs calls/s per process (HttpsTransport): {rate['HttpsTransport']:,.0f}, "
        f"{per_cpu['HttpsTransport']:,.0f} per client CPU-second (target >= {TARGET:,})"
    )


if __name__ == "__main__":
    main()
