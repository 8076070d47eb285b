"""MQTT Jobs requests counted between the broker and the real Jobs service."""

from __future__ import annotations

import json

import pytest

from certs_tool import Fleet
from simfleet.emulator.broker import Broker
from simfleet.emulator.http import RequestCounters
from simfleet.emulator.jobs_counting import CountingJobsHandler
from simfleet.emulator.jobs_http import JobsHttpCounters
from simfleet.emulator.metrics import EmulatorMetrics
from simfleet.emulator.mqtt import Publish, QoS
from simfleet.jobs import parse_jobs_topic
from tests.emulator.broker.helpers import FakeScheduler, FleetPrincipals, MemoryClient, device_der
from tests.emulator.metrics.promtext import parse
from tests.emulator.state.helpers import DOCUMENT, State, arn


@pytest.mark.parametrize(
    ("level", "payload", "expected"),
    [
        pytest.param("get", b"{}", ("GetPendingJobExecutions", "ok"), id="get"),
        pytest.param("start-next", b"{}", ("StartNextPendingJobExecution", "ok"), id="start-next"),
        pytest.param(
            "job-1/get", b'{"executionNumber": 1}', ("DescribeJobExecution", "ok"), id="describe"
        ),
        pytest.param(
            "nope/get", b"{}", ("DescribeJobExecution", "ResourceNotFound"), id="no-such-job"
        ),
        pytest.param(
            "job-1/update",
            b'{"status": "SUCCEEDED", "expectedVersion": 9}',
            ("UpdateJobExecution", "VersionMismatch"),
            id="version-mismatch",
        ),
        pytest.param("job-1/update", b"not json", ("UpdateJobExecution", "InvalidJson"), id="json"),
        pytest.param("get/accepted", b"{}", ("(unrouted)", "InvalidTopic"), id="reply-topic"),
        pytest.param("notify", b"{}", ("(unrouted)", "InvalidTopic"), id="notify-topic"),
        pytest.param("whatever", b"{}", ("(unrouted)", "InvalidTopic"), id="unknown-topic"),
    ],
)
def test_each_request_is_counted_by_operation_and_outcome(
    state: State, things: list[str], level: str, payload: bytes, expected: tuple[str, str]
) -> None:
    operation, outcome = expected
    state.control.create_job(jobId="job-1", targets=[arn("thing", things[0])], document=DOCUMENT)
    counting = CountingJobsHandler(state.jobs, RequestCounters())
    topic = parse_jobs_topic(f"$aws/things/{things[0]}/jobs/{level}")
    assert topic is not None
    reply = counting.handle_mqtt(topic, payload)
    assert reply.topic.endswith("/accepted" if outcome == "ok" else "/rejected")
    if outcome != "ok":
        assert json.loads(reply.payload)["code"] == outcome
    assert counting.counters.snapshot() == {operation: {outcome: 1}}


def test_counts_accumulate_and_replies_pass_through_unchanged(
    state: State, things: list[str]
) -> None:
    counting = CountingJobsHandler(state.jobs, RequestCounters())
    topic = parse_jobs_topic(f"$aws/things/{things[0]}/jobs/get")
    assert topic is not None
    for _ in range(5):
        direct = state.jobs.handle_mqtt(topic, b"{}")
        counted = counting.handle_mqtt(topic, b"{}")
        assert (counted.topic, counted.payload) == (direct.topic, direct.payload)
    assert counting.counters.count("GetPendingJobExecutions") == 5
    assert counting.counters.count("GetPendingJobExecutions", "ok") == 5


def _publish(topic: str, packet_id: int) -> Publish:
    return Publish(topic=topic, payload=b"{}", qos=QoS.AT_LEAST_ONCE, packet_id=packet_id)


def test_through_the_broker_metrics_show_rejections_and_denials(
    state: State, shared_fleet: Fleet
) -> None:
    counting = CountingJobsHandler(state.jobs, RequestCounters())
    broker = Broker(
        principals=FleetPrincipals(shared_fleet),
        jobs=counting,
        clock=state.clock,
        scheduler=FakeScheduler(state.clock),
    )
    https = JobsHttpCounters(policy_denials=broker.counters.denials)
    metrics = EmulatorMetrics(
        broker=broker.counters,
        control_plane=RequestCounters(),
        jobs_mqtt=counting.counters,
        jobs_https=https,
        jobs=state.jobs,
    )
    devices = shared_fleet.devices
    device = MemoryClient(broker, device_der(shared_fleet, devices[0]))
    assert device.connect(devices[0].client_id).return_code == 0
    own = f"$aws/things/{devices[0].thing_name}/jobs"
    device.send(_publish(f"{own}/get", 1), _publish(f"{own}/nope/get", 2))
    # The jobs-all policy lets a device publish on its own thing's topics only: this one is
    # denied before the Jobs service sees it, and the connection is closed (spec §4).
    device.send(_publish(f"$aws/things/{devices[1].thing_name}/jobs/get", 3))
    assert device.closed()

    families = parse(metrics.render())
    requests = families["simfleet_jobs_requests_total"]
    assert requests.samples == {
        (requests.name, frozenset(labels.items())): 1.0
        for labels in (
            {"protocol": "mqtt", "operation": "GetPendingJobExecutions", "outcome": "ok"},
            {
                "protocol": "mqtt",
                "operation": "DescribeJobExecution",
                "outcome": "ResourceNotFound",
            },
        )
    }
    assert families["simfleet_policy_denials_total"].by("action") == {"iot:Publish": 1}
    assert families["simfleet_policy_denials_total"].by("policy") == {"iot": 1}
    assert families["simfleet_mqtt_messages_in_total"].value() == 3
    assert families["simfleet_mqtt_connects_accepted_total"].value() == 1
    assert families["simfleet_mqtt_connections_total"].value() == 1
    assert families["simfleet_mqtt_connections"].value() == 0
