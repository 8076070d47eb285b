"""The payloads of spec §1.3-§1.4 decode to what they say and re-encode to the same JSON."""

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
    JobsErrorCode,
    Notify,
    NotifyNext,
    Rejected,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
    decode_message,
    decode_request,
    encode_message,
    encode_request,
)
from tests.jobs.helpers import as_json, golden, jobs_topic

P = "$aws/things/T1/jobs"


@pytest.mark.parametrize(
    ("name", "topic", "expected"),
    [
        pytest.param(
            "get_accepted.json",
            f"{P}/get/accepted",
            GetPendingAccepted(
                timestamp=1747316036,
                client_token="c1",
                in_progress_jobs=(
                    JobExecutionSummary(
                        job_id="Job1",
                        queued_at=1747316071,
                        started_at=1747316250,
                        last_updated_at=1747316250,
                        version_number=2,
                        execution_number=1,
                    ),
                ),
                queued_jobs=(
                    JobExecutionSummary(
                        job_id="Job2",
                        queued_at=1747316166,
                        last_updated_at=1747316166,
                        version_number=1,
                        execution_number=1,
                    ),
                ),
            ),
            id="get-accepted",
        ),
        pytest.param(
            "start_next_accepted.json",
            f"{P}/start-next/accepted",
            StartNextAccepted(
                timestamp=1747316850,
                client_token="c2",
                execution=JobExecution(
                    job_id="Job1",
                    status=ExecutionStatus.IN_PROGRESS,
                    status_details={"step": "download"},
                    queued_at=1747316671,
                    started_at=1747316850,
                    last_updated_at=1747316850,
                    version_number=2,
                    execution_number=1,
                    job_document={"ToDo": "Reboot"},
                ),
            ),
            id="start-next-accepted",
        ),
        pytest.param(
            "notify.json",
            f"{P}/notify",
            Notify(
                timestamp=1517017906,
                jobs={
                    ExecutionStatus.IN_PROGRESS: (
                        JobExecutionSummary(
                            job_id="job1",
                            queued_at=1517016947,
                            started_at=1517017472,
                            last_updated_at=1517017472,
                            execution_number=1,
                            version_number=2,
                        ),
                    ),
                    ExecutionStatus.QUEUED: (
                        JobExecutionSummary(
                            job_id="job2",
                            queued_at=1517017191,
                            last_updated_at=1517017191,
                            execution_number=1,
                            version_number=1,
                        ),
                    ),
                },
            ),
            id="notify",
        ),
        pytest.param(
            "notify_next.json",
            f"{P}/notify-next",
            NotifyNext(
                timestamp=1517186269,
                execution=JobExecution(
                    job_id="job2",
                    status=ExecutionStatus.QUEUED,
                    queued_at=1517017191,
                    last_updated_at=1517017191,
                    version_number=1,
                    execution_number=1,
                    job_document={"operation": "test"},
                ),
            ),
            id="notify-next",
        ),
        pytest.param(
            "rejected_version_mismatch.json",
            f"{P}/Job1/update/rejected",
            Rejected(
                code=JobsErrorCode.VERSION_MISMATCH,
                message="…",
                client_token="c4",
                timestamp=1517189392,
                execution_state=JobExecutionState(
                    status=ExecutionStatus.IN_PROGRESS,
                    status_details={"step": "install"},
                    version_number=3,
                ),
            ),
            id="rejected-version-mismatch",
        ),
    ],
)
def test_service_messages(name: str, topic: str, expected: object) -> None:
    payload = golden(name)
    decoded = decode_message(jobs_topic(topic), payload)
    assert decoded == expected
    assert as_json(encode_message(decoded)) == as_json(payload)


@pytest.mark.parametrize(
    ("name", "topic", "expected"),
    [
        pytest.param(
            "get_request.json", f"{P}/get", GetPendingRequest(client_token="c1"), id="get"
        ),
        pytest.param(
            "start_next_request.json",
            f"{P}/start-next",
            StartNextRequest(
                client_token="c2", status_details={"step": "download"}, step_timeout_in_minutes=30
            ),
            id="start-next",
        ),
        pytest.param(
            "describe_request.json",
            f"{P}/Job1/get",
            DescribeRequest(
                job_id="Job1", client_token="c3", execution_number=1, include_job_document=True
            ),
            id="describe",
        ),
        pytest.param(
            "update_request.json",
            f"{P}/Job1/update",
            UpdateRequest(
                job_id="Job1",
                status=ExecutionStatus.SUCCEEDED,
                status_details={"result": "ok"},
                expected_version=2,
                execution_number=1,
                include_job_execution_state=True,
                include_job_document=False,
                step_timeout_in_minutes=10,
                client_token="c4",
            ),
            id="update",
        ),
    ],
)
def test_requests(name: str, topic: str, expected: object) -> None:
    payload = golden(name)
    decoded = decode_request(jobs_topic(topic), payload)
    assert decoded == expected
    assert as_json(encode_request(decoded)) == as_json(payload)


def test_describe_next_with_nothing_pending_has_no_execution() -> None:
    # An AWS maintainer: `$next` with nothing pending is accepted with no `execution` (§1.3).
    payload = b'{"timestamp":1747316850,"clientToken":"c3"}'
    decoded = decode_message(jobs_topic(f"{P}/$next/get/accepted"), payload)
    assert decoded == DescribeAccepted(timestamp=1747316850, client_token="c3")
    assert as_json(encode_message(decoded)) == as_json(payload)
