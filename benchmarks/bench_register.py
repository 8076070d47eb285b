"""Registration rate: `register_fleet` against the emulator's control plane with its quotas at
AWS's defaults (RegisterCertificate 10/s, CreateThing / AttachThingPrincipal / AttachPolicy
15/s, ...), against the quota-bound rate those quotas allow (10 devices/s for one policy per
device: 1,000 devices in 100 s). Target (issue #7): ratio >= 0.90.

certs-tool's limiter runs at the same AWS defaults, so the emulator should throttle nothing;
the run also prints how many answers were throttled and retried, and the load average, since
a busy machine slows the emulator's answers (each device makes five sequential calls).

Usage: python benchmarks/bench_register.py [--devices 1000] [--workers 32] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from certs_tool import apply_policy_template, init_fleet, mint_devices
from certs_tool.aws import (
    AWS_DEFAULT_RATES,
    RegisterOptions,
    Stopper,
    connect,
    paced_caller,
    register_fleet,
)


@contextmanager
def _emulator(root: Path, state: Path) -> Iterator[dict[str, Any]]:
    """`simfleet emulator` with an empty registry and its default quotas (AWS's): the ready
    line, while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(root),
         "--state-dir", str(state), "--mqtt-port", "0", "--jobs-port", "0",
         "--no-register-fleet"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the emulator exited before it was ready")
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--dir", type=Path, help="where the fleet and state go (default: temp)")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-register-"))
    root = base / "fleet"
    init_fleet(root, name="bench")
    apply_policy_template(root, "jobs-all")
    mint_devices(root, count=args.devices)
    with _emulator(root, base / "state") as ready:
        os.environ.update(
            AWS_ACCESS_KEY_ID=ready["access_key_id"],
            AWS_SECRET_ACCESS_KEY=ready["secret_access_key"],
            AWS_CA_BUNDLE=ready["ca_file"],
            AWS_EC2_METADATA_DISABLED="true",
        )
        load_before = _load()
        stopper = Stopper()
        client = connect(
            region=ready["region"], endpoint_url=ready["api_url"], max_connections=args.workers
        )
        caller = paced_caller(client, stopper=stopper, rates=AWS_DEFAULT_RATES)
        started = time.monotonic()
        report = register_fleet(
            root, caller, RegisterOptions(workers=args.workers), stopper=stopper
        )
        elapsed = time.monotonic() - started
    print(f"load average (1, 5, 15 min): {load_before} before, {_load()} after")
    print(
        f"{report.registered} devices in {elapsed:.1f} s, {report.calls} calls, "
        f"{report.retried} throttled and retried, {args.workers} workers"
    )
    rate = report.registered / elapsed
    print(
        f"registration: {rate:.2f} devices/s against a quota-bound {report.quota_rate:.2f}/s: "
        f"ratio {rate / report.quota_rate:.3f} (target >= 0.90)"
    )


if __name__ == "__main__":
    main()
