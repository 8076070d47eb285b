"""The HTTPS device API `iot-jobs-data` (spec §2): routes, bodies, errors."""

import dataclasses
import json

import pytest

from simfleet.jobs import (
    DescribeAccepted,
    DescribeRequest,
    ExecutionStatus,
    GetPendingAccepted,
    GetPendingRequest,
    JobExecution,
    JobExecutionState,
    JobExecutionSummary,
    JobsError,
    JobsErrorCode,
    JobsRequest,
    MalformedMessage,
    StartNextAccepted,
    StartNextRequest,
    UpdateAccepted,
    UpdateRequest,
)
from simfleet.jobs.https import (
    HttpsRequest,
    decode_https_error,
    decode_https_request,
    decode_https_response,
    encode_https_error,
    encode_https_request,
    encode_https_response,
)
from simfleet.jobs.responses import Accepted
from tests.jobs.helpers import as_json

S = ExecutionStatus
EXECUTION = JobExecution(
    job_id="J1",
    thing_name="T:1",
    job_document={"ToDo": "Reboot"},
    status=S.IN_PROGRESS,
    status_details={"step": "1"},
    queued_at=10,
    started_at=11,
    last_updated_at=12,
    version_number=2,
    execution_number=1,
    approximate_seconds_before_timed_out=88,
)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            GetPendingRequest(client_token="dropped"),
            HttpsRequest(method="GET", path="/things/T%3A1/jobs"),
            id="get-pending",
        ),
        pytest.param(
            StartNextRequest(status_details={}, step_timeout_in_minutes=5, client_token="x"),
            HttpsRequest(
                method="PUT",
                path="/things/T%3A1/jobs/%24next",
                body=b'{"statusDetails":{},"stepTimeoutInMinutes":5}',
            ),
            id="start-next",
        ),
        pytest.param(
            DescribeRequest(job_id="J1", execution_number=3),
            HttpsRequest(
                method="GET",
                path="/things/T%3A1/jobs/J1",
                query={"includeJobDocument": "true", "executionNumber": "3"},
            ),
            id="describe",
        ),
        pytest.param(
            UpdateRequest(job_id="J1", status=S.SUCCEEDED, expected_version=2, client_token="x"),
            HttpsRequest(
                method="POST",
                path="/things/T%3A1/jobs/J1",
                body=b'{"status":"SUCCEEDED","expectedVersion":2,'
                b'"includeJobExecutionState":false,"includeJobDocument":false}',
            ),
            id="update",
        ),
    ],
)
def test_requests_round_trip(request_: JobsRequest, expected: HttpsRequest) -> None:
    http = encode_https_request("T:1", request_)
    assert http == expected
    decoded = decode_https_request(http.method, http.path, http.query, http.body or b"")
    # HTTPS has no clientToken (spec §2).
    assert decoded == ("T:1", dataclasses.replace(request_, client_token=None))


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        pytest.param("GET", "/things/T1/jobs", {}, b"", GetPendingRequest(), id="get"),
        pytest.param("get", "/things/T1/jobs/", {}, b"", GetPendingRequest(), id="lowercase-slash"),
        pytest.param("PUT", "/things/T1/jobs/$next", {}, b"", StartNextRequest(), id="no-body"),
        pytest.param(
            "PUT",
            "/things/T1/jobs/%24next",
            {},
            b'{"clientToken":"ignored"}',
            StartNextRequest(),
            id="encoded-next-token-ignored",
        ),
        pytest.param(
            "GET",
            "/things/T1/jobs/$next",
            {"includeJobDocument": "FALSE"},
            b"",
            DescribeRequest(job_id="$next", include_job_document=False),
            id="describe-next",
        ),
        pytest.param(
            "POST",
            "/things/T1/jobs/J1",
            {},
            b'{"status":"REJECTED","expectedVersion":"4"}',
            UpdateRequest(job_id="J1", status=S.REJECTED, expected_version=4),
            id="update",
        ),
    ],
)
def test_service_decodes_calls(
    method: str, path: str, query: dict[str, str], body: bytes, expected: JobsRequest
) -> None:
    assert decode_https_request(method, path, query, body) == ("T1", expected)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", "/things/T1/jobs/J1", id="delete"),
        pytest.param("PUT", "/things/T1/jobs/J1", id="put-job"),
        pytest.param("POST", "/things/T1/jobs", id="post-list"),
        pytest.param("GET", "/things/T1", id="thing"),
        pytest.param("GET", "/jobs/J1", id="control-plane"),
        pytest.param("GET", "/things/T1/jobs/J1/extra", id="too-deep"),
    ],
)
def test_not_a_jobs_route(method: str, path: str) -> None:
    assert decode_https_request(method, path, {}, b"") is None


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "code"),
    [
        pytest.param(
            "GET", "/things/a%20b/jobs", {}, b"", JobsErrorCode.INVALID_REQUEST, id="bad-thing"
        ),
        pytest.param(
            "GET", "/things/T1/jobs/a.b", {}, b"", JobsErrorCode.INVALID_REQUEST, id="bad-job"
        ),
        pytest.param(
            "POST",
            "/things/T1/jobs/$next",
            {},
            b'{"status":"FAILED"}',
            JobsErrorCode.INVALID_REQUEST,
            id="update-next",
        ),
        pytest.param(
            "GET",
            "/things/T1/jobs/J1",
            {"executionNumber": "x"},
            b"",
            JobsErrorCode.INVALID_REQUEST,
            id="execution-number",
        ),
        pytest.param(
            "GET",
            "/things/T1/jobs/J1",
            {"includeJobDocument": "yes"},
            b"",
            JobsErrorCode.INVALID_REQUEST,
            id="include-document",
        ),
        pytest.param(
            "POST", "/things/T1/jobs/J1", {}, b"{", JobsErrorCode.INVALID_JSON, id="bad-json"
        ),
        pytest.param(
            "POST", "/things/T1/jobs/J1", {}, b"{}", JobsErrorCode.INVALID_REQUEST, id="no-status"
        ),
        pytest.param(
            "PUT",
            "/things/T1/jobs/$next",
            {},
            b'{"stepTimeoutInMinutes":0}',
            JobsErrorCode.INVALID_REQUEST,
            id="step-timeout",
        ),
    ],
)
def test_invalid_calls(
    method: str, path: str, query: dict[str, str], body: bytes, code: JobsErrorCode
) -> None:
    with pytest.raises(JobsError) as caught:
        decode_https_request(method, path, query, body)
    assert caught.value.code is code
    assert caught.value.code.https.status == 400


@pytest.mark.parametrize(
    ("request_", "response", "body"),
    [
        pytest.param(
            GetPendingRequest(),
            GetPendingAccepted(
                in_progress_jobs=(
                    JobExecutionSummary(
                        job_id="J1",
                        queued_at=1,
                        started_at=2,
                        last_updated_at=3,
                        version_number=2,
                        execution_number=1,
                    ),
                ),
            ),
            {
                "inProgressJobs": [
                    {
                        "jobId": "J1",
                        "queuedAt": 1,
                        "startedAt": 2,
                        "lastUpdatedAt": 3,
                        "versionNumber": 2,
                        "executionNumber": 1,
                    }
                ],
                "queuedJobs": [],
            },
            id="get-pending",
        ),
        pytest.param(StartNextRequest(), StartNextAccepted(), {}, id="start-next-none"),
        pytest.param(
            DescribeRequest(job_id="J1"),
            DescribeAccepted(execution=EXECUTION),
            {
                "execution": {
                    "jobId": "J1",
                    "thingName": "T:1",
                    "status": "IN_PROGRESS",
                    "statusDetails": {"step": "1"},
                    "queuedAt": 10,
                    "startedAt": 11,
                    "lastUpdatedAt": 12,
                    "approximateSecondsBeforeTimedOut": 88,
                    "versionNumber": 2,
                    "executionNumber": 1,
                    "jobDocument": '{"ToDo":"Reboot"}',
                }
            },
            id="describe-document-as-string",
        ),
        pytest.param(
            UpdateRequest(job_id="J1", status=S.FAILED),
            UpdateAccepted(
                execution_state=JobExecutionState(status=S.FAILED, version_number=3),
                job_document={"a": [1]},
            ),
            {
                "executionState": {"status": "FAILED", "versionNumber": 3},
                "jobDocument": '{"a":[1]}',
            },
            id="update",
        ),
    ],
)
def test_response_bodies(request_: JobsRequest, response: Accepted, body: object) -> None:
    encoded = encode_https_response(response)
    assert as_json(encoded) == body
    assert decode_https_response(request_, encoded) == response


def test_timestamp_and_client_token_are_not_sent_over_https() -> None:
    body = as_json(encode_https_response(UpdateAccepted(timestamp=5, client_token="c")))
    assert body == {}


def test_cli_example_with_fractional_seconds_decodes() -> None:
    # awscli examples/iot-jobs-data/describe-job-execution.rst (spec §2).
    body = json.dumps(
        {
            "execution": {
                "approximateSecondsBeforeTimedOut": 88,
                "executionNumber": 2939653338,
                "jobId": "SampleJob",
                "lastUpdatedAt": 1567701875.743,
                "queuedAt": 1567701902.444,
                "status": "QUEUED",
                "thingName": "MotionSensor1",
                "versionNumber": 3,
            }
        }
    ).encode()
    decoded = decode_https_response(DescribeRequest(job_id="SampleJob"), body)
    assert isinstance(decoded, DescribeAccepted)
    assert decoded.execution is not None
    assert (decoded.execution.queued_at, decoded.execution.last_updated_at) == (
        1567701902,
        1567701875,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"execution":{"jobDocument":{"a":1}}}', id="document-object"),
        pytest.param(b'{"execution":{"jobDocument":"not json"}}', id="document-not-json"),
        pytest.param(b'{"execution":{"jobDocument":"[1]"}}', id="document-not-object"),
    ],
)
def test_https_document_must_be_a_json_object_string(body: bytes) -> None:
    execution = json.loads(body)["execution"]
    execution.update(
        jobId="J", status="QUEUED", queuedAt=1, lastUpdatedAt=1, versionNumber=1, executionNumber=1
    )
    with pytest.raises(MalformedMessage, match="jobDocument"):
        decode_https_response(
            DescribeRequest(job_id="J"), json.dumps({"execution": execution}).encode()
        )


@pytest.mark.parametrize(
    ("code", "error_type", "status"),
    [
        pytest.param(JobsErrorCode.INVALID_TOPIC, "InvalidRequestException", 400, id="topic"),
        pytest.param(JobsErrorCode.INVALID_JSON, "InvalidRequestException", 400, id="json"),
        pytest.param(JobsErrorCode.INVALID_REQUEST, "InvalidRequestException", 400, id="request"),
        pytest.param(
            JobsErrorCode.RESOURCE_NOT_FOUND, "ResourceNotFoundException", 404, id="not-found"
        ),
        pytest.param(
            JobsErrorCode.INVALID_STATE_TRANSITION,
            "InvalidStateTransitionException",
            409,
            id="transition",
        ),
        pytest.param(
            JobsErrorCode.VERSION_MISMATCH, "InvalidStateTransitionException", 409, id="version"
        ),
        pytest.param(
            JobsErrorCode.TERMINAL_STATE_REACHED, "TerminalStateException", 410, id="terminal"
        ),
        pytest.param(JobsErrorCode.REQUEST_THROTTLED, "ThrottlingException", 429, id="throttled"),
        pytest.param(
            JobsErrorCode.INTERNAL_ERROR, "ServiceUnavailableException", 503, id="internal"
        ),
    ],
)
def test_error_mapping(code: JobsErrorCode, error_type: str, status: int) -> None:
    http, body = encode_https_error(JobsError(code, "why"))
    assert (http.error_type, http.status) == (error_type, status)
    assert as_json(body) == {"message": "why"}
    back = decode_https_error(http.status, http.error_type, body)
    assert back.message == "why"
    # VersionMismatch shares InvalidStateTransitionException; InvalidTopic/Json read back as
    # InvalidRequest.
    assert back.code.https == code.https


@pytest.mark.parametrize(
    ("status", "error_type", "body", "code", "message"),
    [
        pytest.param(
            404,
            "ResourceNotFoundException:http://internal.amazon.com/coral/x/",
            b'{"message":"m"}',
            JobsErrorCode.RESOURCE_NOT_FOUND,
            "m",
            id="suffixed",
        ),
        pytest.param(
            400,
            "CertificateValidationException",
            b'{"Message":"cert"}',
            JobsErrorCode.INVALID_REQUEST,
            "cert",
            id="certificate",
        ),
        pytest.param(
            429, None, b"slow down", JobsErrorCode.REQUEST_THROTTLED, "slow down", id="by-status"
        ),
        pytest.param(500, "", b"", JobsErrorCode.INTERNAL_ERROR, "", id="server-error"),
    ],
)
def test_decode_https_error(
    status: int, error_type: str | None, body: bytes, code: JobsErrorCode, message: str
) -> None:
    error = decode_https_error(status, error_type, body)
    assert (error.code, error.message) == (code, message)


def test_unmappable_https_error() -> None:
    with pytest.raises(MalformedMessage):
        decode_https_error(418, "Teapot", b"")
