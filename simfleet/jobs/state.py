"""Job-execution statuses and the one table of who may move an execution from what to what.

`TRANSITIONS` is the only place that says which moves are allowed (spec §3); the service
functions in `simfleet.jobs.execution` and the request validation in `simfleet.jobs.requests`
both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Final


class ExecutionStatus(Enum):
    """The status of one job execution (spec §3)."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        """True once nothing can move the execution any more."""
        return not TRANSITIONS[self]

    @property
    def is_pending(self) -> bool:
        """True for the statuses listed by GetPendingJobExecutions and `notify` (§1.3)."""
        return not self.is_terminal


class Mover(Enum):
    """Who asks for a move."""

    DEVICE = "device"  # UpdateJobExecution or StartNextPendingJobExecution
    TIMER = "timer"  # the step or in-progress timer ran out (service)
    CANCEL = "cancel"  # CancelJob / CancelJobExecution without force (service)
    FORCE_CANCEL = "force-cancel"  # the same with force=true (service)
    REMOVE = "remove"  # the thing stopped being a target of a continuous job (service)


_Q = ExecutionStatus.QUEUED
_IP = ExecutionStatus.IN_PROGRESS
_CANCELS = frozenset({Mover.CANCEL, Mover.FORCE_CANCEL})
_DEVICE = frozenset({Mover.DEVICE})

# Every allowed move, keyed by the current status then the requested status (spec §3).
# A terminal status maps to no move: leaving it is InvalidStateTransition.
TRANSITIONS: Final[Mapping[ExecutionStatus, Mapping[ExecutionStatus, frozenset[Mover]]]] = {
    _Q: {
        _IP: _DEVICE,
        # [U] The docs show QUEUED→REJECTED only; a device finishing a job without reporting
        # IN_PROGRESS first is probably allowed by AWS, and refusing it would fail real
        # devices that skip the report, so we allow it.
        ExecutionStatus.SUCCEEDED: _DEVICE,
        ExecutionStatus.FAILED: _DEVICE,
        ExecutionStatus.REJECTED: _DEVICE,
        ExecutionStatus.CANCELED: _CANCELS,
        ExecutionStatus.REMOVED: frozenset({Mover.REMOVE}),
    },
    _IP: {
        # Progress reports (new statusDetails or step timer) stay IN_PROGRESS; the version goes up.
        _IP: _DEVICE,
        ExecutionStatus.SUCCEEDED: _DEVICE,
        ExecutionStatus.FAILED: _DEVICE,
        ExecutionStatus.REJECTED: _DEVICE,
        # The step and in-progress timers only run while IN_PROGRESS.
        ExecutionStatus.TIMED_OUT: frozenset({Mover.TIMER}),
        # An IN_PROGRESS execution is canceled only with force=true.
        ExecutionStatus.CANCELED: frozenset({Mover.FORCE_CANCEL}),
        ExecutionStatus.REMOVED: frozenset({Mover.REMOVE}),
    },
    ExecutionStatus.SUCCEEDED: {},
    ExecutionStatus.FAILED: {},
    ExecutionStatus.TIMED_OUT: {},
    ExecutionStatus.REJECTED: {},
    ExecutionStatus.REMOVED: {},
    ExecutionStatus.CANCELED: {},
}


def is_allowed(mover: Mover, current: ExecutionStatus, requested: ExecutionStatus) -> bool:
    """Whether `mover` may move an execution from `current` to `requested`."""
    return mover in TRANSITIONS[current].get(requested, frozenset())


# The statuses a device may ask for at all: IN_PROGRESS, SUCCEEDED, FAILED, REJECTED (§1.3).
DEVICE_STATUSES: Final[frozenset[ExecutionStatus]] = frozenset(
    requested
    for moves in TRANSITIONS.values()
    for requested, movers in moves.items()
    if Mover.DEVICE in movers
)
