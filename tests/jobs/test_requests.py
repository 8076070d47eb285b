"""Device requests: every validation rule the service applies (spec §1.2-§1.4), and round trips."""

import json
from typing import Any

import pytest

from simfleet.jobs import (
    DescribeRequest,
    ExecutionStatus,
    GetPendingRequest,
    JobsError,
    JobsErrorCode,
    JobsRequest,
    StartNextRequest,
    UpdateRequest,
    decode_request,
    encode_request,
)
from tests.jobs.helpers import jobs_topic

P = "$aws/things/T1/jobs"
UPDATE = f"{P}/Job1/update"
START = f"{P}/start-next"
DESCRIBE = f"{P}/Job1/get"
INVALID_JSON = JobsErrorCode.INVALID_JSON
INVALID_REQUEST = JobsErrorCode.INVALID_REQUEST


def update(**members: Any) -> bytes:
    return json.dumps({"status": "IN_PROGRESS", **members}).encode()


def start(**members: Any) -> bytes:
    return json.dumps(members).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "code", "message"),
    [
        # Not UTF-8 JSON: InvalidJson.
        pytest.param(START, b"\xff\xfe{}", INVALID_JSON, "UTF-8", id="not-utf8"),
        pytest.param(START, b"{", INVALID_JSON, "JSON", id="truncated"),
        pytest.param(START, b"hello", INVALID_JSON, "JSON", id="plain-text"),
        pytest.param(START, '{"a":1}'.encode("utf-16"), INVALID_JSON, "JSON", id="utf16"),
        pytest.param(UPDATE, b'{"status":"IN_PROGRESS","x":NaN}', INVALID_JSON, "NaN", id="nan"),
        pytest.param(START, b"[" * 131072, INVALID_JSON, "JSON", id="nested-128k"),
        # JSON but not an object: [U] InvalidRequest.
        pytest.param(START, b"[]", INVALID_REQUEST, "object", id="array"),
        pytest.param(START, b'"x"', INVALID_REQUEST, "object", id="string"),
        # status: required, a device status.
        pytest.param(
            UPDATE,
            b"{}",
            INVALID_REQUEST,
            "Value null at 'status' failed to satisfy constraint: Member must not be null",
            id="status-missing",
        ),
        pytest.param(
            UPDATE,
            b'{"status":null}',
            INVALID_REQUEST,
            "Value null at 'status' failed to satisfy constraint: Member must not be null",
            id="status-null",
        ),
        pytest.param(UPDATE, b'{"status":5}', INVALID_REQUEST, "'status'", id="status-number"),
        pytest.param(UPDATE, update(status="DONE"), INVALID_REQUEST, "enum", id="status-unknown"),
        pytest.param(
            UPDATE, update(status="in_progress"), INVALID_REQUEST, "enum", id="status-lowercase"
        ),
        *(
            pytest.param(
                UPDATE, update(status=s), INVALID_REQUEST, "enum", id=f"status-{s.lower()}"
            )
            for s in ("QUEUED", "CANCELED", "TIMED_OUT", "REMOVED")
        ),
        # statusDetails: string to string; key 1-128 of [a-zA-Z0-9:_-]; value 1-1024, no \p{C}.
        pytest.param(
            UPDATE, update(statusDetails="x"), INVALID_REQUEST, "statusDetails", id="details-string"
        ),
        pytest.param(
            UPDATE, update(statusDetails=["x"]), INVALID_REQUEST, "statusDetails", id="details-list"
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k": 1}),
            INVALID_REQUEST,
            "statusDetails.k",
            id="details-number-value",
        ),
        pytest.param(
            START,
            start(statusDetails={"k": {"a": "b"}}),
            INVALID_REQUEST,
            "statusDetails.k",
            id="details-nested-value",
        ),
        pytest.param(
            UPDATE, update(statusDetails={"": "v"}), INVALID_REQUEST, "Map keys", id="key-empty"
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k" * 129: "v"}),
            INVALID_REQUEST,
            "Map keys",
            id="key-129",
        ),
        pytest.param(
            UPDATE, update(statusDetails={"a b": "v"}), INVALID_REQUEST, "Map keys", id="key-space"
        ),
        pytest.param(
            UPDATE, update(statusDetails={"a.b": "v"}), INVALID_REQUEST, "Map keys", id="key-dot"
        ),
        pytest.param(
            UPDATE, update(statusDetails={"k": ""}), INVALID_REQUEST, "1-1024", id="value-empty"
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k": "v" * 1025}),
            INVALID_REQUEST,
            "1-1024",
            id="value-1025",
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k": "a\nb"}),
            INVALID_REQUEST,
            "p{C}",
            id="value-newline",
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k": "a\u200bb"}),
            INVALID_REQUEST,
            "p{C}",
            id="value-format-char",
        ),
        pytest.param(
            UPDATE,
            update(statusDetails={"k": "a\ue000"}),
            INVALID_REQUEST,
            "p{C}",
            id="value-private-use",
        ),
        # stepTimeoutInMinutes: 1-10080, or -1.
        *(
            pytest.param(
                START,
                start(stepTimeoutInMinutes=v),
                INVALID_REQUEST,
                "stepTimeoutInMinutes",
                id=f"step-{v!r}",
            )
            for v in (0, 10081, -2, "30", 1.5, True)
        ),
        # clientToken: a string of at most 64 bytes (spec §1.2).
        pytest.param(
            START, start(clientToken="t" * 65), INVALID_REQUEST, "clientToken", id="token-65"
        ),
        pytest.param(
            START,
            start(clientToken="é" * 33),
            INVALID_REQUEST,
            "clientToken",
            id="token-66-bytes",
        ),
        pytest.param(START, start(clientToken=7), INVALID_REQUEST, "clientToken", id="token-int"),
        # expectedVersion: a number or a numeric string.
        *(
            pytest.param(
                UPDATE,
                update(expectedVersion=v),
                INVALID_REQUEST,
                "expectedVersion",
                id=f"expected-version-{v!r}",
            )
            for v in ("x", "-1", "2.0", "", 2.0, True, [2])
        ),
        # Other typed members.
        pytest.param(
            UPDATE,
            update(executionNumber="1"),
            INVALID_REQUEST,
            "executionNumber",
            id="execution-number-string",
        ),
        pytest.param(
            DESCRIBE,
            b'{"executionNumber":1.5}',
            INVALID_REQUEST,
            "executionNumber",
            id="describe-execution-number-float",
        ),
        pytest.param(
            DESCRIBE,
            b'{"includeJobDocument":"true"}',
            INVALID_REQUEST,
            "includeJobDocument",
            id="include-document-string",
        ),
        pytest.param(
            UPDATE,
            update(includeJobExecutionState=1),
            INVALID_REQUEST,
            "includeJobExecutionState",
            id="include-state-int",
        ),
        # Not a request topic.
        pytest.param(
            f"{P}/get/accepted", b"{}", JobsErrorCode.INVALID_TOPIC, "request", id="reply-topic"
        ),
        pytest.param(f"{P}/notify", b"{}", JobsErrorCode.INVALID_TOPIC, "request", id="notify"),
    ],
)
def test_invalid_requests(topic: str, payload: bytes, code: JobsErrorCode, message: str) -> None:
    with pytest.raises(JobsError) as caught:
        decode_request(jobs_topic(topic), payload)
    assert caught.value.code is code
    assert message in caught.value.message
    assert caught.value.execution_state is None  # only with InvalidStateTransition/VersionMismatch


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        pytest.param(f"{P}/get", b"", GetPendingRequest(), id="get-empty-payload"),
        pytest.param(f"{P}/get", b"{}", GetPendingRequest(), id="get-empty-object"),
        # aws-iot-device-sdk-embedded-C #1906: start-next with no payload is answered.
        pytest.param(START, b"", StartNextRequest(), id="start-next-empty-payload"),
        pytest.param(
            START, b'{"clientToken":null,"statusDetails":null}', StartNextRequest(), id="nulls"
        ),
        pytest.param(START, start(unknown=1), StartNextRequest(), id="unknown-member-ignored"),
        pytest.param(
            START, start(statusDetails={}), StartNextRequest(status_details={}), id="details-empty"
        ),
        pytest.param(
            START,
            start(statusDetails={"k" * 128: "v" * 1024, "a:b_c-D": "é ü 漢字"}),
            StartNextRequest(status_details={"k" * 128: "v" * 1024, "a:b_c-D": "é ü 漢字"}),
            id="details-limits",
        ),
        *(
            pytest.param(
                START,
                start(stepTimeoutInMinutes=v),
                StartNextRequest(step_timeout_in_minutes=v),
                id=f"step-{v}",
            )
            for v in (1, 10080, -1)
        ),
        pytest.param(
            START,
            start(clientToken="t" * 64),
            StartNextRequest(client_token="t" * 64),
            id="token-64",
        ),
        pytest.param(
            DESCRIBE,
            b"{}",
            DescribeRequest(job_id="Job1", include_job_document=True),
            id="describe-includes-document-by-default",
        ),
        pytest.param(
            f"{P}/$next/get",
            b'{"includeJobDocument":false}',
            DescribeRequest(job_id="$next", include_job_document=False),
            id="describe-next",
        ),
        pytest.param(
            UPDATE,
            update(),
            UpdateRequest(
                job_id="Job1",
                status=ExecutionStatus.IN_PROGRESS,
                include_job_execution_state=False,
                include_job_document=False,
            ),
            id="update-defaults",
        ),
        pytest.param(
            UPDATE,
            update(expectedVersion="2"),
            UpdateRequest(job_id="Job1", status=ExecutionStatus.IN_PROGRESS, expected_version=2),
            id="expected-version-string",
        ),
        pytest.param(
            UPDATE,
            update(expectedVersion=2),
            UpdateRequest(job_id="Job1", status=ExecutionStatus.IN_PROGRESS, expected_version=2),
            id="expected-version-number",
        ),
        *(
            pytest.param(
                UPDATE,
                update(status=s.value),
                UpdateRequest(job_id="Job1", status=s),
                id=f"status-{s.value.lower()}",
            )
            for s in (
                ExecutionStatus.IN_PROGRESS,
                ExecutionStatus.SUCCEEDED,
                ExecutionStatus.FAILED,
                ExecutionStatus.REJECTED,
            )
        ),
    ],
)
def test_valid_requests(topic: str, payload: bytes, expected: JobsRequest) -> None:
    assert decode_request(jobs_topic(topic), payload) == expected


def test_rejection_echoes_a_readable_client_token() -> None:
    with pytest.raises(JobsError) as caught:
        decode_request(jobs_topic(UPDATE), b'{"clientToken":"c9","status":"DONE"}')
    assert caught.value.client_token == "c9"


def test_rejection_of_the_token_itself_has_no_token() -> None:
    with pytest.raises(JobsError) as caught:
        decode_request(jobs_topic(START), start(clientToken="t" * 65))
    assert caught.value.client_token is None


@pytest.mark.parametrize(
    ("topic", "request_"),
    [
        pytest.param(f"{P}/get", GetPendingRequest(), id="get-bare"),
        pytest.param(f"{P}/get", GetPendingRequest(client_token="c1"), id="get"),
        pytest.param(START, StartNextRequest(), id="start-next-bare"),
        pytest.param(
            START,
            StartNextRequest(
                client_token="c2", status_details={"a": "b"}, step_timeout_in_minutes=-1
            ),
            id="start-next",
        ),
        pytest.param(DESCRIBE, DescribeRequest(job_id="Job1"), id="describe-bare"),
        pytest.param(
            f"{P}/$next/get",
            DescribeRequest(
                job_id="$next", client_token="c3", execution_number=4, include_job_document=False
            ),
            id="describe",
        ),
        pytest.param(
            UPDATE, UpdateRequest(job_id="Job1", status=ExecutionStatus.FAILED), id="update-bare"
        ),
        pytest.param(
            UPDATE,
            UpdateRequest(
                job_id="Job1",
                status=ExecutionStatus.REJECTED,
                client_token="c4",
                status_details={"why": "no"},
                expected_version=7,
                execution_number=2,
                include_job_execution_state=True,
                include_job_document=True,
                step_timeout_in_minutes=10080,
            ),
            id="update",
        ),
    ],
)
def test_round_trip(topic: str, request_: JobsRequest) -> None:
    payload = encode_request(request_)
    assert decode_request(jobs_topic(topic), payload) == request_
    assert b"null" not in payload  # absent values are left out, never null (spec §1.2)
