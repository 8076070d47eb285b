"""When `notify` and `notify-next` fire, and what they carry (spec §1.3)."""

import dataclasses

import pytest

from simfleet.jobs import (
    ExecutionRecord,
    ExecutionStatus,
    StartNextRequest,
    UpdateRequest,
    encode_message,
    pending_notifications,
)
from simfleet.jobs.execution import start_next, update
from tests.jobs.helpers import as_json, record

S = ExecutionStatus
A = record("A", queued_at=1)
B = record("B", queued_at=2)
A_RUNNING = dataclasses.replace(A, status=S.IN_PROGRESS, started_at=5, version_number=2)
B_RUNNING = dataclasses.replace(B, status=S.IN_PROGRESS, started_at=5, version_number=2)


def moved(r: ExecutionRecord, status: S) -> ExecutionRecord:
    return dataclasses.replace(r, status=status, version_number=r.version_number + 1)


@pytest.mark.parametrize(
    ("before", "after", "notify", "next_job"),
    [
        # notify: joins or leaves the pending set. notify-next: a different head.
        pytest.param([], [A], True, "A", id="first-queued"),
        pytest.param([A], [A, B], True, None, id="queued-behind-head"),
        pytest.param([B], [B, A], True, "A", id="queued-ahead-of-head"),
        pytest.param([A, B], [A_RUNNING, B], False, None, id="head-queued-to-in-progress"),
        pytest.param(
            [A_RUNNING, B],
            [moved(A_RUNNING, S.IN_PROGRESS), B],
            False,
            None,
            id="head-progress-report",
        ),
        pytest.param([A, B], [A, B_RUNNING], False, "B", id="other-goes-in-progress-ahead"),
        pytest.param(
            [A_RUNNING, B], [moved(A_RUNNING, S.SUCCEEDED), B], True, "B", id="head-terminal"
        ),
        pytest.param([A, B], [A, moved(B, S.REJECTED)], True, None, id="non-head-terminal"),
        pytest.param([A_RUNNING], [moved(A_RUNNING, S.FAILED)], True, "", id="last-terminal"),
        pytest.param([A, B], [B], True, "B", id="head-deleted"),
        pytest.param([A, B], [A], True, None, id="non-head-deleted"),
        pytest.param([A_RUNNING], [moved(A_RUNNING, S.TIMED_OUT)], True, "", id="timed-out"),
        pytest.param([A, B], [moved(A, S.CANCELED), B], True, "B", id="head-canceled"),
        pytest.param([moved(A, S.FAILED)], [moved(A, S.FAILED)], False, None, id="no-change"),
        pytest.param([moved(A, S.FAILED)], [], False, None, id="terminal-deleted"),
    ],
)
def test_when_notifications_fire(
    before: list[ExecutionRecord],
    after: list[ExecutionRecord],
    notify: bool,
    next_job: str | None,
) -> None:
    """`next_job`: None for no notify-next, "" for one with no execution, else the new head."""
    notes = pending_notifications(before, after, 77)
    assert (notes.notify is not None) == notify
    if next_job is None:
        assert notes.notify_next is None
    else:
        assert notes.notify_next is not None
        assert notes.notify_next.timestamp == 77
        execution = notes.notify_next.execution
        assert (execution.job_id if execution else "") == next_job


def test_notify_lists_pending_by_status() -> None:
    notes = pending_notifications([A_RUNNING], [A_RUNNING, B, record("C", queued_at=0)], 9)
    assert notes.notify is not None
    assert as_json(encode_message(notes.notify)) == {
        "timestamp": 9,
        "jobs": {
            "IN_PROGRESS": [
                {
                    "jobId": "A",
                    "queuedAt": 1,
                    "startedAt": 5,
                    "lastUpdatedAt": 1,
                    "versionNumber": 2,
                    "executionNumber": 1,
                },
            ],
            "QUEUED": [
                {
                    "jobId": "C",
                    "queuedAt": 0,
                    "lastUpdatedAt": 0,
                    "versionNumber": 1,
                    "executionNumber": 1,
                },
                {
                    "jobId": "B",
                    "queuedAt": 2,
                    "lastUpdatedAt": 2,
                    "versionNumber": 1,
                    "executionNumber": 1,
                },
            ],
        },
    }


def test_empty_pending_set_payloads() -> None:
    notes = pending_notifications([A_RUNNING], [moved(A_RUNNING, S.SUCCEEDED)], 9)
    assert notes.notify is not None
    assert notes.notify_next is not None
    assert as_json(encode_message(notes.notify)) == {"timestamp": 9, "jobs": {}}
    assert as_json(encode_message(notes.notify_next)) == {"timestamp": 9}


def test_notify_next_carries_document_but_no_thing_name() -> None:
    notes = pending_notifications([], [A], 9)
    assert notes.notify_next is not None
    assert as_json(encode_message(notes.notify_next)) == {
        "timestamp": 9,
        "execution": {
            "jobId": "A",
            "status": "QUEUED",
            "queuedAt": 1,
            "lastUpdatedAt": 1,
            "versionNumber": 1,
            "executionNumber": 1,
            "jobDocument": {"op": "A"},
        },
    }


def test_notify_lists_hold_at_most_ten() -> None:
    many = [record(f"J{i:02}", queued_at=i) for i in range(12)]
    notes = pending_notifications(many[:-1], many, 9)
    assert notes.notify is not None
    assert [s.job_id for s in notes.notify.jobs[S.QUEUED]] == [f"J{i:02}" for i in range(10)]


def test_start_next_on_the_head_fires_nothing() -> None:
    # Live transcript: "no events were emitted from ... QUEUED to the IN_PROGRESS state".
    _, changed = start_next([A, B], StartNextRequest(), 10)
    assert changed is not None
    notes = pending_notifications([A, B], [changed, B], 10)
    assert notes.notify is None
    assert notes.notify_next is None


def test_succeeding_the_head_fires_both() -> None:
    _, done = update(A_RUNNING, UpdateRequest(job_id="A", status=S.SUCCEEDED), 10)
    notes = pending_notifications([A_RUNNING, B], [done, B], 10)
    assert notes.notify is not None
    assert notes.notify_next is not None
    assert notes.notify.jobs == {S.QUEUED: (B.summary(),)}
    assert notes.notify_next.execution == B.execution(now=10)
