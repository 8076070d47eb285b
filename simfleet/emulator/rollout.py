"""How fast a job's executions are queued (spec §3, "Rollout"): arithmetic on whole epoch
seconds, with no clock and no I/O.

[U] How the rate is applied. AWS documents "things notified per minute" and nothing finer. We
spread each minute's quota over its seconds. The rollout accrues an allowance continuously, at
the rate per minute of its current stage; by the end of second s it may have notified
ceil(allowance at the end of s) things. At a constant rate that is ceil(rate * (s + 1) / 60)
from the first second: every 60 seconds release exactly `rate` things and no second releases
more than ceil(rate / 60) (17 at 1000 per minute). Releasing a whole minute's quota at each
minute boundary would give the same per-minute count as a burst every minute, which is harder
on a fleet under test and less like a service that notifies continuously.

Exponential rate. Stage k runs at floor(base * factor^k), capped by maximumPerMinute when it is
given and else by 1000 (the most AWS allows, spec §6). Stage k+1 begins once
numberOfNotifiedThings * (k+1) things have been notified or numberOfSucceededThings * (k+1)
executions have succeeded, whichever comes first: the developer guide's example runs at 50,
100, 200, 400 per minute from 0, 1000, 2000, 3000 notified things.

A segment is a stretch at one rate. A new stage (or a new config, UpdateJob) starts a new
segment at the next second, carrying the allowance over, so that the old rate governs the
second in which the change happened and the new one every second after. A restart whose
rollout fell due while the emulator was down (`resume`) starts a segment with no allowance
banked: the rollout carries on at its rate rather than releasing the missed minutes at once.

Allowances are kept in sixtieths of a thing ("units"), so that the arithmetic is exact in
integers: a rate of r per minute accrues r units per second.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from simfleet.emulator.job_config import MAX_RATE_PER_MINUTE, RolloutConfig


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutState:
    """What a rollout has done: all the store keeps of it, besides the planned things."""

    released: int  # things notified (queued) so far
    stage: int  # the exponential stage of the current segment
    segment_start: int  # the epoch second the current segment began
    segment_units: int  # the allowance (in 1/60 of a thing) accrued when it began


def start(now: int) -> RolloutState:
    return RolloutState(released=0, stage=0, segment_start=now, segment_units=0)


@functools.lru_cache(maxsize=4096)
def rate(config: RolloutConfig, stage: int) -> int:
    """Things per minute in `stage` (cached: exact fractions cost microseconds per stage)."""
    cap = config.maximum_per_minute or MAX_RATE_PER_MINUTE
    exponential = config.exponential
    if exponential is None:
        return cap
    # Exact fractions: 1.1 ** k in floating point lands just under whole numbers.
    per_minute = Fraction(exponential.base_rate_per_minute)
    factor = Fraction(exponential.increment_tenths, 10)
    for _ in range(stage):
        per_minute *= factor
        if per_minute >= cap:
            return cap
    return min(cap, int(per_minute))


def stage(config: RolloutConfig, *, notified: int, succeeded: int) -> int:
    """How many rate increases the counts have earned."""
    exponential = config.exponential
    if exponential is None:
        return 0
    earned = 0
    if exponential.notified_things is not None:
        earned = notified // exponential.notified_things
    if exponential.succeeded_things is not None:
        earned = max(earned, succeeded // exponential.succeeded_things)
    return earned


def allowed(config: RolloutConfig, state: RolloutState, now: int) -> int:
    """How many things may have been notified by the end of second `now`."""
    return _ceil_div(_units_at(config, state, now + 1), 60)


def release(
    config: RolloutConfig, state: RolloutState, *, now: int, succeeded: int, remaining: int
) -> RolloutState:
    """The state after releasing what is due by `now` (at most `remaining` more things); the
    number released is the difference of the two states' `released`."""
    target = state.released + remaining
    while state.released < target:
        state = restage(config, state, now, succeeded)
        end = min(allowed(config, state, now), target)
        boundary = _next_notified_boundary(config, state.released)
        if boundary is not None:
            end = min(end, boundary)
        if end <= state.released:
            break
        state = dataclasses.replace(state, released=end)
    return state


def next_release(
    config: RolloutConfig, state: RolloutState, *, now: int, succeeded: int, remaining: int
) -> int | None:
    """The epoch second from which `release` has something to release (it may have passed:
    due at once), or None when every thing is out."""
    if remaining <= 0:
        return None
    if stage(config, notified=state.released, succeeded=succeeded) != state.stage:
        return now
    # The first second s whose allowance ceil((units + r * (s + 1 - start)) / 60) exceeds
    # `released` is s = start + floor((60 * released - units) / r).
    owed = 60 * state.released - state.segment_units
    return state.segment_start + owed // rate(config, state.stage)


def restage(config: RolloutConfig, state: RolloutState, now: int, succeeded: int) -> RolloutState:
    """A new segment from the next second if the counts earned another stage."""
    earned = stage(config, notified=state.released, succeeded=succeeded)
    if earned == state.stage:
        return state
    return _segment(config, state, earned, now + 1)


def restart(
    config: RolloutConfig, state: RolloutState, *, now: int, succeeded: int, old: RolloutConfig
) -> RolloutState:
    """The config changed from `old` (UpdateJob): the new rates apply from the next second."""
    carried = _segment(old, state, state.stage, now + 1)
    earned = stage(config, notified=state.released, succeeded=succeeded)
    return dataclasses.replace(carried, stage=earned)


def resume(
    config: RolloutConfig, state: RolloutState, *, now: int, succeeded: int, remaining: int
) -> RolloutState:
    """The state to carry on from after a restart at `now`."""
    due = next_release(config, state, now=now, succeeded=succeeded, remaining=remaining)
    if due is None or due >= now:
        return state
    # It fell due while the emulator was down; nothing is released yet in this second.
    return RolloutState(
        released=state.released,
        stage=stage(config, notified=state.released, succeeded=succeeded),
        segment_start=now,
        segment_units=60 * state.released,
    )


def _segment(config: RolloutConfig, state: RolloutState, stage: int, at: int) -> RolloutState:
    """A segment at `stage` from second `at`, with the allowance accrued until then."""
    start = max(at, state.segment_start)  # a segment begun at `at` already: keep its start
    return RolloutState(
        released=state.released,
        stage=stage,
        segment_start=start,
        segment_units=_units_at(config, state, start),
    )


def _units_at(config: RolloutConfig, state: RolloutState, moment: int) -> int:
    """The allowance accrued by the start of second `moment` (>= the segment's start - 1)."""
    return state.segment_units + rate(config, state.stage) * (moment - state.segment_start)


def _next_notified_boundary(config: RolloutConfig, released: int) -> int | None:
    """Where the next numberOfNotifiedThings increase falls: releasing stops there so that
    the new rate takes over (None when notified things raise no rate)."""
    exponential = config.exponential
    if exponential is None or exponential.notified_things is None:
        return None
    step = exponential.notified_things
    return (released // step + 1) * step


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class RolloutPlan:
    """One job's rollout: its config, the things it still has to notify (in order), and how
    far it has got."""

    def __init__(self, config: RolloutConfig, things: Sequence[str], state: RolloutState) -> None:
        self.config = config
        self.state = state
        self._things = list(things)  # the things from position state.released on
        self._next = 0
        self._pending = set(self._things)

    @property
    def remaining(self) -> int:
        return len(self._things) - self._next

    def is_pending(self, thing: str) -> bool:
        """Whether `thing` is still to be notified."""
        return thing in self._pending

    def release(self, *, now: int, succeeded: int) -> list[str]:
        """The things due by `now`, taken off the plan."""
        state = release(
            self.config, self.state, now=now, succeeded=succeeded, remaining=self.remaining
        )
        taken = self._things[self._next : self._next + state.released - self.state.released]
        self._next += len(taken)
        self._pending.difference_update(taken)
        self.state = state
        return taken

    def restage(self, *, now: int, succeeded: int) -> bool:
        """Executions succeeded at `now`: start the stage they earned from the next second.
        Return whether the state changed."""
        state = restage(self.config, self.state, now, succeeded)
        changed = state != self.state
        self.state = state
        return changed

    def next_release(self, *, now: int, succeeded: int) -> int | None:
        return next_release(
            self.config, self.state, now=now, succeeded=succeeded, remaining=self.remaining
        )

    def reconfigure(self, config: RolloutConfig, *, now: int, succeeded: int) -> None:
        """UpdateJob changed the rate: it applies from the next second."""
        self.state = restart(config, self.state, now=now, succeeded=succeeded, old=self.config)
        self.config = config

    def resume(self, *, now: int, succeeded: int) -> None:
        """The emulator (re)started at `now`."""
        self.state = resume(
            self.config, self.state, now=now, succeeded=succeeded, remaining=self.remaining
        )
