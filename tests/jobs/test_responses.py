"""Service messages over MQTT: round trips, omitted-not-null, and device-side decoding."""

import dataclasses
import json
from typing import Any

import pytest

from simfleet.jobs import (
    DescribeAccepted,
    ExecutionStatus,
    GetPendingAccepted,
    JobExecution,
    JobExecutionState,
    JobExecutionSummary,
    JobsError,
    JobsErrorCode,
    MalformedMessage,
    Notify,
    NotifyNext,
    Rejected,
    StartNextAccepted,
    UpdateAccepted,
    decode_message,
    encode_message,
)
from simfleet.jobs.responses import ServiceMessage, message_members
from tests.jobs.helpers import as_json, jobs_topic

P = "$aws/things/T1/jobs"

SUMMARY = JobExecutionSummary(
    job_id="J1", queued_at=10, last_updated_at=10, version_number=1, execution_number=1
)
STARTED = JobExecutionSummary(
    job_id="J0", queued_at=5, started_at=8, last_updated_at=9, version_number=3, execution_number=2
)
STATE = JobExecutionState(status=ExecutionStatus.IN_PROGRESS, version_number=3)
FULL_STATE = JobExecutionState(
    status=ExecutionStatus.FAILED, status_details={"a": "b"}, version_number=4
)
BARE = JobExecution(
    job_id="J1",
    status=ExecutionStatus.QUEUED,
    queued_at=10,
    last_updated_at=10,
    version_number=1,
    execution_number=1,
)
FULL = JobExecution(
    job_id="J1",
    thing_name="T1",
    job_document={"op": "x", "nested": {"list": [1, 2.5, None, True]}},
    status=ExecutionStatus.IN_PROGRESS,
    status_details={"step": "2"},
    queued_at=10,
    started_at=11,
    last_updated_at=12,
    version_number=2,
    execution_number=3,
)
NAMELESS = dataclasses.replace(FULL, thing_name=None)


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        pytest.param(f"{P}/get/accepted", GetPendingAccepted(timestamp=1), id="get-empty"),
        pytest.param(
            f"{P}/get/accepted",
            GetPendingAccepted(
                timestamp=1, client_token="c", in_progress_jobs=(STARTED,), queued_jobs=(SUMMARY,)
            ),
            id="get",
        ),
        pytest.param(f"{P}/start-next/accepted", StartNextAccepted(timestamp=1), id="start-none"),
        pytest.param(
            f"{P}/start-next/accepted",
            StartNextAccepted(timestamp=1, client_token="c", execution=NAMELESS),
            id="start-next",
        ),
        pytest.param(
            f"{P}/$next/get/accepted", DescribeAccepted(timestamp=1, execution=BARE), id="describe"
        ),
        pytest.param(f"{P}/J1/update/accepted", UpdateAccepted(timestamp=1), id="update-bare"),
        pytest.param(
            f"{P}/J1/update/accepted",
            UpdateAccepted(
                timestamp=1, client_token="c", execution_state=FULL_STATE, job_document={"a": 1}
            ),
            id="update-full",
        ),
        pytest.param(
            f"{P}/J1/update/rejected",
            Rejected(
                timestamp=1,
                client_token="c",
                code=JobsErrorCode.INVALID_STATE_TRANSITION,
                message="no",
                execution_state=STATE,
            ),
            id="rejected-with-state",
        ),
        pytest.param(
            f"{P}/get/rejected",
            Rejected(timestamp=1, code=JobsErrorCode.REQUEST_THROTTLED, message="slow down"),
            id="rejected-bare",
        ),
        pytest.param(f"{P}/notify", Notify(timestamp=1), id="notify-empty"),
        pytest.param(
            f"{P}/notify",
            Notify(
                timestamp=1,
                jobs={ExecutionStatus.IN_PROGRESS: (STARTED,), ExecutionStatus.QUEUED: (SUMMARY,)},
            ),
            id="notify",
        ),
        pytest.param(f"{P}/notify-next", NotifyNext(timestamp=1), id="notify-next-empty"),
        pytest.param(
            f"{P}/notify-next", NotifyNext(timestamp=1, execution=NAMELESS), id="notify-next"
        ),
        pytest.param(
            f"{P}/J1/get/accepted",
            DescribeAccepted(timestamp=1, execution=FULL),
            id="describe-full",
        ),
    ],
)
def test_round_trip(topic: str, message: ServiceMessage) -> None:
    payload = encode_message(message)
    assert decode_message(jobs_topic(topic), payload) == message
    assert b"null" not in payload.replace(b"[1,2.5,null,true]", b"")  # only the document's own


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # Both arrays present even when empty (spec §1.3).
        pytest.param(
            GetPendingAccepted(timestamp=5),
            {"timestamp": 5, "inProgressJobs": [], "queuedJobs": []},
            id="get-both-arrays",
        ),
        # No `execution` member when nothing is pending.
        pytest.param(
            StartNextAccepted(timestamp=5, client_token="c"),
            {"timestamp": 5, "clientToken": "c"},
            id="start-next-no-execution",
        ),
        pytest.param(NotifyNext(timestamp=5), {"timestamp": 5}, id="notify-next-no-execution"),
        # An empty pending set is "jobs":{}; a status with no executions is absent.
        pytest.param(Notify(timestamp=5), {"timestamp": 5, "jobs": {}}, id="notify-empty"),
        pytest.param(
            Notify(timestamp=5, jobs={ExecutionStatus.IN_PROGRESS: (), ExecutionStatus.QUEUED: ()}),
            {"timestamp": 5, "jobs": {}},
            id="notify-empty-lists-dropped",
        ),
        # startedAt only after start; no thingName unless set; no approximateSeconds over MQTT.
        pytest.param(
            NotifyNext(
                timestamp=5,
                execution=JobExecution(
                    job_id="J",
                    status=ExecutionStatus.QUEUED,
                    queued_at=1,
                    last_updated_at=1,
                    version_number=1,
                    execution_number=1,
                    approximate_seconds_before_timed_out=60,
                ),
            ),
            {
                "timestamp": 5,
                "execution": {
                    "jobId": "J",
                    "status": "QUEUED",
                    "queuedAt": 1,
                    "lastUpdatedAt": 1,
                    "versionNumber": 1,
                    "executionNumber": 1,
                },
            },
            id="execution-minimal",
        ),
        pytest.param(
            UpdateAccepted(timestamp=5, client_token="c4"),
            {"timestamp": 5, "clientToken": "c4"},
            id="update-accepted-bare",
        ),
    ],
)
def test_encoded_shape(message: ServiceMessage, expected: dict[str, Any]) -> None:
    assert as_json(encode_message(message)) == expected


def test_job_document_is_an_object_over_mqtt() -> None:
    payload = encode_message(StartNextAccepted(timestamp=1, execution=FULL))
    assert as_json(payload)["execution"]["jobDocument"] == FULL.job_document


def test_rejected_round_trips_through_jobs_error() -> None:
    error = JobsError(
        JobsErrorCode.VERSION_MISMATCH, "stale", execution_state=STATE, client_token="c"
    )
    rejected = Rejected.from_error(error, timestamp=9)
    assert rejected == Rejected(
        timestamp=9,
        client_token="c",
        code=JobsErrorCode.VERSION_MISMATCH,
        message="stale",
        execution_state=STATE,
    )
    back = rejected.to_error()
    assert (back.code, back.message, back.execution_state, back.client_token) == (
        error.code,
        error.message,
        error.execution_state,
        error.client_token,
    )


def test_decoding_is_lenient_about_extra_members_and_fractional_seconds() -> None:
    payload = json.dumps(
        {
            "timestamp": 1567701875.743,
            "clientToken": "c",
            "future": {"anything": 1},
            "execution": {
                "jobId": "J",
                "status": "QUEUED",
                "queuedAt": 1567701902.444,
                "lastUpdatedAt": 1567701875,
                "versionNumber": 1,
                "executionNumber": 2939653338,
                "thingArn": "arn:aws:iot:us-west-2:1:thing/T1",
                "startedAt": None,
            },
        }
    ).encode()
    decoded = decode_message(jobs_topic(f"{P}/J/get/accepted"), payload)
    assert decoded == DescribeAccepted(
        timestamp=1567701875,
        client_token="c",
        execution=JobExecution(
            job_id="J",
            status=ExecutionStatus.QUEUED,
            queued_at=1567701902,
            last_updated_at=1567701875,
            version_number=1,
            execution_number=2939653338,
        ),
    )


def _execution(**changes: Any) -> bytes:
    execution = {
        "jobId": "J",
        "status": "QUEUED",
        "queuedAt": 1,
        "lastUpdatedAt": 1,
        "versionNumber": 1,
        "executionNumber": 1,
        **changes,
    }
    return json.dumps({"timestamp": 1, "execution": execution}).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "member"),
    [
        pytest.param(f"{P}/notify-next", b"{", "JSON", id="bad-json"),
        pytest.param(f"{P}/notify-next", b'{"a":' * 100000, "JSON", id="nested-deep"),
        pytest.param(f"{P}/notify-next", b"[1]", "object", id="not-object"),
        pytest.param(f"{P}/notify-next", b"{}", "timestamp", id="notify-next-no-timestamp"),
        pytest.param(f"{P}/notify-next", b'{"timestamp":"1"}', "timestamp", id="ts-string"),
        pytest.param(f"{P}/notify-next", b'{"timestamp":true}', "timestamp", id="ts-bool"),
        pytest.param(f"{P}/notify-next", _execution(jobId=1), "execution.jobId", id="job-id-int"),
        pytest.param(f"{P}/notify-next", _execution(status="DONE"), "status", id="bad-status"),
        pytest.param(
            f"{P}/notify-next", _execution(versionNumber="1"), "versionNumber", id="version-string"
        ),
        pytest.param(
            f"{P}/notify-next", _execution(versionNumber=1.5), "versionNumber", id="version-float"
        ),
        pytest.param(f"{P}/notify-next", _execution(queuedAt=None), "queuedAt", id="no-queued-at"),
        pytest.param(
            f"{P}/notify-next", _execution(jobDocument="{}"), "jobDocument", id="doc-string-mqtt"
        ),
        pytest.param(
            f"{P}/notify-next",
            _execution(statusDetails={"a": 1}),
            "statusDetails.a",
            id="details-value-int",
        ),
        pytest.param(
            f"{P}/notify-next", b'{"timestamp":1,"execution":[]}', "execution", id="execution-list"
        ),
        pytest.param(
            f"{P}/notify",
            b'{"timestamp":1,"jobs":{"DONE":[]}}',
            "jobs.DONE",
            id="notify-bad-status",
        ),
        pytest.param(
            f"{P}/notify",
            b'{"timestamp":1,"jobs":{"QUEUED":[1]}}',
            "QUEUED[0]",
            id="notify-not-summary",
        ),
        pytest.param(
            f"{P}/get/accepted",
            b'{"timestamp":1,"queuedJobs":{}}',
            "queuedJobs",
            id="queued-jobs-object",
        ),
        pytest.param(
            f"{P}/get/rejected",
            b'{"timestamp":1,"code":"Nope","message":"m"}',
            "code",
            id="unknown-error-code",
        ),
        pytest.param(f"{P}/get/rejected", b'{"timestamp":1,"message":"m"}', "code", id="no-code"),
        pytest.param(f"{P}/get", b"{}", "request topic", id="request-topic"),
    ],
)
def test_malformed_service_messages(topic: str, payload: bytes, member: str) -> None:
    with pytest.raises(MalformedMessage, match=member.replace("[", r"\[").replace("]", r"\]")):
        decode_message(jobs_topic(topic), payload)


@pytest.mark.parametrize(
    ("message", "mqtt", "https"),
    [
        pytest.param(StartNextAccepted(timestamp=1, execution=FULL), False, True, id="start-next"),
        pytest.param(DescribeAccepted(timestamp=1, execution=FULL), True, True, id="describe"),
        pytest.param(NotifyNext(timestamp=1, execution=FULL), False, None, id="notify-next"),
    ],
)
def test_thing_name_per_message_and_transport(
    message: ServiceMessage, mqtt: bool, https: bool | None
) -> None:
    """Live MQTT start-next and notify-next payloads have no thingName; the MQTT describe doc
    example and the HTTPS model have one (spec §1.2, §2)."""
    assert ("thingName" in as_json(encode_message(message))["execution"]) == mqtt
    if https is not None:
        body = message_members(message, https=True)
        assert ("thingName" in body["execution"]) == https
