"""The transition table, exhaustively: every mover, status and requested status."""

import itertools

import pytest

from simfleet.jobs import ExecutionStatus, JobsError, JobsErrorCode, UpdateRequest
from simfleet.jobs.execution import cancel, remove, time_out, update
from simfleet.jobs.state import DEVICE_STATUSES, TRANSITIONS, Mover, is_allowed
from tests.jobs.helpers import record

S = ExecutionStatus
Q, IP = S.QUEUED, S.IN_PROGRESS

# Spec §3 written out independently of the table under test.
EXPECTED = {
    Mover.DEVICE: {
        (Q, IP),
        (Q, S.SUCCEEDED),  # [U] allowed
        (Q, S.FAILED),  # [U] allowed
        (Q, S.REJECTED),
        (IP, IP),
        (IP, S.SUCCEEDED),
        (IP, S.FAILED),
        (IP, S.REJECTED),
    },
    Mover.TIMER: {(IP, S.TIMED_OUT)},
    Mover.CANCEL: {(Q, S.CANCELED)},
    Mover.FORCE_CANCEL: {(Q, S.CANCELED), (IP, S.CANCELED)},
    Mover.REMOVE: {(Q, S.REMOVED), (IP, S.REMOVED)},
}
TERMINAL = {S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.REJECTED, S.REMOVED, S.CANCELED}
ALL_MOVES = list(itertools.product(Mover, S, S))


@pytest.mark.parametrize(
    ("mover", "current", "requested"),
    [pytest.param(m, c, r, id=f"{m.value}:{c.value}->{r.value}") for m, c, r in ALL_MOVES],
)
def test_transition_table(mover: Mover, current: S, requested: S) -> None:
    assert is_allowed(mover, current, requested) == ((current, requested) in EXPECTED[mover])


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize("status", [pytest.param(s, id=s.value) for s in S])
def test_terminal_statuses(status: S) -> None:
    assert status.is_terminal == (status in TERMINAL)
    assert status.is_pending == (status not in TERMINAL)


def test_device_statuses() -> None:
    assert {S.IN_PROGRESS, S.SUCCEEDED, S.FAILED, S.REJECTED} == DEVICE_STATUSES


@pytest.mark.parametrize(
    ("current", "requested"),
    [pytest.param(c, r, id=f"{c.value}->{r.value}") for c, r in itertools.product(S, S)],
)
def test_device_update_for_every_pair(current: S, requested: S) -> None:
    before = record(status=current, version_number=3)
    request = UpdateRequest(job_id="Job1", status=requested)
    if requested not in DEVICE_STATUSES:
        with pytest.raises(JobsError) as caught:
            update(before, request, 500)
        assert caught.value.code is JobsErrorCode.INVALID_REQUEST
        assert caught.value.execution_state is None
    elif (current, requested) in EXPECTED[Mover.DEVICE]:
        _, after = update(before, request, 500)
        assert (after.status, after.version_number, after.last_updated_at) == (requested, 4, 500)
    else:
        with pytest.raises(JobsError) as caught:
            update(before, request, 500)
        assert caught.value.code is JobsErrorCode.INVALID_STATE_TRANSITION
        assert caught.value.execution_state == before.state()


@pytest.mark.parametrize("current", [pytest.param(s, id=s.value) for s in S])
def test_service_moves_for_every_status(current: S) -> None:
    before = record(status=current, version_number=3, step_deadline=150)
    timed_out = time_out(before, 200)
    assert (timed_out is not None) == ((current, S.TIMED_OUT) in EXPECTED[Mover.TIMER])
    for force, mover in ((False, Mover.CANCEL), (True, Mover.FORCE_CANCEL)):
        if (current, S.CANCELED) in EXPECTED[mover]:
            assert cancel(before, force=force, now=200).status is S.CANCELED
        else:
            with pytest.raises(JobsError) as caught:
                cancel(before, force=force, now=200)
            assert caught.value.code is JobsErrorCode.INVALID_STATE_TRANSITION
    if (current, S.REMOVED) in EXPECTED[Mover.REMOVE]:
        assert remove(before, 200).status is S.REMOVED
    else:
        with pytest.raises(JobsError):
            remove(before, 200)
