"""The soak's plan: its options, `SoakPlan` checked once, the phases in time, the job waves.

    run time   0 ──ramp──▶ hold_start ──────hold──────▶ hold_end ──drain──▶ end
    users      -u at -r a second     (held)                          (held)   stop
    waves                    ·   W   ·   W   ·  ...  W   ·    the last one as the hold ends
    storm                         ▲ storm_at into the hold: a fraction of the devices drop

The ramp is Locust's own `-u N+1 -r R` (the shape reads them: `use_common_options`); the run
stops at `end`, or earlier with --stop-when-done once the last wave is over. A wave is the
Operator's job plan (--job-count jobs at --job-rate), started again every --soak-wave-period.

No Locust import and no clock: times are passed in, so the plan is tested in pytest.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import Any

from simfleet.locust.errors import ConfigError
from simfleet.locust.operator import JobPlanner

DEFAULT_HOLD = "30m"  # a nightly CI run: long enough for a leak to show in the slope
DEFAULT_WAVE_PERIOD = "5m"
DEFAULT_STORM_FRACTION = 0.5
DEFAULT_DRAIN = "5m"  # the last wave's rollout and stragglers' backoff
DEFAULT_MEMORY_INTERVAL = "5s"
MIN_MEMORY_INTERVAL = 0.5  # a psutil read per process; more often only adds noise
# 90, 90s, 1.5m, 5m, 1h30m, 2h (the spellings of Locust's --run-time, and plain seconds).
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s?)?"
)


def add_soak_options(parser: Any, **_: Any) -> None:
    """Register the soak's options: a listener of `init_command_line_parser`."""
    start_up = {"include_in_web_ui": False}
    parser.add_argument(
        "--soak-hold", default=DEFAULT_HOLD, env_var="LOCUST_SOAK_HOLD", **start_up,
        help="how long the soak holds its devices after the ramp (-u at -r a second): "
        f"90, 90s, 5m, 1h30m (default: {DEFAULT_HOLD})",
    )  # fmt: skip
    parser.add_argument(
        "--soak-wave-period", default=DEFAULT_WAVE_PERIOD, env_var="LOCUST_SOAK_WAVE_PERIOD",
        **start_up,
        help="the Operator starts a wave (--job-count jobs at --job-rate) this often during "
        f"the hold, the last one as the hold ends (default: {DEFAULT_WAVE_PERIOD})",
    )  # fmt: skip
    parser.add_argument(
        "--soak-storm-at", env_var="LOCUST_SOAK_STORM_AT", **start_up,
        help="when the disconnect storm strikes, counted from the start of the hold "
        "(default: half the hold)",
    )  # fmt: skip
    parser.add_argument(
        "--soak-storm-fraction", default=str(DEFAULT_STORM_FRACTION),
        env_var="LOCUST_SOAK_STORM_FRACTION", **start_up,
        help="the fraction (0-1) of connected devices the storm drops with no DISCONNECT; "
        f"they reconnect with their profile's backoff; 0: no storm (default: "
        f"{DEFAULT_STORM_FRACTION})",
    )  # fmt: skip
    parser.add_argument(
        "--soak-drain", default=DEFAULT_DRAIN, env_var="LOCUST_SOAK_DRAIN", **start_up,
        help="the longest the run goes on after the hold for the last wave to end (it ends "
        f"sooner with --stop-when-done) (default: {DEFAULT_DRAIN})",
    )  # fmt: skip
    parser.add_argument(
        "--memory-interval", default=DEFAULT_MEMORY_INTERVAL, env_var="LOCUST_MEMORY_INTERVAL",
        **start_up,
        help="how often the RSS of the Locust processes and the embedded emulator is sampled "
        f"for the memory slope (default: {DEFAULT_MEMORY_INTERVAL})",
    )  # fmt: skip


def parse_duration(value: Any, option: str) -> float:
    """Seconds from `90`, `90s`, `1.5m`, `1h30m`; ConfigError naming `option` otherwise."""
    text = str(value).strip()
    if text.startswith("-"):
        raise ConfigError(f"{option} must not be negative, not {text}")
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ConfigError(f"{option} must be a duration such as 90, 90s, 5m or 1h30m, not {text!r}")
    hours, minutes, seconds = (float(match[unit] or 0) for unit in ("h", "m", "s"))
    return hours * 3600 + minutes * 60 + seconds


def _fraction(value: Any, option: str) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a number in 0-1, not {value!r}") from None
    if not 0.0 <= fraction <= 1.0:  # also refuses nan
        raise ConfigError(f"{option} must be in 0-1 (a fraction of the devices), not {value}")
    return fraction


@dataclass(frozen=True, kw_only=True)
class SoakPlan:
    """The soak's options, in seconds, checked together."""

    hold: float
    wave_period: float
    storm_at: float  # into the hold
    storm_fraction: float
    drain: float
    memory_interval: float

    def __post_init__(self) -> None:
        # Durations are parsed non-negative; these are the checks that need two of them, or 0.
        if self.hold <= 0:
            raise ConfigError(f"--soak-hold must be longer than 0 s, not {self.hold:g} s")
        if self.wave_period <= 0:
            raise ConfigError(
                f"--soak-wave-period must be longer than 0 s, not {self.wave_period:g} s"
            )
        if self.storm_at > self.hold:
            raise ConfigError(
                f"--soak-storm-at {self.storm_at:g} s falls after the hold "
                f"(--soak-hold {self.hold:g} s): the storm strikes during the hold"
            )
        if self.memory_interval < MIN_MEMORY_INTERVAL:
            raise ConfigError(
                f"--memory-interval must be at least {MIN_MEMORY_INTERVAL:g} s, not "
                f"{self.memory_interval:g} s"
            )

    @classmethod
    def from_options(cls, options: Any) -> SoakPlan:
        """From Locust's parsed options; ConfigError names the first option that is wrong."""
        hold = parse_duration(options.soak_hold, "--soak-hold")
        storm_at = options.soak_storm_at
        return cls(
            hold=hold,
            wave_period=parse_duration(options.soak_wave_period, "--soak-wave-period"),
            storm_at=hold / 2
            if storm_at is None or storm_at == ""
            else parse_duration(storm_at, "--soak-storm-at"),
            storm_fraction=_fraction(options.soak_storm_fraction, "--soak-storm-fraction"),
            drain=parse_duration(options.soak_drain, "--soak-drain"),
            memory_interval=parse_duration(options.memory_interval, "--memory-interval"),
        )

    @property
    def waves(self) -> int:
        """Waves in the hold: every wave_period, the last one as the hold ends."""
        return math.floor(self.hold / self.wave_period) + 1

    def check_wave(self, *, count: int, per_minute: float) -> None:
        """A wave (the job plan) must be created before the next one starts."""
        if per_minute and count > 1:
            spread = (count - 1) * 60.0 / per_minute
            if spread >= self.wave_period:
                raise ConfigError(
                    f"a wave of --job-count {count} jobs at --job-rate {per_minute:g} a minute "
                    f"takes {spread:g} s to create, not less than --soak-wave-period "
                    f"{self.wave_period:g} s: waves would overlap"
                )

    def timeline(self, *, users: int, spawn_rate: float) -> SoakTimeline:
        """The phases of a run that ramps to `users` at `spawn_rate` a second."""
        if users < 1:
            raise ConfigError(f"the soak needs users (-u), not {users}")
        if not spawn_rate > 0:
            raise ConfigError(f"the soak's ramp needs a positive --spawn-rate, not {spawn_rate}")
        return SoakTimeline(
            ramp=users / spawn_rate, hold=self.hold, drain=self.drain, storm_at=self.storm_at
        )


class SoakPhase(enum.Enum):
    RAMP = "ramp"
    HOLD = "hold"
    DRAIN = "drain"
    OVER = "over"


@dataclass(frozen=True, kw_only=True)
class SoakTimeline:
    """The phases in run time: seconds since the shape started."""

    ramp: float
    hold: float
    drain: float
    storm_at: float

    @property
    def hold_start(self) -> float:
        return self.ramp

    @property
    def hold_end(self) -> float:
        return self.ramp + self.hold

    @property
    def storm_time(self) -> float:
        return self.ramp + self.storm_at

    @property
    def end(self) -> float:
        return self.hold_end + self.drain

    def phase(self, at: float) -> SoakPhase:
        if at < self.hold_start:
            return SoakPhase.RAMP
        if at < self.hold_end:
            return SoakPhase.HOLD
        if at < self.end:
            return SoakPhase.DRAIN
        return SoakPhase.OVER


class WavePlanner(JobPlanner):
    """A JobPlanner whose jobs come in `waves`, `period` seconds apart, the last one `span`
    seconds after `start`: each wave is `per_wave` jobs, `per_minute` a minute (0: at once).
    Job IDs run on across waves (`<prefix>-1`, `<prefix>-2`, ...), so that they stay within
    the 64 characters the plan's prefix leaves room for (spec §3)."""

    def __init__(
        self,
        *,
        prefix: str,
        per_wave: int,
        per_minute: float,
        period: float,
        waves: int,
        span: float,
        start: float,
    ) -> None:
        if waves < 1:
            raise ValueError(f"waves must be at least 1, not {waves}")
        super().__init__(prefix=prefix, count=per_wave * waves, per_minute=per_minute, start=start)
        self._per_wave = per_wave
        self._period = period
        # The last wave starts as the hold ends, so that --stop-when-done cannot end the run
        # before the hold does: the first one comes what is left over after whole periods.
        self._first = start + span - (waves - 1) * period

    @classmethod
    def for_plan(
        cls, plan: SoakPlan, *, prefix: str, per_wave: int, per_minute: float, start: float
    ) -> WavePlanner:
        """The waves of `plan`, each `per_wave` jobs at `per_minute`, from `start`."""
        return cls(
            prefix=prefix,
            per_wave=per_wave,
            per_minute=per_minute,
            period=plan.wave_period,
            waves=plan.waves,
            span=plan.hold,
            start=start,
        )

    def next_due(self) -> float | None:
        if self.done:
            return None
        wave, position = divmod(self._issued, self._per_wave)
        return self._first + wave * self._period + position * self._interval
