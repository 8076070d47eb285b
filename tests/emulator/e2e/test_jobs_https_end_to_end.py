"""The HTTPS Jobs device API of the emulator process: a device with its certificate, and an
unmodified boto3 `iot-jobs-data` client with SigV4, on the same port."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from certs_tool import DeviceRecord
from tests.emulator.e2e.process import Device, EmulatorProcess


def _https_device(emulator: EmulatorProcess, device: DeviceRecord) -> http.client.HTTPSConnection:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(emulator.fleet.ca_cert_path)
    context.load_cert_chain(emulator.fleet.cert_path(device), emulator.fleet.key_path(device))
    return http.client.HTTPSConnection(
        "localhost", emulator.ready["jobs_port"], context=context, timeout=10
    )


def _call(
    connection: http.client.HTTPSConnection, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    payload = None if body is None else json.dumps(body)
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_https_device_and_sigv4_client(emulator: EmulatorProcess) -> None:
    first, second = emulator.fleet.devices[:2]
    iot = emulator.iot()
    iot.create_job(
        jobId="web-1",
        targets=[emulator.thing_arn(d.thing_name) for d in (first, second)],
        document=json.dumps({"url": "https://example.invalid/fw.bin"}),
    )

    # A device with its own certificate, polling as AWS recommends for HTTPS devices.
    device = _https_device(emulator, first)
    status, pending = _call(device, "GET", f"/things/{first.thing_name}/jobs")
    assert status == 200
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["web-1"]
    assert pending["inProgressJobs"] == []
    status, started = _call(device, "PUT", f"/things/{first.thing_name}/jobs/$next",
                            {"statusDetails": {"step": "download"}})  # fmt: skip
    assert status == 200
    assert started["execution"]["status"] == "IN_PROGRESS"
    assert isinstance(started["execution"]["jobDocument"], str)  # a JSON string over HTTPS
    status, _ = _call(device, "POST", f"/things/{first.thing_name}/jobs/web-1",
                      {"status": "SUCCEEDED", "expectedVersion": 2})  # fmt: skip
    assert status == 200
    # Another thing's path is refused by the IoT policy.
    status, error = _call(device, "GET", f"/things/{second.thing_name}/jobs")
    assert status == 403
    assert "message" in error
    device.close()

    # The same port, no certificate: SigV4 with the ready line's credentials.
    jobs = boto3.client(
        "iot-jobs-data",
        endpoint_url=f"https://localhost:{emulator.ready['jobs_port']}",
        region_name=emulator.ready["region"],
        aws_access_key_id=emulator.ready["access_key_id"],
        aws_secret_access_key=emulator.ready["secret_access_key"],
        verify=emulator.ready["ca_file"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    started = jobs.start_next_pending_job_execution(thingName=second.thing_name)
    assert started["execution"]["jobId"] == "web-1"
    jobs.update_job_execution(jobId="web-1", thingName=second.thing_name, status="FAILED",
                              expectedVersion=started["execution"]["versionNumber"])  # fmt: skip
    jobs.close()

    assert iot.describe_job(jobId="web-1")["job"]["status"] == "COMPLETED"
    statuses = {
        s["thingArn"].rsplit("/", 1)[1]: s["jobExecutionSummary"]["status"]
        for s in iot.list_job_executions_for_job(jobId="web-1")["executionSummaries"]
    }
    assert statuses == {first.thing_name: "SUCCEEDED", second.thing_name: "FAILED"}


def test_started_over_https_finished_over_mqtt(emulator: EmulatorProcess) -> None:
    record = emulator.fleet.devices[2]
    emulator.iot().create_job(jobId="mixed", targets=[emulator.thing_arn(record.thing_name)],
                              document="{}")  # fmt: skip
    device = _https_device(emulator, record)
    status, started = _call(device, "PUT", f"/things/{record.thing_name}/jobs/$next", {})
    assert status == 200
    device.close()
    mqtt_device = Device(emulator, record)
    assert mqtt_device.connect() == 0
    mqtt_device.subscribe(f"$aws/things/{record.thing_name}/jobs/+/update/+")
    version = started["execution"]["versionNumber"]
    mqtt_device.publish(
        "mixed/update", {"status": "SUCCEEDED", "clientToken": "m", "expectedVersion": version}
    )
    assert mqtt_device.expect("mixed/update/accepted")["clientToken"] == "m"
    mqtt_device.close()
