"""A throttled burst end to end through each driver: over MQTT through the broker (in memory)
to the real Jobs service, and over HTTPS with real TLS, from a device certificate and from an
unmodified boto3 `iot-jobs-data` client (spec §1.4, §2, §6)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from simfleet.emulator.mqtt import PubAck, Publish, QoS
from simfleet.jobs import ExecutionStatus
from tests.emulator.quotas.conftest import MakeServed, MakeStack
from tests.emulator.quotas.helpers import only


def test_mqtt_burst_answered_with_request_throttled(make_stack: MakeStack) -> None:
    stack = make_stack(only(jobs_reads=3.0))
    thing = stack.thing(0)
    stack.create_job("j1", [thing])
    device = stack.connected(0)
    device.subscribe(f"$aws/things/{thing}/jobs/get/+")
    for n in range(5):
        payload = json.dumps({"clientToken": f"c{n}"}).encode()
        device.send(
            Publish(
                topic=f"$aws/things/{thing}/jobs/get",
                payload=payload,
                qos=QoS.AT_LEAST_ONCE,
                packet_id=n + 1,
            )
        )
    packets = device.received()
    # Every request arrived (a Jobs request is no publish over the connection's quota).
    assert [p for p in packets if isinstance(p, PubAck)] == [
        PubAck(packet_id=n) for n in range(1, 6)
    ]
    replies = [
        (p.topic.rsplit("/", 1)[1], json.loads(p.payload))
        for p in packets
        if isinstance(p, Publish)
    ]
    assert [(kind, body["clientToken"]) for kind, body in replies] == [
        ("accepted", "c0"),
        ("accepted", "c1"),
        ("accepted", "c2"),
        ("rejected", "c3"),
        ("rejected", "c4"),
    ]
    assert {body["code"] for kind, body in replies if kind == "rejected"} == {"RequestThrottled"}
    assert not device.closed()
    assert stack.quotas.counters.snapshot()["jobs-reads"] == 2


def test_https_device_burst_answered_429_throttling_exception(make_served: MakeServed) -> None:
    served = make_served(only(jobs_reads=2.0, jobs_writes=1.0))
    thing = served.fleet.devices[0].thing_name
    served.call(lambda: served.stack.create_job("j1", [thing]))
    device = served.device(0)
    answers = [device.request("GET", f"/things/{thing}/jobs") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[2].error_type == "ThrottlingException"
    assert answers[2].body == {"message": "Rate exceeded"}

    started = device.request("PUT", f"/things/{thing}/jobs/$next", {})
    assert started.status == 200
    assert started.body["execution"]["status"] == "IN_PROGRESS"
    update = device.request(
        "POST", f"/things/{thing}/jobs/j1", {"status": "SUCCEEDED", "expectedVersion": 2}
    )
    assert (update.status, update.error_type) == (429, "ThrottlingException")
    execution = served.call(lambda: served.stack.jobs.execution(thing, "j1"))
    assert (execution.status, execution.version_number) == (ExecutionStatus.IN_PROGRESS, 2)

    counters = served.server.counters.device
    assert counters.count("GetPendingJobExecutions", "ThrottlingException") == 1
    assert counters.count("UpdateJobExecution", "ThrottlingException") == 1

    served.call(lambda: served.clock.advance(1.0))
    assert (
        device.request(
            "POST", f"/things/{thing}/jobs/j1", {"status": "SUCCEEDED", "expectedVersion": 2}
        ).status
        == 200
    )


def test_sigv4_caller_shares_the_budget_and_gets_throttling_exception(
    make_served: MakeServed,
) -> None:
    served = make_served(only(jobs_reads=1.0))
    thing = served.fleet.devices[1].thing_name
    device = served.device(1)
    assert device.request("GET", f"/things/{thing}/jobs").status == 200
    client = served.boto3()
    with pytest.raises(ClientError) as throttled:
        client.get_pending_job_executions(thingName=thing)
    error = throttled.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    served.call(lambda: served.clock.advance(1.0))
    assert client.get_pending_job_executions(thingName=thing)["queuedJobs"] == []
    assert served.call(lambda: served.stack.quotas.counters.snapshot()["jobs-reads"]) == 1
