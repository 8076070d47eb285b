"""`make demo` until the Locust devices land (issue #5): a small fleet on the embedded emulator
runs one job end to end, and the control plane says how it went.

Each device is a paho-mqtt client with its own certificate, driven by the sans-io
`simfleet.jobs.JobsClient`: notify-next → start-next → (work) → update SUCCEEDED, or FAILED for
a few. The job is created through an unmodified boto3 client, as an operator would.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from certs_tool import (
    DeviceRecord,
    Fleet,
    apply_policy_template,
    init_fleet,
    load_fleet,
    mint_devices,
)
from simfleet.jobs import (
    ExecutionStatus,
    JobsClient,
    JobsErrorCode,
    JobsRequest,
    NotifyNext,
    Rejected,
    ReplyReceived,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
)

JOB_ID = "demo-1"
# paho's threaded loop waits with select(), which fails silently past file descriptor 1023, and
# each client holds three. The Locust devices (issue #5) drive sockets without select().
MAX_DEVICES = 300


class DemoDevice:
    """One device: a paho connection (own TLS context, client ID = thing name) and a JobsClient."""

    def __init__(
        self, fleet: Fleet, record: DeviceRecord, port: int, *, fail_rate: float, seed: int
    ) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(fleet.ca_cert_path)
        context.load_cert_chain(fleet.cert_path(record), fleet.key_path(record))
        self._jobs = JobsClient(record.thing_name)
        self._lock = threading.Lock()  # paho's thread and the work timers share the JobsClient
        self._random = random.Random(seed)  # noqa: S311 - simulated outcomes, not secrets
        self._fail_rate = fail_rate
        self._port = port
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=record.thing_name, protocol=mqtt.MQTTv311
        )
        self.client.tls_set_context(context)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect("localhost", self._port, keepalive=60)  # SNI, as AWS requires
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(topic, 1) for topic in self._jobs.subscriptions()])

    def _send(self, request: JobsRequest) -> None:
        with self._lock:
            outgoing = self._jobs.send(request, now=time.time())
        self.client.publish(outgoing.topic, outgoing.payload, qos=1)

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            event = self._jobs.receive(message.topic, bytes(message.payload))
        if isinstance(event, NotifyNext) and event.execution is not None:
            if event.execution.status is ExecutionStatus.QUEUED:
                self._send(StartNextRequest(status_details={"step": "download"}))
        elif (
            isinstance(event, ReplyReceived)
            and isinstance(event.response, StartNextAccepted)
            and event.response.execution is not None
        ):
            execution = event.response.execution
            failed = self._random.random() < self._fail_rate
            update = UpdateRequest(
                job_id=execution.job_id,
                status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCEEDED,
                expected_version=execution.version_number,
                status_details={"result": "checksum mismatch" if failed else "installed"},
            )
            # The "work": a second or so of download and install.
            threading.Timer(self._random.uniform(0.2, 1.5), self._send, (update,)).start()
        elif (
            isinstance(event, ReplyReceived)
            and isinstance(event.response, Rejected)
            and event.response.code is JobsErrorCode.REQUEST_THROTTLED
        ):
            # What a real agent does on AWS's Jobs quota: the same request again, later.
            retry = dataclasses.replace(event.request, client_token=None)
            threading.Timer(self._random.uniform(0.5, 2.0), self._send, (retry,)).start()


def prepare_fleet(root: Path, devices: int) -> Fleet:
    if not (root / "fleet.json").exists():
        init_fleet(root, name="demo")
        apply_policy_template(root, "jobs-all")
    mint_devices(root, count=devices)  # idempotent: a re-run reuses the fleet
    return load_fleet(root)


def start_emulator(fleet: Fleet, state_dir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(fleet.root),
         "--state-dir", str(state_dir), "--mqtt-port", "0", "--jobs-port", "0",
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=10)
        raise SystemExit("demo: the emulator did not start (see its error above)")
    return process, json.loads(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--fleet-dir", type=Path, default=Path("demo-fleet"))
    parser.add_argument("--fail-rate", type=float, default=0.03)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    if not 1 <= args.devices <= MAX_DEVICES:
        parser.error(f"--devices must be 1-{MAX_DEVICES} (paho's select() limit)")

    started = time.monotonic()
    fleet = prepare_fleet(args.fleet_dir, args.devices)
    devices_used = fleet.devices[: args.devices]
    with tempfile.TemporaryDirectory() as state:
        emulator, ready = start_emulator(fleet, Path(state))
        devices = [
            DemoDevice(fleet, record, ready["mqtt_port"], fail_rate=args.fail_rate, seed=i)
            for i, record in enumerate(devices_used)
        ]
        iot = boto3.client(
            "iot", endpoint_url=ready["api_url"], verify=ready["ca_file"],
            region_name=ready["region"], aws_access_key_id=ready["access_key_id"],
            aws_secret_access_key=ready["secret_access_key"],
        )  # fmt: skip
        try:
            for device in devices:
                device.start()
            for device in devices:
                if not device.subscribed.wait(30):
                    raise SystemExit("demo: a device did not connect within 30 s")
            print(f"demo: {len(devices)} devices connected over mutual TLS "
                  f"in {time.monotonic() - started:.1f}s; creating job {JOB_ID}")  # fmt: skip
            arn = f"arn:aws:iot:{ready['region']}:{ready['account_id']}:thing/"
            iot.create_job(
                jobId=JOB_ID,
                targets=[arn + d.thing_name for d in devices_used],
                document=json.dumps({"operation": "firmware-update", "version": "2.1.0"}),
            )
            details = _wait_for_job(iot, args.timeout)
        finally:
            for device in devices:
                device.stop()
            iot.close()
            emulator.terminate()
            emulator.communicate(timeout=30)  # waits, and closes the pipe
    succeeded = details.get("numberOfSucceededThings", 0)
    failed = details.get("numberOfFailedThings", 0)
    pending = details.get("numberOfQueuedThings", 0) + details.get("numberOfInProgressThings", 0)
    total = sum(v for k, v in details.items() if k.startswith("numberOf"))
    print(f"job {JOB_ID}: {total} executions, {succeeded} SUCCEEDED, {failed} FAILED, "
          f"{pending} pending ({time.monotonic() - started:.1f}s in all)")  # fmt: skip
    return 0 if pending == 0 else 1


def _wait_for_job(iot: Any, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        job = iot.describe_job(jobId=JOB_ID)["job"]
        details: dict[str, int] = job.get("jobProcessDetails", {})
        pending = details.get("numberOfQueuedThings", 0) + details.get(
            "numberOfInProgressThings", 0
        )
        if job["status"] != "IN_PROGRESS" or pending == 0 or time.monotonic() > deadline:
            return details
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
