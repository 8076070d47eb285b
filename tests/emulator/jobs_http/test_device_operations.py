"""The four Jobs operations of a device on mutual TLS, end to end (spec §2), and executions
that move between HTTPS and MQTT (one core, two drivers)."""

from __future__ import annotations

import json

from tests.emulator.jobs_http.helpers import DOCUMENT, Served


def test_the_four_operations_over_one_keep_alive_connection(
    served: Served, things: list[str]
) -> None:
    thing = things[0]
    served.create_job("job-1", [thing])
    device = served.device(0)
    base = f"/things/{thing}/jobs"

    pending = device.request("GET", base)
    assert pending.status == 200
    assert pending.body["inProgressJobs"] == []
    [queued] = pending.body["queuedJobs"]
    assert queued["jobId"] == "job-1"
    assert (queued["versionNumber"], queued["executionNumber"]) == (1, 1)
    sock = device.connection.sock

    started = device.request(
        "PUT", f"{base}/$next", {"statusDetails": {"step": "download"}, "stepTimeoutInMinutes": 10}
    )
    assert started.status == 200
    execution = started.body["execution"]
    assert execution["status"] == "IN_PROGRESS"
    assert execution["statusDetails"] == {"step": "download"}
    assert execution["versionNumber"] == 2
    # Spec §2: the document is a JSON string; there is no timestamp or clientToken.
    assert isinstance(execution["jobDocument"], str)
    assert json.loads(execution["jobDocument"]) == DOCUMENT
    assert execution["approximateSecondsBeforeTimedOut"] == 600
    assert set(started.body) == {"execution"}

    served.clock.advance(60)
    described = device.request("GET", f"{base}/job-1?executionNumber=1&includeJobDocument=false")
    assert described.status == 200
    assert "jobDocument" not in described.body["execution"]
    assert described.body["execution"]["approximateSecondsBeforeTimedOut"] == 540

    updated = device.request(
        "POST",
        f"{base}/job-1",
        {
            "status": "SUCCEEDED",
            "expectedVersion": 2,
            "statusDetails": {"result": "ok"},
            "includeJobExecutionState": True,
            "includeJobDocument": True,
        },
    )
    assert updated.status == 200
    assert updated.body["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"result": "ok"},
        "versionNumber": 3,
    }
    assert json.loads(updated.body["jobDocument"]) == DOCUMENT

    assert device.request("GET", base).body == {"inProgressJobs": [], "queuedJobs": []}
    assert device.connection.sock is sock  # every call on the same TLS connection
    assert served.server.counters.device.snapshot() == {
        "GetPendingJobExecutions": {"ok": 2},
        "StartNextPendingJobExecution": {"ok": 1},
        "DescribeJobExecution": {"ok": 1},
        "UpdateJobExecution": {"ok": 1},
    }


def test_nothing_pending(served: Served, things: list[str]) -> None:
    device = served.device(0)
    base = f"/things/{things[0]}/jobs"
    # Spec §1.3: start-next and describe $next with nothing pending have no execution.
    assert device.request("PUT", f"{base}/$next").body == {}
    assert device.request("GET", f"{base}/%24next").body == {}


def test_describe_next_is_the_oldest_queued_job(served: Served, things: list[str]) -> None:
    served.create_job("older", [things[0]])
    served.clock.advance(5)
    served.create_job("newer", [things[0]])
    answer = served.device(0).request("GET", f"/things/{things[0]}/jobs/$next")
    assert answer.body["execution"]["jobId"] == "older"


def test_started_over_https_finished_over_mqtt(served: Served, things: list[str]) -> None:
    thing = things[1]
    served.create_job("job-2", [thing])
    device = served.device(1)
    started = device.request("PUT", f"/things/{thing}/jobs/$next", {})
    assert started.body["execution"]["versionNumber"] == 2
    published = len(served.published)

    level, reply = served.mqtt(thing, "job-2/update", {"status": "SUCCEEDED", "expectedVersion": 2})
    assert level == "accepted", reply
    # Terminal: the thing hears notify and notify-next over MQTT (spec §1.3).
    topics = [topic for topic, _ in served.published[published:]]
    assert topics == [f"$aws/things/{thing}/jobs/notify", f"$aws/things/{thing}/jobs/notify-next"]

    described = device.request("GET", f"/things/{thing}/jobs/job-2")
    assert described.body["execution"]["status"] == "SUCCEEDED"
    assert described.body["execution"]["versionNumber"] == 3


def test_started_over_mqtt_finished_over_https(served: Served, things: list[str]) -> None:
    thing = things[2]
    served.create_job("job-3", [thing])
    level, reply = served.mqtt(thing, "start-next", {"clientToken": "c1"})
    assert level == "accepted"
    assert reply["execution"]["status"] == "IN_PROGRESS"

    device = served.device(2)
    updated = device.request(
        "POST",
        f"/things/{thing}/jobs/job-3",
        {"status": "FAILED", "expectedVersion": 2, "includeJobExecutionState": True},
    )
    assert updated.status == 200
    assert updated.body == {"executionState": {"status": "FAILED", "versionNumber": 3}}

    level, reply = served.mqtt(thing, "job-3/get", {})
    assert level == "accepted"
    assert reply["execution"]["status"] == "FAILED"
    # Leaving the terminal state HTTPS set is refused over MQTT too: one core.
    level, reply = served.mqtt(thing, "job-3/update", {"status": "IN_PROGRESS"})
    assert (level, reply["code"]) == ("rejected", "InvalidStateTransition")
