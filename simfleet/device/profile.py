"""What a simulated device does with a job: a frozen, validated `BehaviourProfile`.

    BehaviourProfile
     ├── workflow                Workflow: how the device finds work (docs/devices.md, "Agent")
     ├── steps                   Step(name, duration: Distribution), worked in order
     ├── progress_updates, step_timeout_minutes
     ├── failed_probability, rejected_probability   (SUCCEEDED is the rest)
     ├── crash_probability + crash_offline          per job: drop mid-job, come back, resume
     ├── offline_probability + offline_duration     per idle cycle: leave for a while
     ├── poll_interval, idle_wait, request_timeout
     ├── throttle_backoff, reconnect_backoff, max_retries
     └── include_job_document, expected_endings

Durations are seconds. Presets are in `simfleet.device.presets`; files (TOML or YAML) are read
by `simfleet.device.profile_files.load_profile`. A value out of range raises ProfileError
naming its key.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from enum import Enum

from simfleet.device.backoff import Backoff
from simfleet.device.distribution import MAX_SECONDS, Distribution
from simfleet.device.errors import ProfileError
from simfleet.jobs import ExecutionStatus
from simfleet.jobs.requests import MAX_STEP_TIMEOUT_MINUTES

# statusDetails values are 1-1024 characters and no control characters (spec §1.2); a step's
# name is sent as {"step": name}, so it must be one.
_MAX_STEP_NAME = 1024
# The service's own endings of an execution: a device never asks for them.
SERVICE_ENDINGS = frozenset(
    {ExecutionStatus.CANCELED, ExecutionStatus.TIMED_OUT, ExecutionStatus.REMOVED}
)


class Workflow(Enum):
    """How a device finds its next job."""

    NOTIFY_NEXT = "notify-next"  # MQTT: wait for notify-next, then start-next
    DESCRIBE_NEXT = "describe-next"  # describe $next every poll_interval, then update IN_PROGRESS
    START_NEXT_POLL = "start-next-poll"  # start-next every poll_interval (AWS's advice for HTTPS)


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One step of a job: the device spends `duration`, then reports {"step": name}."""

    name: str
    duration: Distribution

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= _MAX_STEP_NAME:
            raise ProfileError(f"name: must be a text of 1-{_MAX_STEP_NAME} characters")
        if any(unicodedata.category(char).startswith("C") for char in self.name):
            raise ProfileError(f"name: {self.name!r} holds control characters")
        if not isinstance(self.duration, Distribution):
            raise ProfileError(f"duration: {self.duration!r} is not a Distribution")


@dataclass(frozen=True, kw_only=True, slots=True)
class BehaviourProfile:
    name: str
    workflow: Workflow = Workflow.NOTIFY_NEXT
    steps: tuple[Step, ...] = ()
    progress_updates: bool = True
    # stepTimeoutInMinutes sent with start-next and every IN_PROGRESS update (AWS: 1-10080).
    step_timeout_minutes: int | None = None
    failed_probability: float = 0.0
    rejected_probability: float = 0.0
    crash_probability: float = 0.0  # drawn once per job
    crash_offline: Distribution = field(default_factory=lambda: Distribution.constant(30.0))
    offline_probability: float = 0.0  # drawn once per cycle that found no work
    offline_duration: Distribution = field(default_factory=lambda: Distribution.constant(60.0))
    poll_interval: Distribution = field(default_factory=lambda: Distribution.uniform(5.0, 15.0))
    idle_wait: float = 5.0  # the longest run_once() waits when there is no work
    request_timeout: float = 30.0
    throttle_backoff: Backoff = field(
        default_factory=lambda: Backoff(base=0.5, cap=20.0, multiplier=2.0)
    )
    reconnect_backoff: Backoff = field(
        default_factory=lambda: Backoff(base=1.0, cap=60.0, multiplier=2.0)
    )
    max_retries: int = 5  # retries of one request (throttled, timed out), then the cycle fails
    include_job_document: bool = True  # in describe requests (start-next always has it)
    # The service's endings (CANCELED, TIMED_OUT, REMOVED) this run expects: their `final` rows
    # are not failures. Any other one is reported as a failure.
    expected_endings: frozenset[ExecutionStatus] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ProfileError("name: must be a non-empty text")
        _check_type("workflow", self.workflow, Workflow)
        _check_steps(self.steps)
        for key in ("progress_updates", "include_job_document"):
            _check_type(key, getattr(self, key), bool)
        minutes = self.step_timeout_minutes
        if minutes is not None:
            _whole("step_timeout_minutes", minutes, 1, MAX_STEP_TIMEOUT_MINUTES)
        for key in (
            "failed_probability",
            "rejected_probability",
            "crash_probability",
            "offline_probability",
        ):
            _number(key, getattr(self, key), 0.0, 1.0)
        total = self.failed_probability + self.rejected_probability
        if total > 1:
            raise ProfileError(
                f"rejected_probability: failed_probability + rejected_probability is {total}, "
                "above 1"
            )
        for key in ("crash_offline", "offline_duration", "poll_interval"):
            _check_type(key, getattr(self, key), Distribution)
        if self.poll_interval.is_zero:
            raise ProfileError("poll_interval: must not always be 0 (a poller would spin)")
        _number("idle_wait", self.idle_wait, 0.0, MAX_SECONDS, low_open=True)
        _number("request_timeout", self.request_timeout, 0.0, MAX_SECONDS, low_open=True)
        for key in ("throttle_backoff", "reconnect_backoff"):
            _check_type(key, getattr(self, key), Backoff)
        _whole("max_retries", self.max_retries, 0, 1000)
        _check_type("expected_endings", self.expected_endings, frozenset)
        unexpected = set(self.expected_endings) - SERVICE_ENDINGS
        if unexpected:
            names = ", ".join(sorted(_label(status) for status in unexpected))
            raise ProfileError(
                f"expected_endings: {names} not among "
                f"{', '.join(sorted(s.value for s in SERVICE_ENDINGS))}"
            )


def _check_steps(steps: object) -> None:
    if not isinstance(steps, tuple):
        raise ProfileError(f"steps: must be a tuple of Step, not {steps!r}")
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, Step):
            raise ProfileError(f"steps[{index}]: {step!r} is not a Step")
        # A resumed job continues after the step its statusDetails name: names must be unique.
        if step.name in seen:
            raise ProfileError(f"steps[{index}].name: {step.name!r} names two steps")
        seen.add(step.name)


def _label(status: object) -> str:
    return status.value if isinstance(status, ExecutionStatus) else repr(status)


def _check_type(key: str, value: object, kind: type) -> None:
    if not isinstance(value, kind):
        raise ProfileError(f"{key}: must be a {kind.__name__}, not {value!r}")


def _number(key: str, value: object, low: float, high: float, *, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProfileError(f"{key}: must be a number, not {value!r}")
    if value > high or value < low or (low_open and value == low):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ProfileError(f"{key}: must be {bound} and <= {high:g}, not {value!r}")


def _whole(key: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{key}: must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ProfileError(f"{key}: must be {low}-{high}, not {value}")
