"""Device client and service functions wired together in memory, as the drivers will wire them."""

import dataclasses

from simfleet.jobs import (
    ExecutionStatus,
    JobExecutionState,
    JobsClient,
    JobsErrorCode,
    JobsEvent,
    JobsRequest,
    Notify,
    NotifyNext,
    Rejected,
    ReplyReceived,
    StartNextAccepted,
    StartNextRequest,
    UpdateAccepted,
    UpdateRequest,
)
from simfleet.jobs.execution import handle, queue
from simfleet.jobs.https import (
    decode_https_request,
    decode_https_response,
    encode_https_request,
    encode_https_response,
)
from simfleet.jobs.responses import Accepted
from tests.jobs.helpers import THING, InMemoryService, as_json

S = ExecutionStatus


def exchange(
    service: InMemoryService, client: JobsClient, request: JobsRequest
) -> tuple[ReplyReceived, list[JobsEvent | None]]:
    """Send one request; return the matched reply and the notification events that followed."""
    out = client.send(request, now=service.now)
    messages = service.publish(out.topic, out.payload)
    events = [client.receive(topic, payload) for topic, payload in messages]
    assert isinstance(events[0], ReplyReceived)
    return events[0], events[1:]


def test_full_job_start_next_then_in_progress_then_succeeded() -> None:
    service, client = InMemoryService(now=1000), JobsClient(THING, token_prefix="d-")
    queued = service.add(
        queue(thing_name=THING, job_id="Job1", job_document={"ToDo": "Reboot"}, now=1000)
    )
    assert [client.receive(t, p) for t, p in queued] == [
        Notify(timestamp=1000, jobs={S.QUEUED: (service.records[0].summary(),)}),
        NotifyNext(
            timestamp=1000,
            execution=dataclasses.replace(service.records[0].execution(now=1000), thing_name=None),
        ),
    ]

    service.now = 1010
    started, events = exchange(
        service, client, StartNextRequest(status_details={"step": "download"})
    )
    assert events == []  # QUEUED→IN_PROGRESS of the head fires neither notification
    assert isinstance(started.response, StartNextAccepted)
    execution = started.response.execution
    assert execution is not None
    assert (execution.job_id, execution.status, execution.version_number) == (
        "Job1",
        S.IN_PROGRESS,
        2,
    )
    assert execution.job_document == {"ToDo": "Reboot"}

    service.now = 1020
    progress, events = exchange(
        service,
        client,
        UpdateRequest(
            job_id="Job1",
            status=S.IN_PROGRESS,
            status_details={"step": "install"},
            expected_version=2,
            include_job_execution_state=True,
        ),
    )
    assert events == []
    assert progress.response == UpdateAccepted(
        timestamp=1020,
        client_token=progress.request.client_token,
        execution_state=JobExecutionState(
            status=S.IN_PROGRESS, status_details={"step": "install"}, version_number=3
        ),
    )

    service.now = 1030
    done, events = exchange(
        service, client, UpdateRequest(job_id="Job1", status=S.SUCCEEDED, expected_version=3)
    )
    assert done.accepted
    assert events == [Notify(timestamp=1030), NotifyNext(timestamp=1030)]
    assert service.records[0].status is S.SUCCEEDED
    assert service.records[0].version_number == 4
    assert not client.in_flight


def test_version_mismatch_reaches_the_device_with_the_execution_state() -> None:
    service, client = InMemoryService(now=50), JobsClient(THING)
    service.add(queue(thing_name=THING, job_id="Job1", job_document={}, now=50))
    exchange(service, client, StartNextRequest(status_details={"step": "install"}))
    exchange(service, client, UpdateRequest(job_id="Job1", status=S.IN_PROGRESS))
    stale, events = exchange(
        service, client, UpdateRequest(job_id="Job1", status=S.SUCCEEDED, expected_version=2)
    )
    assert events == []
    assert isinstance(stale.response, Rejected)
    assert stale.response.code is JobsErrorCode.VERSION_MISMATCH
    assert stale.response.client_token == stale.request.client_token
    assert stale.response.execution_state == JobExecutionState(
        status=S.IN_PROGRESS, status_details={"step": "install"}, version_number=3
    )
    assert service.records[0].version_number == 3  # nothing changed


def test_second_job_becomes_next_when_the_first_fails() -> None:
    service, client = InMemoryService(now=10), JobsClient(THING)
    service.add(queue(thing_name=THING, job_id="A", job_document={}, now=10))
    assert [
        t for t, _ in service.add(queue(thing_name=THING, job_id="B", job_document={}, now=11))
    ] == [f"$aws/things/{THING}/jobs/notify"]  # B queued behind A: no notify-next
    exchange(service, client, StartNextRequest())
    _, events = exchange(service, client, UpdateRequest(job_id="A", status=S.FAILED))
    assert isinstance(events[1], NotifyNext)
    assert events[1].execution is not None
    assert events[1].execution.job_id == "B"


def test_invalid_topic_and_invalid_json_are_rejected_on_the_rejected_topic() -> None:
    service = InMemoryService(now=5)
    [(topic, payload)] = service.publish(f"$aws/things/{THING}/jobs/Job1/delete", b"{}")
    assert topic == f"$aws/things/{THING}/jobs/Job1/delete/rejected"
    assert as_json(payload) == {
        "timestamp": 5,
        "code": "InvalidTopic",
        "message": f"Unrecognized topic $aws/things/{THING}/jobs/Job1/delete",
    }
    [(topic, payload)] = service.publish(f"$aws/things/{THING}/jobs/start-next", b"{oops")
    assert topic == f"$aws/things/{THING}/jobs/start-next/rejected"
    assert as_json(payload)["code"] == "InvalidJson"
    [(topic, payload)] = service.publish(
        f"$aws/things/{THING}/jobs/Nope/update", b'{"status":"FAILED","clientToken":"c"}'
    )
    assert as_json(payload)["code"] == "ResourceNotFound"
    assert as_json(payload)["clientToken"] == "c"
    assert "executionState" not in as_json(payload)


def test_same_flow_over_https() -> None:
    records = [queue(thing_name=THING, job_id="Job1", job_document={"ToDo": "x"}, now=1)]

    def call(request: JobsRequest, now: int) -> Accepted:
        http = encode_https_request(THING, request)
        decoded = decode_https_request(http.method, http.path, http.query, http.body or b"")
        assert decoded is not None
        thing, service_request = decoded
        assert thing == THING
        outcome = handle(records, service_request, now)
        if outcome.changed is not None:
            records[:] = [outcome.changed]
        return decode_https_response(request, encode_https_response(outcome.response))

    started = call(StartNextRequest(step_timeout_in_minutes=5), 10)
    assert isinstance(started, StartNextAccepted)
    assert started.execution is not None
    assert started.execution.job_document == {"ToDo": "x"}
    assert started.execution.thing_name == THING
    assert started.execution.approximate_seconds_before_timed_out == 300
    assert started.timestamp is None
    assert started.client_token is None
    done = call(UpdateRequest(job_id="Job1", status=S.SUCCEEDED, include_job_document=True), 20)
    assert done == UpdateAccepted(job_document={"ToDo": "x"})
    assert records[0].status is S.SUCCEEDED
