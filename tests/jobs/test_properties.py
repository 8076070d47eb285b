"""Random sequences of device requests and service moves never break the invariants (spec §3):
an accepted change adds exactly 1 to the version, a rejected one changes nothing, terminal stays
terminal, `startedAt` is set once."""

import dataclasses
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.jobs import (
    ExecutionRecord,
    ExecutionStatus,
    JobsErrorCode,
    JobsTopic,
    Rejected,
    StartNextRequest,
    UpdateRequest,
    answer_mqtt,
    encode_request,
    parse_jobs_topic,
)
from simfleet.jobs.execution import cancel, queue, time_out
from simfleet.jobs.requests import JobsRequest, request_topic
from tests.jobs.helpers import THING

S = ExecutionStatus
JOBS = ("A", "B", "C")
Version = Literal["none", "current", "stale", "ahead"]


@dataclasses.dataclass(frozen=True)
class Update:
    job_id: str
    status: ExecutionStatus
    version: Version
    step: int | None
    details: dict[str, str] | None


@dataclasses.dataclass(frozen=True)
class StartNext:
    step: int | None


@dataclasses.dataclass(frozen=True)
class Cancel:
    job_id: str
    force: bool


Step = Update | StartNext | Cancel

details = st.none() | st.dictionaries(
    st.text("abc:_-", min_size=1, max_size=5), st.text("xyz ", min_size=1, max_size=5), max_size=2
)
steps = st.one_of(
    st.builds(
        Update,
        st.sampled_from(JOBS),
        st.sampled_from(ExecutionStatus),
        st.sampled_from(["none", "current", "stale", "ahead"]),
        st.none() | st.sampled_from([-1, 1, 3]),
        details,
    ),
    st.builds(StartNext, st.none() | st.sampled_from([-1, 1, 3])),
    st.builds(Cancel, st.sampled_from(JOBS), st.booleans()),
)


def _request(step: Update | StartNext, current: dict[str, ExecutionRecord]) -> JobsRequest:
    if isinstance(step, StartNext):
        return StartNextRequest(step_timeout_in_minutes=step.step, client_token="t")
    version = current[step.job_id].version_number
    expected = {"none": None, "current": version, "stale": version - 1, "ahead": version + 1}
    return UpdateRequest(
        job_id=step.job_id,
        status=step.status,
        expected_version=expected[step.version],
        step_timeout_in_minutes=step.step,
        status_details=step.details,
        client_token="t",
    )


def _check_change(before: ExecutionRecord, after: ExecutionRecord, now: int) -> None:
    assert not before.status.is_terminal, "a terminal execution changed"
    assert after.version_number == before.version_number + 1
    assert after.last_updated_at == now
    assert before.started_at is None or after.started_at == before.started_at
    if after.status is ExecutionStatus.IN_PROGRESS:
        assert after.started_at is not None
    if after.status.is_terminal:
        assert after.deadline is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(steps, st.integers(0, 200)), max_size=25))
def test_random_sequences_keep_the_invariants(sequence: list[tuple[Step, int]]) -> None:
    now = 0
    current = {
        job: queue(
            thing_name=THING,
            job_id=job,
            job_document={"job": job},
            now=i,
            in_progress_timeout_minutes=5,
        )
        for i, job in enumerate(JOBS)
    }
    for step, elapsed in sequence:
        now += elapsed
        # The timer fires first, as the emulator's scheduler would.
        for job, record in list(current.items()):
            expired = time_out(record, now)
            if expired is not None:
                assert record.deadline is not None
                assert record.deadline <= now
                _check_change(record, expired, now)
                assert expired.status is ExecutionStatus.TIMED_OUT
                current[job] = expired
        if isinstance(step, Cancel):
            before = current[step.job_id]
            allowed = before.status is ExecutionStatus.QUEUED or (
                step.force and before.status is ExecutionStatus.IN_PROGRESS
            )
            if allowed:
                current[step.job_id] = cancel(before, force=step.force, now=now)
                _check_change(before, current[step.job_id], now)
            continue
        request = _request(step, current)
        expected = _expected_update(step, current) if isinstance(step, Update) else None
        # Through the wire: encode as a device would, answer as the service does.
        topic = parse_jobs_topic(request_topic(THING, request).topic)
        assert isinstance(topic, JobsTopic)
        reply = answer_mqtt(topic, encode_request(request), list(current.values()), now)
        if isinstance(reply.message, Rejected):
            assert reply.changed is None
            assert reply.message.client_token == "t"
            assert reply.message.code is expected
            continue
        assert expected is None
        if isinstance(step, StartNext):
            assert (reply.changed and reply.changed.job_id) == _expected_start(current)
            assert reply.changed is None or reply.changed.status is S.IN_PROGRESS
        if reply.changed is not None:
            before = current[reply.changed.job_id]
            _check_change(before, reply.changed, now)
            current[reply.changed.job_id] = reply.changed


def _expected_update(step: Update, current: dict[str, ExecutionRecord]) -> JobsErrorCode | None:
    """Spec §3 as an oracle, independent of the transition table: the rejection code, or None."""
    if step.status not in (S.IN_PROGRESS, S.SUCCEEDED, S.FAILED, S.REJECTED):
        return JobsErrorCode.INVALID_REQUEST
    if current[step.job_id].status not in (S.QUEUED, S.IN_PROGRESS):
        return JobsErrorCode.INVALID_STATE_TRANSITION
    if step.version in ("stale", "ahead"):
        return JobsErrorCode.VERSION_MISMATCH
    return None


def _expected_start(current: dict[str, ExecutionRecord]) -> str | None:
    """The job start-next changes: the oldest QUEUED one, and only when none is IN_PROGRESS."""
    if any(r.status is S.IN_PROGRESS for r in current.values()):
        return None
    queued = sorted(
        (r for r in current.values() if r.status is S.QUEUED), key=lambda r: r.queued_at
    )
    return queued[0].job_id if queued else None
