"""The service operations over execution records (spec §1.3, §3)."""

import dataclasses

import pytest

from simfleet.jobs import (
    DescribeRequest,
    ExecutionRecord,
    ExecutionStatus,
    GetPendingRequest,
    InvalidName,
    JobExecutionState,
    JobsError,
    JobsErrorCode,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
    encode_message,
)
from simfleet.jobs.execution import (
    cancel,
    describe,
    find_execution,
    get_pending,
    handle,
    queue,
    select_next,
    start_next,
    time_out,
    update,
)
from simfleet.jobs.https import encode_https_response
from tests.jobs.helpers import THING, as_json, record

S = ExecutionStatus


def keys(records: list[ExecutionRecord]) -> list[tuple[str, int]]:
    return [r.key for r in records]


@pytest.mark.parametrize(
    ("executions", "expected"),
    [
        pytest.param([], None, id="empty"),
        pytest.param([record("A", status=S.SUCCEEDED)], None, id="only-terminal"),
        pytest.param(
            [record("Old", queued_at=1), record("New", queued_at=2)], "Old", id="oldest-queued"
        ),
        pytest.param(
            [record("New", queued_at=2), record("Old", queued_at=1)], "Old", id="input-order-free"
        ),
        pytest.param(
            [record("Q", queued_at=1), record("IP", queued_at=9, status=S.IN_PROGRESS)],
            "IP",
            id="in-progress-first",
        ),
        pytest.param(
            [
                record("IP2", queued_at=5, status=S.IN_PROGRESS),
                record("IP1", queued_at=3, status=S.IN_PROGRESS),
            ],
            "IP1",
            id="oldest-in-progress",
        ),
        pytest.param([record("B", queued_at=1), record("A", queued_at=1)], "A", id="tie-by-job-id"),
        pytest.param(
            [record("Done", queued_at=0, status=S.FAILED), record("Q", queued_at=5)],
            "Q",
            id="terminal-skipped",
        ),
    ],
)
def test_select_next(executions: list[ExecutionRecord], expected: str | None) -> None:
    head = select_next(executions)
    assert (head.job_id if head else None) == expected


def test_select_next_breaks_ties_by_execution_number() -> None:
    second = record("A", queued_at=1, execution_number=2)
    first = record("A", queued_at=1, execution_number=1)
    assert select_next([second, first]) == first


def test_start_next_starts_the_oldest_queued() -> None:
    executions = [record("J2", queued_at=200), record("J1", queued_at=100)]
    request = StartNextRequest(client_token="c2", status_details={"step": "download"})
    accepted, changed = start_next(executions, request, 300)
    assert changed == dataclasses.replace(
        executions[1],
        status=S.IN_PROGRESS,
        status_details={"step": "download"},
        started_at=300,
        last_updated_at=300,
        version_number=2,  # 1→2 (spec §3, live)
    )
    assert accepted.client_token == "c2"
    assert accepted.timestamp == 300
    assert accepted.execution is not None
    assert accepted.execution.job_id == "J1"
    assert accepted.execution.job_document == {"op": "J1"}
    assert "thingName" not in as_json(encode_message(accepted))["execution"]  # as seen live


def test_start_next_on_in_progress_returns_it_unchanged() -> None:
    running = record("J1", status=S.IN_PROGRESS, version_number=4, status_details={"s": "1"})
    first, changed = start_next([running], StartNextRequest(status_details={"s": "2"}), 500)
    second, again = start_next([running], StartNextRequest(), 600)
    assert changed is None
    assert again is None
    assert first.execution == second.execution
    assert first.execution is not None
    assert (first.execution.version_number, first.execution.status_details) == (4, {"s": "1"})


def test_start_next_with_nothing_pending_has_no_execution() -> None:
    accepted, changed = start_next([record(status=S.SUCCEEDED)], StartNextRequest(), 10)
    assert accepted == StartNextAccepted(timestamp=10)
    assert changed is None
    assert "execution" not in as_json(encode_message(accepted))


def test_start_next_keeps_stored_details_when_none_given() -> None:
    _, changed = start_next([record(status_details={"k": "v"})], StartNextRequest(), 10)
    assert changed is not None
    assert changed.status_details == {"k": "v"}


def test_get_pending_lists_both_kinds_oldest_first_at_most_ten() -> None:
    queued = [record(f"Q{i:02}", queued_at=100 - i) for i in range(12)]
    running = [record(f"R{i:02}", queued_at=i, status=S.IN_PROGRESS) for i in range(11)]
    done = [record("Done", status=S.SUCCEEDED)]
    accepted = get_pending(queued + running + done, GetPendingRequest(client_token="c1"), 7)
    assert accepted.client_token == "c1"
    assert accepted.timestamp == 7
    assert [s.job_id for s in accepted.in_progress_jobs] == [f"R{i:02}" for i in range(10)]
    assert [s.job_id for s in accepted.queued_jobs] == [f"Q{i:02}" for i in range(11, 1, -1)]


def test_get_pending_with_nothing_has_both_empty_arrays() -> None:
    accepted = get_pending([], GetPendingRequest(), 7)
    assert as_json(encode_message(accepted)) == {
        "timestamp": 7,
        "inProgressJobs": [],
        "queuedJobs": [],
    }


def test_describe_latest_or_numbered_execution() -> None:
    first = record("J", execution_number=1, status=S.FAILED)
    retry = record("J", execution_number=2)
    latest = describe([first, retry], DescribeRequest(job_id="J"), 9)
    numbered = describe([first, retry], DescribeRequest(job_id="J", execution_number=1), 9)
    assert latest.execution is not None
    assert numbered.execution is not None
    assert latest.execution.execution_number == 2
    assert numbered.execution.status is S.FAILED  # terminal executions describe normally
    assert as_json(encode_message(numbered))["execution"]["thingName"] == THING  # [U]
    assert numbered.execution.job_document == {"op": "J"}


def test_describe_without_document() -> None:
    accepted = describe([record("J")], DescribeRequest(job_id="J", include_job_document=False), 9)
    assert accepted.execution is not None
    assert accepted.execution.job_document is None
    assert "jobDocument" not in as_json(encode_message(accepted))["execution"]


def test_describe_next() -> None:
    head = describe(
        [record("A", queued_at=2), record("B", queued_at=1)], DescribeRequest(job_id="$next"), 9
    )
    empty = describe([], DescribeRequest(job_id="$next", client_token="c"), 9)
    assert head.execution is not None
    assert head.execution.job_id == "B"
    assert empty.execution is None
    assert empty.client_token == "c"


@pytest.mark.parametrize(
    ("job_id", "number"),
    [
        pytest.param("Missing", None, id="unknown-job"),
        pytest.param("J", 2, id="unknown-execution-number"),
    ],
)
def test_not_found(job_id: str, number: int | None) -> None:
    with pytest.raises(JobsError) as caught:
        find_execution([record("J")], job_id, number)
    assert caught.value.code is JobsErrorCode.RESOURCE_NOT_FOUND
    assert caught.value.execution_state is None
    with pytest.raises(JobsError):
        describe([record("J")], DescribeRequest(job_id=job_id, execution_number=number), 1)


def test_update_bumps_version_and_replaces_or_keeps_details() -> None:
    start = record("J", status=S.IN_PROGRESS, version_number=2, status_details={"a": "1"})
    _, kept = update(start, UpdateRequest(job_id="J", status=S.IN_PROGRESS), 300)
    _, replaced = update(
        kept, UpdateRequest(job_id="J", status=S.IN_PROGRESS, status_details={"b": "2"}), 301
    )
    assert (kept.version_number, kept.status_details, kept.last_updated_at) == (3, {"a": "1"}, 300)
    assert (replaced.version_number, replaced.status_details) == (4, {"b": "2"})


def test_update_sets_started_at_only_when_starting() -> None:
    _, started = update(record("J"), UpdateRequest(job_id="J", status=S.IN_PROGRESS), 300)
    _, later = update(started, UpdateRequest(job_id="J", status=S.SUCCEEDED), 400)
    _, direct = update(record("J"), UpdateRequest(job_id="J", status=S.SUCCEEDED), 300)
    assert started.started_at == 300
    assert later.started_at == 300
    assert direct.started_at is None  # [U] QUEUED→SUCCEEDED never started


@pytest.mark.parametrize(
    ("expected_version", "accepted"),
    [
        pytest.param(None, True, id="none"),
        pytest.param(3, True, id="matching"),
        pytest.param(2, False, id="stale"),
        pytest.param(4, False, id="ahead"),
    ],
)
def test_expected_version(expected_version: int | None, accepted: bool) -> None:
    current = record("J", status=S.IN_PROGRESS, version_number=3, status_details={"s": "x"})
    request = UpdateRequest(job_id="J", status=S.SUCCEEDED, expected_version=expected_version)
    if accepted:
        assert update(current, request, 10)[1].version_number == 4
    else:
        with pytest.raises(JobsError) as caught:
            update(current, request, 10)
        assert caught.value.code is JobsErrorCode.VERSION_MISMATCH
        assert caught.value.execution_state == JobExecutionState(
            status=S.IN_PROGRESS, status_details={"s": "x"}, version_number=3
        )


def test_update_from_terminal_is_checked_before_the_version() -> None:
    done = record("J", status=S.SUCCEEDED, version_number=3)
    with pytest.raises(JobsError) as caught:
        update(done, UpdateRequest(job_id="J", status=S.FAILED, expected_version=1), 10)
    assert caught.value.code is JobsErrorCode.INVALID_STATE_TRANSITION


def test_update_reply_includes_only_what_was_asked() -> None:
    current = record("J", status=S.IN_PROGRESS, version_number=2)
    plain, _ = update(current, UpdateRequest(job_id="J", status=S.IN_PROGRESS, client_token="c"), 5)
    full, _ = update(
        current,
        UpdateRequest(
            job_id="J",
            status=S.SUCCEEDED,
            include_job_execution_state=True,
            include_job_document=True,
        ),
        5,
    )
    assert as_json(encode_message(plain)) == {"timestamp": 5, "clientToken": "c"}
    assert full.execution_state == JobExecutionState(status=S.SUCCEEDED, version_number=3)
    assert full.job_document == {"op": "J"}


def test_update_with_other_execution_number_is_not_found() -> None:
    with pytest.raises(JobsError) as caught:
        update(record("J"), UpdateRequest(job_id="J", status=S.FAILED, execution_number=2), 5)
    assert caught.value.code is JobsErrorCode.RESOURCE_NOT_FOUND


def test_handle_finds_the_record_to_update() -> None:
    outcome = handle([record("A"), record("B")], UpdateRequest(job_id="B", status=S.IN_PROGRESS), 5)
    assert outcome.changed is not None
    assert outcome.changed.job_id == "B"
    with pytest.raises(JobsError):
        handle([record("A")], UpdateRequest(job_id="B", status=S.IN_PROGRESS), 5)


def test_handle_read_only_operations_change_nothing() -> None:
    executions = [record("A")]
    assert handle(executions, GetPendingRequest(), 5).changed is None
    assert handle(executions, DescribeRequest(job_id="A"), 5).changed is None


# --- timers (spec §3) ---------------------------------------------------------------------


def timed(in_progress: int | None = None) -> ExecutionRecord:
    return queue(
        thing_name=THING,
        job_id="J",
        job_document={},
        now=0,
        in_progress_timeout_minutes=in_progress,
    )


def test_in_progress_timer_starts_with_in_progress_and_is_fixed() -> None:
    _, started = start_next([timed(in_progress=10)], StartNextRequest(), 100)
    assert started is not None
    assert started.in_progress_deadline == 700
    _, later = update(started, UpdateRequest(job_id="J", status=S.IN_PROGRESS), 300)
    assert later.in_progress_deadline == 700


def test_step_timer_is_replaced_capped_and_cancelled() -> None:
    _, started = start_next([timed(in_progress=10)], StartNextRequest(step_timeout_in_minutes=2), 0)
    assert started is not None
    assert (started.step_deadline, started.deadline) == (120, 120)
    step = UpdateRequest(job_id="J", status=S.IN_PROGRESS, step_timeout_in_minutes=60)
    _, capped = update(started, step, 60)
    assert capped.step_deadline == 600  # never past the in-progress deadline
    _, kept = update(capped, UpdateRequest(job_id="J", status=S.IN_PROGRESS), 70)
    assert kept.step_deadline == 600  # an update without a step timeout keeps the timer
    cancel_step = UpdateRequest(job_id="J", status=S.IN_PROGRESS, step_timeout_in_minutes=-1)
    _, cancelled = update(kept, cancel_step, 80)
    assert (cancelled.step_deadline, cancelled.deadline) == (None, 600)


def test_time_out_only_once_due() -> None:
    _, running = start_next([timed()], StartNextRequest(step_timeout_in_minutes=1), 0)
    assert running is not None
    assert time_out(running, 59) is None
    expired = time_out(running, 60)
    assert expired is not None
    assert (expired.status, expired.version_number, expired.last_updated_at) == (
        S.TIMED_OUT,
        running.version_number + 1,
        60,
    )
    assert expired.deadline is None
    assert time_out(timed(), 10**9) is None  # no timer running


def test_terminal_update_stops_timers() -> None:
    _, running = start_next([timed(in_progress=5)], StartNextRequest(step_timeout_in_minutes=1), 0)
    assert running is not None
    _, done = update(running, UpdateRequest(job_id="J", status=S.SUCCEEDED), 10)
    assert done.deadline is None
    assert time_out(done, 10**9) is None


def test_approximate_seconds_before_timed_out_over_https() -> None:
    _, running = start_next([timed(in_progress=10)], StartNextRequest(), 100)
    assert running is not None
    accepted = describe([running], DescribeRequest(job_id="J"), 250)
    body = as_json(encode_https_response(accepted))
    assert body["execution"]["approximateSecondsBeforeTimedOut"] == 450
    assert "approximateSecondsBeforeTimedOut" not in as_json(encode_message(accepted))["execution"]


def test_force_cancel_makes_later_device_updates_fail() -> None:
    running = record("J", status=S.IN_PROGRESS, version_number=2)
    canceled = cancel(running, force=True, now=10)
    assert (canceled.status, canceled.version_number) == (S.CANCELED, 3)
    with pytest.raises(JobsError) as caught:
        update(canceled, UpdateRequest(job_id="J", status=S.SUCCEEDED), 11)
    assert caught.value.code is JobsErrorCode.INVALID_STATE_TRANSITION
    assert caught.value.execution_state == canceled.state()


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"thing_name": "bad name"}, id="thing-name"),
        pytest.param({"job_id": "$next"}, id="job-id"),
    ],
)
def test_queue_validates_names(kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidName):
        queue(**{"thing_name": THING, "job_id": "J", "job_document": {}, "now": 0, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize("minutes", [0, 10081])
def test_queue_validates_in_progress_timeout(minutes: int) -> None:
    with pytest.raises(ValueError, match="10080"):
        queue(
            thing_name=THING,
            job_id="J",
            job_document={},
            now=0,
            in_progress_timeout_minutes=minutes,
        )
