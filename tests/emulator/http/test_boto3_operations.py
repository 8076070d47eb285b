"""An unmodified boto3 `iot` client against the real HTTPS server and the in-test ControlPlane:
operations, typed arguments, pagination, and every error as boto3 sees it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.emulator.http.conftest import MAX_BODY_BYTES, Running
from tests.emulator.http.fakes import job_arn, thing_arn


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_create_describe_cancel_a_job(running: Running) -> None:
    iot = running.client()
    created = iot.create_job(
        jobId="firmware-1",
        targets=[thing_arn("sim-0"), thing_arn("sim-1")],
        document=json.dumps({"operation": "update", "version": 2}),
        description="roll out v2",
        targetSelection="SNAPSHOT",
    )
    assert created["jobId"] == "firmware-1"
    assert created["jobArn"] == job_arn("firmware-1")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"]["RequestId"]

    job = iot.describe_job(jobId="firmware-1")["job"]
    assert job["status"] == "IN_PROGRESS"
    assert job["targets"] == [thing_arn("sim-0"), thing_arn("sim-1")]
    # Timestamps travel as epoch seconds and come back as the same instants.
    assert job["createdAt"] == running.plane.jobs["firmware-1"]["createdAt"]
    assert isinstance(job["createdAt"], datetime)

    canceled = iot.cancel_job(jobId="firmware-1", force=True, comment="stop", reasonCode="BAD")
    assert canceled["jobId"] == "firmware-1"
    job = iot.describe_job(jobId="firmware-1")["job"]
    assert (job["status"], job["forceCanceled"], job["comment"]) == ("CANCELED", True, "stop")


def test_arguments_arrive_typed(running: Running) -> None:
    iot = running.client()
    iot.create_job(jobId="j1", targets=[thing_arn("sim-0")], document="{}")
    iot.list_jobs(status="IN_PROGRESS", maxResults=7)
    iot.cancel_job(jobId="j1", force=True)
    iot.describe_job(jobId="j1", beforeSubstitution=False)
    iot.add_thing_to_thing_group(thingGroupName="fleet-a", thingName="sim-0")
    calls = dict(running.plane.calls)
    assert calls["list_jobs"] == {"status": "IN_PROGRESS", "maxResults": 7, "nextToken": None}
    assert type(calls["list_jobs"]["maxResults"]) is int
    assert calls["cancel_job"]["force"] is True
    assert calls["describe_job"]["beforeSubstitution"] is False
    assert calls["add_thing_to_thing_group"]["thingGroupName"] == "fleet-a"
    assert running.plane.groups == {"fleet-a": {"sim-0"}}


def test_path_labels_are_decoded(running: Running) -> None:
    iot = running.client()
    # botocore percent-encodes labels (":" and " " included); the ControlPlane sees them decoded.
    with pytest.raises(ClientError) as excinfo:
        iot.describe_job(jobId="no such:job")
    assert _error(excinfo) == (
        "ResourceNotFoundException",
        "Job no such:job does not exist.",
        404,
    )
    assert running.plane.calls[-1] == (
        "describe_job",
        {"jobId": "no such:job", "beforeSubstitution": False},
    )


def test_pagination_through_list_jobs(running: Running) -> None:
    iot = running.client()
    for n in range(7):
        iot.create_job(jobId=f"job-{n}", targets=[thing_arn("sim-0")], document="{}")
    pages = list(iot.get_paginator("list_jobs").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["jobs"]) for page in pages] == [3, 3, 1]
    assert [job["jobId"] for page in pages for job in page["jobs"]] == [
        f"job-{n}" for n in range(7)
    ]
    executions = iot.list_job_executions_for_thing(thingName="sim-0", maxResults=5)
    assert len(executions["executionSummaries"]) == 5
    rest = iot.list_job_executions_for_thing(
        thingName="sim-0", maxResults=5, nextToken=executions["nextToken"]
    )
    assert "nextToken" not in rest
    assert rest["executionSummaries"][-1]["jobExecutionSummary"]["status"] == "QUEUED"


def test_describe_thing_and_empty_outputs(running: Running) -> None:
    iot = running.client()
    thing = iot.describe_thing(thingName="sim-1")
    assert thing["thingArn"] == thing_arn("sim-1")
    assert thing["attributes"] == {"model": "x1"}
    added = iot.add_thing_to_thing_group(thingGroupName="g", thingName="sim-1")
    assert set(added) == {"ResponseMetadata"}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda iot: iot.describe_job(jobId="missing"),
            ("ResourceNotFoundException", "Job missing does not exist.", 404),
            id="not-found",
        ),
        pytest.param(
            lambda iot: iot.list_jobs(nextToken="not-a-token"),
            ("InvalidRequestException", "invalid nextToken 'not-a-token'", 400),
            id="invalid-request",
        ),
        pytest.param(
            lambda iot: iot.list_thing_types(),
            (
                "NotImplementedException",
                "The emulator does not implement iot ListThingTypes.",
                501,
            ),
            id="operation-not-implemented",
        ),
        pytest.param(
            lambda iot: iot.create_job(
                jobId="ns", targets=[thing_arn("sim-0")], document="{}", namespaceId="AWS"
            ),
            (
                "NotImplementedException",
                "CreateJob: the emulator does not implement namespaceId.",
                501,
            ),
            id="parameter-not-implemented",
        ),
    ],
)
def test_errors_as_boto3_sees_them(
    running: Running, call: Callable[[Any], object], expected: tuple[str, str, int]
) -> None:
    iot = running.client()
    with pytest.raises(ClientError) as excinfo:
        call(iot)
    assert _error(excinfo) == expected


def test_modeled_error_class(running: Running) -> None:
    iot = running.client()
    iot.create_job(jobId="dup", targets=[thing_arn("sim-0")], document="{}")
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_job(jobId="dup", targets=[thing_arn("sim-0")], document="{}")


def test_operation_failure_is_500_with_one_log_line(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    iot = running.client()
    running.plane.fail_with = ZeroDivisionError("division by zero\nsecond line")
    with (
        caplog.at_level(logging.ERROR, logger="simfleet.emulator.http"),
        pytest.raises(ClientError) as excinfo,
    ):
        iot.describe_thing(thingName="sim-0")
    code, _, status = _error(excinfo)
    assert (code, status) == ("InternalFailureException", 500)
    records = [r for r in caplog.records if r.name == "simfleet.emulator.http"]
    assert len(records) == 1
    line = records[0].getMessage()
    assert "\n" not in line
    assert line.startswith("DescribeThing failed: ZeroDivisionError: division by zero")
    assert "fakes.py:" in line
    # The server keeps serving.
    running.plane.fail_with = None
    assert iot.describe_thing(thingName="sim-0")["thingName"] == "sim-0"


def test_result_outside_the_model_is_500(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    iot = running.client()
    running.plane.bad_output = True
    with (
        caplog.at_level(logging.ERROR, logger="simfleet.emulator.http"),
        pytest.raises(ClientError) as excinfo,
    ):
        iot.describe_thing(thingName="sim-0")
    assert _error(excinfo)[0] == "InternalFailureException"
    assert "notAMember" in caplog.records[-1].getMessage()


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        pytest.param(b"not json", "not valid JSON", id="not-json"),
        pytest.param(b"[1, 2]", "must be a JSON object", id="not-an-object"),
        pytest.param(b'{"targets": "arn"}', "expected a list", id="wrong-member-type"),
        pytest.param(b'{"targets": [1]}', "expected string", id="wrong-item-type"),
        pytest.param(b"\xff\xfe{}", "not valid UTF-8", id="not-utf8"),
        pytest.param(b'{"document": "{}"}', "targets", id="missing-required-member"),
        pytest.param(b"[" * 5000 + b"]" * 5000, "nested too deeply", id="deeply-nested"),
    ],
)
def test_bad_bodies_are_400(running: Running, body: bytes, message_part: str) -> None:
    answer = running.raw(
        "PUT", "/jobs/bad-body", body=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert answer.headers["x-amzn-errortype"] == "InvalidRequestException"
    assert message_part in json.loads(answer.body)["message"]
    assert "bad-body" not in running.plane.jobs


def test_oversized_body_is_400(running: Running) -> None:
    document = json.dumps({"targets": [thing_arn("sim-0")], "document": "x" * MAX_BODY_BYTES})
    answer = running.raw("PUT", "/jobs/big", body=document.encode())
    assert answer.status == 400
    assert answer.headers["x-amzn-errortype"] == "InvalidRequestException"
    assert str(MAX_BODY_BYTES) in json.loads(answer.body)["message"]
    assert running.api.counters.count("CreateJob", "InvalidRequestException") == 1


@pytest.mark.parametrize(
    ("target", "message_part"),
    [
        pytest.param("/jobs?maxResults=many", "maxResults: expected integer", id="bad-integer"),
        pytest.param("/jobs/j/cancel?force=yes", "force: expected true or false", id="bad-bool"),
        pytest.param("/jobs/%ff%fe", "not valid UTF-8", id="bad-label-encoding"),
    ],
)
def test_bad_query_and_path_values_are_400(
    running: Running, target: str, message_part: str
) -> None:
    method = "PUT" if "cancel" in target else "GET"
    answer = running.raw(method, target)
    assert answer.status == 400, answer.body
    assert message_part in json.loads(answer.body)["message"]


def test_unknown_route_is_404(running: Running) -> None:
    answer = running.raw("GET", "/no/such/route")
    assert answer.status == 404
    assert answer.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert json.loads(answer.body) == {"message": "No iot operation matches GET /no/such/route."}
    # A known path with a method no operation uses is no route either.
    assert running.raw("PATCH", "/things").status == 404


def test_counters(running: Running) -> None:
    iot = running.client()
    iot.create_job(jobId="c1", targets=[thing_arn("sim-0")], document="{}")
    for _ in range(3):
        iot.describe_job(jobId="c1")
    with pytest.raises(ClientError):
        iot.describe_job(jobId="c2")
    running.raw("GET", "/nowhere")
    counters = running.api.counters
    assert counters.count("DescribeJob", "ok") == 3
    assert counters.count("DescribeJob") == 4
    assert counters.snapshot()["DescribeJob"] == {"ResourceNotFoundException": 1, "ok": 3}
    assert counters.snapshot()["(unrouted)"] == {"UnknownOperationException": 1}


def test_timestamps_are_epoch_seconds_on_the_wire(running: Running) -> None:
    running.client().create_job(jobId="t1", targets=[thing_arn("sim-0")], document="{}")
    answer = running.raw("GET", "/jobs/t1")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    created = json.loads(answer.body)["job"]["createdAt"]
    assert created == running.plane.jobs["t1"]["createdAt"].timestamp()
    assert datetime.fromtimestamp(created, UTC) == running.plane.jobs["t1"]["createdAt"]
