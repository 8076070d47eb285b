"""The emulator process end to end: real TLS, a paho device, an unmodified boto3 client."""

from __future__ import annotations

import json
import queue
import ssl
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import MakeFleet
from tests.emulator.e2e.process import Device, EmulatorProcess

JOB_FILTERS = ("notify-next", "notify", "+/accepted", "+/rejected", "start-next/+")


def test_device_runs_a_job_created_through_boto3(emulator: EmulatorProcess) -> None:
    device_record = emulator.fleet.devices[0]
    device = Device(emulator, device_record)
    assert device.connect() == 0
    device.subscribe(*(f"$aws/things/{device.thing}/jobs/{f}" for f in JOB_FILTERS))

    iot = emulator.iot()
    created = iot.create_job(
        jobId="e2e-1",
        targets=[emulator.thing_arn(device.thing)],
        document=json.dumps({"operation": "reboot"}),
    )
    assert created["jobId"] == "e2e-1"

    notified = device.expect("notify-next")
    assert notified["execution"]["jobId"] == "e2e-1"
    assert notified["execution"]["status"] == "QUEUED"
    assert notified["execution"]["jobDocument"] == {"operation": "reboot"}

    device.publish("start-next", {"clientToken": "t1", "statusDetails": {"step": "download"}})
    started = device.expect("start-next/accepted")
    assert started["clientToken"] == "t1"
    execution = started["execution"]
    assert (execution["jobId"], execution["status"], execution["versionNumber"]) == (
        "e2e-1", "IN_PROGRESS", 2,
    )  # fmt: skip

    device.publish(
        "e2e-1/update",
        {"status": "SUCCEEDED", "expectedVersion": 2, "clientToken": "t2",
         "statusDetails": {"result": "ok"}},
    )  # fmt: skip
    assert device.expect("e2e-1/update/accepted")["clientToken"] == "t2"
    # Leaving the pending set fires notify-next with an empty queue (spec §1.3).
    assert "execution" not in device.expect("notify-next")

    seen = iot.describe_job_execution(jobId="e2e-1", thingName=device.thing)["execution"]
    assert seen["status"] == "SUCCEEDED"
    assert seen["statusDetails"]["detailsMap"] == {"result": "ok"}
    assert iot.describe_job(jobId="e2e-1")["job"]["status"] == "COMPLETED"
    device.close()

    # The live counters, readable from loopback without signing, say what happened.
    context = ssl.create_default_context(cafile=emulator.ready["ca_file"])
    with urllib.request.urlopen(emulator.ready["metrics_url"], context=context, timeout=10) as r:
        metrics = r.read().decode()
    assert 'simfleet_job_executions{status="SUCCEEDED"} 1' in metrics
    assert (
        'simfleet_jobs_requests_total{protocol="mqtt",operation="StartNextPendingJobExecution",'
        'outcome="ok"} 1'
    ) in metrics

    code, log = emulator.stop()
    assert code == 0, log
    assert "Traceback" not in log


def test_rejections_reach_the_requester(emulator: EmulatorProcess) -> None:
    device = Device(emulator, emulator.fleet.devices[1])
    assert device.connect() == 0
    device.subscribe(*(f"$aws/things/{device.thing}/jobs/{f}" for f in JOB_FILTERS))
    device.publish("no-such-job/update", {"status": "SUCCEEDED", "clientToken": "x"})
    rejected = device.expect("no-such-job/update/rejected")
    assert rejected["code"] == "ResourceNotFound"
    assert rejected["clientToken"] == "x"
    device.close()


class TestMustFail:
    def test_certificate_of_another_ca(
        self, emulator: EmulatorProcess, make_fleet: MakeFleet
    ) -> None:
        stranger = make_fleet(count=1)
        device = Device(emulator, stranger.devices[0], fleet=stranger)
        try:
            connack = device.connect()
        except (ssl.SSLError, OSError):  # TLS 1.2 refuses in the handshake
            connack = None
        # TLS 1.3 completes the client's side first; the server then drops the connection.
        assert connack is None
        device.close()

    def test_client_id_of_another_thing(self, emulator: EmulatorProcess) -> None:
        first, second = emulator.fleet.devices[:2]
        device = Device(emulator, first, client_id=second.thing_name)
        assert device.connect() is None  # closed with no CONNACK, as AWS does on MQTT 3.1.1
        device.close()

    def test_publish_on_another_things_topic(self, emulator: EmulatorProcess) -> None:
        first, second = emulator.fleet.devices[:2]
        device = Device(emulator, first)
        assert device.connect() == 0
        device.client.publish(f"$aws/things/{second.thing_name}/jobs/get", b"{}", qos=1)
        assert device.disconnected.wait(10), "the connection should be closed"
        device.close()

    def test_forged_reply_is_refused(self, emulator: EmulatorProcess) -> None:
        # Replies come from the Jobs service only: a device may not publish on a reply topic,
        # not even its own, so no other client can be fooled by a forged "accepted".
        first = emulator.fleet.devices[0]
        watcher = Device(emulator, first)
        assert watcher.connect() == 0
        watcher.subscribe(f"$aws/things/{first.thing_name}/jobs/get/+")
        forger = Device(emulator, emulator.fleet.devices[1])
        assert forger.connect() == 0
        forger.client.publish(f"$aws/things/{first.thing_name}/jobs/get/accepted", b"{}", qos=1)
        assert forger.disconnected.wait(10), "the connection should be closed"
        with pytest.raises(queue.Empty):
            watcher.messages.get(timeout=0.5)
        watcher.close()
        forger.close()

    def test_subscribe_to_another_things_topic(self, emulator: EmulatorProcess) -> None:
        first, second = emulator.fleet.devices[:2]
        device = Device(emulator, first)
        assert device.connect() == 0
        device.client.subscribe(f"$aws/things/{second.thing_name}/jobs/notify-next", qos=1)
        assert device.disconnected.wait(10), "the connection should be closed"
        with pytest.raises(queue.Empty):
            device.messages.get(timeout=0.2)
        device.close()

    def test_unsigned_control_plane_call(self, emulator: EmulatorProcess) -> None:
        context = ssl.create_default_context(cafile=emulator.ready["ca_file"])
        request = urllib.request.Request(f"{emulator.ready['api_url']}/jobs", method="GET")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, context=context, timeout=10)
        with refused.value as response:  # the error holds the open TLS response
            assert response.code == 403
            assert response.headers["x-amzn-ErrorType"].startswith(
                "MissingAuthenticationTokenException"
            )


@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
def test_state_survives_a_restart(make_fleet: MakeFleet, tmp_path, how: str) -> None:  # type: ignore[no-untyped-def]
    fleet = make_fleet(count=3)
    first = EmulatorProcess(fleet, tmp_path / "state").start()
    device = Device(first, fleet.devices[0])
    assert device.connect() == 0
    device.subscribe(*(f"$aws/things/{device.thing}/jobs/{f}" for f in JOB_FILTERS))
    iot = first.iot()
    iot.create_job(jobId="kept", targets=[first.thing_arn(d.thing_name) for d in fleet.devices],
                   document="{}")  # fmt: skip
    device.publish("start-next", {"clientToken": "a"})
    assert device.expect("start-next/accepted")["execution"]["versionNumber"] == 2
    device.close()
    if how == "kill-9":
        first.kill()
    else:
        assert first.stop()[0] == 0

    second = EmulatorProcess(fleet, tmp_path / "state").start()
    try:
        iot = second.iot()
        executions = {
            e["thingArn"].rsplit("/", 1)[1]: e
            for e in iot.list_job_executions_for_job(jobId="kept")["executionSummaries"]
        }
        assert len(executions) == 3
        started = iot.describe_job_execution(jobId="kept", thingName=fleet.devices[0].thing_name)
        assert started["execution"]["status"] == "IN_PROGRESS"
        assert started["execution"]["versionNumber"] == 2
        queued = iot.describe_job_execution(jobId="kept", thingName=fleet.devices[1].thing_name)
        assert queued["execution"]["status"] == "QUEUED"
        assert queued["execution"]["versionNumber"] == 1
    finally:
        assert second.stop()[0] == 0


def test_rollout_advances_with_no_device_traffic(emulator: EmulatorProcess) -> None:
    # The app's timer loop releases a rollout's executions on time by itself: at 60 per
    # minute, one thing a second (the allowance builds up within the minute).
    iot = emulator.iot()
    things = [d.thing_name for d in emulator.fleet.devices]
    iot.create_job(
        jobId="slow-roll",
        targets=[emulator.thing_arn(t) for t in things],
        document="{}",
        jobExecutionsRolloutConfig={"maximumPerMinute": 60},
    )
    first = iot.describe_job(jobId="slow-roll")["job"]["jobProcessDetails"]
    assert first.get("numberOfQueuedThings", 0) < len(things)
    deadline = time.monotonic() + 15
    queued = first.get("numberOfQueuedThings", 0)
    while queued < len(things) and time.monotonic() < deadline:
        time.sleep(0.25)
        details = iot.describe_job(jobId="slow-roll")["job"]["jobProcessDetails"]
        queued = details.get("numberOfQueuedThings", 0)
    assert queued == len(things)
