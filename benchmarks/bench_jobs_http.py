"""Jobs HTTPS API over mutual TLS with keep-alive: responses per server CPU-second.

    .venv/bin/python bench_jobs_http.py [pending|describe|update|all] [connections] [seconds]
        [runs]

The server (real Store/Registry/JobsService, one job queued for 16 devices) runs in its own
process; two client processes keep `connections` TLS connections each, one request in flight
per connection. Server CPU is read from /proc/<pid>/stat (user + system). Each operation is
measured `runs` times (default 3) on the same server; the summary gives each one's median and
spread, and the load average before and after (CPU-second rates move less with load than
wall rates, but they move).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import ssl
import statistics
import sys
import tempfile
from pathlib import Path

from certs_tool import apply_policy_template, init_fleet, load_fleet, mint_devices

REGION, ACCOUNT = "eu-west-1", "111122223333"


def serve(root: str, ports: multiprocessing.Queue[int]) -> None:
    from simfleet.emulator.clock import SystemClock
    from simfleet.emulator.control_plane import ControlPlane
    from simfleet.emulator.jobs_http import JobsHttpConfig, JobsHttpServer
    from simfleet.emulator.jobs_service import JobsService
    from simfleet.emulator.registry import Registry
    from simfleet.emulator.store import Store

    async def main() -> None:
        fleet, clock = load_fleet(Path(root)), SystemClock()
        store = Store.open(Path(root) / "state")
        registry = Registry(store, clock=clock)
        registry.register_fleet(fleet)
        jobs = JobsService(store, registry, clock, lambda topic, payload: None)
        ControlPlane(registry, jobs, region=REGION, account_id=ACCOUNT, clock=clock).create_job(
            jobId="j1",
            targets=[f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{d.thing_name}" for d in fleet.devices],
            document='{"op":"x"}',
        )
        server = JobsHttpServer(
            jobs=jobs, principals=registry, credentials={"AKID": "SECRET"},
            certificate=fleet.server_cert_path, private_key=fleet.server_key_path,
            ca_file=fleet.ca_cert_path, config=JobsHttpConfig(region=REGION, account_id=ACCOUNT),
            clock=clock,
        )  # fmt: skip
        ports.put(await server.start())
        await asyncio.Event().wait()

    asyncio.run(main())


def load(root: str, port: int, first: int, connections: int, seconds: float, op: str) -> int:
    fleet = load_fleet(Path(root))

    async def one(index: int, stop: asyncio.Event) -> int:
        device = fleet.devices[index % len(fleet.devices)]
        context = ssl.create_default_context(cafile=str(fleet.ca_cert_path))
        context.load_cert_chain(fleet.cert_path(device), fleet.key_path(device))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        path = f"/things/{device.thing_name}/jobs" + ("" if op == "pending" else "/j1")
        body = b'{"status":"IN_PROGRESS","statusDetails":{"step":"1"}}' if op == "update" else b""
        method = "POST" if op == "update" else "GET"
        request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        count = 0
        while not stop.is_set():
            writer.write(request.encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            count += 1
        writer.close()
        return count

    async def main() -> int:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(one(first + i, stop)) for i in range(connections)]
        await asyncio.sleep(seconds)
        stop.set()
        return sum(await asyncio.gather(*tasks))

    return asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    root: str, port: int, server_pid: int, op: str, connections: int, seconds: float
) -> float:
    with multiprocessing.Pool(2) as pool:
        pool.starmap(load, [(root, port, 0, 2, 1.0, op)])  # warm up
        before = cpu_seconds(server_pid)
        counts = pool.starmap(load, [(root, port, 8 * i, connections, seconds, op) for i in (0, 1)])
        used = cpu_seconds(server_pid) - before
    total = sum(counts)
    print(f"{op}: {total} responses in {seconds:g} s, server CPU {used:.2f} s, "
          f"{total / used:,.0f} per CPU-second, {total / seconds:,.0f}/s")  # fmt: skip
    return total / used


def _load() -> str:
    return " ".join(f"{average:.2f}" for average in os.getloadavg())


def main() -> None:
    chosen = sys.argv[1] if len(sys.argv) > 1 else "all"
    ops = ["pending", "describe", "update"] if chosen == "all" else [chosen]
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        root = tmp + "/fleet"
        init_fleet(Path(root))
        apply_policy_template(Path(root), "jobs-all")
        mint_devices(Path(root), count=16, workers=1)
        ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(root, ports), daemon=True)
        server.start()
        try:
            port = ports.get(timeout=30)
            assert server.pid is not None
            rates = {
                op: [measure(root, port, server.pid, op, connections, seconds) for _ in range(runs)]
                for op in ops
            }
        finally:
            server.terminate()
            server.join(timeout=10)
    print(f"load average (1, 5, 15 min): {load_before} before, {_load()} after")
    for op, found in rates.items():
        print(f"{op}: median {statistics.median(found):,.0f} per CPU-second, "
              f"{min(found):,.0f}-{max(found):,.0f} over {len(found)} runs")  # fmt: skip
    medians = {op: statistics.median(found) for op, found in rates.items()}
    worst = min(medians, key=medians.__getitem__)
    print(
        f"HTTPS Jobs request/responses per server CPU-second, slowest ({worst}): "
        f"{medians[worst]:,.0f} (target >= 5,000)"
    )


if __name__ == "__main__":
    main()
