"""Callers without a client certificate: an unmodified boto3 `iot-jobs-data` client, SigV4
(issue #4, item 4), and the `authorize` seam where IAM policies will plug in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from certs_tool import Fleet
from simfleet.emulator.http import Caller
from tests.emulator.jobs_http.helpers import DOCUMENT, KEY_ID, Served, thing_arn


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_boto3_runs_the_four_operations(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    thing = things[4]
    served.create_job("job-1", [thing])
    client = served.boto3(boto_session)

    pending = client.get_pending_job_executions(thingName=thing)
    assert pending["inProgressJobs"] == []
    assert [s["jobId"] for s in pending["queuedJobs"]] == ["job-1"]

    started = client.start_next_pending_job_execution(
        thingName=thing, statusDetails={"step": "download"}, stepTimeoutInMinutes=5
    )
    execution = started["execution"]
    assert (execution["status"], execution["versionNumber"]) == ("IN_PROGRESS", 2)
    assert json.loads(execution["jobDocument"]) == DOCUMENT
    assert execution["approximateSecondsBeforeTimedOut"] == 300

    described = client.describe_job_execution(
        thingName=thing, jobId="job-1", includeJobDocument=False, executionNumber=1
    )
    assert described["execution"]["statusDetails"] == {"step": "download"}
    assert "jobDocument" not in described["execution"]
    assert (
        client.describe_job_execution(thingName=thing, jobId="$next")["execution"]["jobId"]
        == "job-1"
    )

    updated = client.update_job_execution(
        thingName=thing,
        jobId="job-1",
        status="SUCCEEDED",
        expectedVersion=2,
        includeJobExecutionState=True,
    )
    assert updated["executionState"] == {
        "status": "SUCCEEDED",
        "statusDetails": {"step": "download"},
        "versionNumber": 3,
    }
    assert client.get_pending_job_executions(thingName=thing)["queuedJobs"] == []
    assert served.server.counters.sigv4.snapshot() == {
        "GetPendingJobExecutions": {"ok": 2},
        "StartNextPendingJobExecution": {"ok": 1},
        "DescribeJobExecution": {"ok": 2},
        "UpdateJobExecution": {"ok": 1},
    }
    # The same execution, seen by the device over mutual TLS.
    seen = served.device(4).request("GET", f"/things/{thing}/jobs/job-1")
    assert seen.body["execution"]["status"] == "SUCCEEDED"


def test_boto3_errors_carry_the_jobs_names(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    thing = things[5]
    served.create_job("job-1", [thing])
    client = served.boto3(boto_session)
    with pytest.raises(ClientError) as excinfo:
        client.describe_job_execution(thingName=thing, jobId="no-such-job")
    assert _error(excinfo) == ("ResourceNotFoundException", 404)
    before = served.executions()
    with pytest.raises(ClientError) as excinfo:
        client.update_job_execution(
            thingName=thing, jobId="job-1", status="IN_PROGRESS", expectedVersion=7
        )
    assert _error(excinfo) == ("InvalidStateTransitionException", 409)
    with pytest.raises(ClientError) as excinfo:
        client.update_job_execution(thingName=thing, jobId="job-1", status="CANCELED")
    assert _error(excinfo) == ("InvalidRequestException", 400)
    assert served.executions() == before


def test_a_wrong_secret_is_refused(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    client = served.boto3(boto_session, secret="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        client.get_pending_job_executions(thingName=things[0])
    assert _error(excinfo) == ("InvalidSignatureException", 403)


class Recorder:
    """An `authorize` that refuses one action and remembers every question."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, caller: Caller, action: str, resource: str) -> bool:
        self.asked.append((caller.access_key_id, action, resource))
        return action != self.refused


@pytest.fixture
def recorder() -> Recorder:
    return Recorder("iotjobsdata:UpdateJobExecution")


@pytest.fixture
def guarded(shared_fleet: Fleet, tmp_path: Path, recorder: Recorder) -> Iterator[Served]:
    served = Served(shared_fleet, tmp_path / "state", authorize=recorder)
    yield served
    served.close()


def test_the_authorize_seam_decides_and_a_refusal_is_access_denied(
    guarded: Served, recorder: Recorder, things: list[str], boto_session: boto3.session.Session
) -> None:
    thing = things[6]
    guarded.create_job("job-1", [thing])
    client = guarded.boto3(boto_session)
    assert client.start_next_pending_job_execution(thingName=thing)["execution"]
    before = guarded.executions()
    with pytest.raises(ClientError) as excinfo:
        client.update_job_execution(thingName=thing, jobId="job-1", status="SUCCEEDED")
    assert _error(excinfo) == ("AccessDeniedException", 403)
    assert "iotjobsdata:UpdateJobExecution" in excinfo.value.response["Error"]["Message"]
    assert guarded.executions() == before
    assert recorder.asked == [
        (KEY_ID, "iotjobsdata:StartNextPendingJobExecution", thing_arn(thing)),
        (KEY_ID, "iotjobsdata:UpdateJobExecution", thing_arn(thing)),
    ]
    counters = guarded.server.counters
    assert counters.iam_denials.snapshot() == {"iotjobsdata:UpdateJobExecution": 1}
    assert counters.sigv4.count("UpdateJobExecution", "AccessDeniedException") == 1
    # Devices are not asked: their IoT Core policies decide.
    assert (
        guarded.device(6)
        .request("POST", f"/things/{thing}/jobs/job-1", {"status": "SUCCEEDED"})
        .status
        == 200
    )
    assert len(recorder.asked) == 2
