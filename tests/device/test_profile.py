"""Behaviour profiles: presets, TOML and YAML files (good and bad), validation naming the key,
and the distributions and backoffs a device draws its waits from."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.device.backoff import Backoff
from simfleet.device.distribution import MAX_SECONDS, Distribution, DistributionKind
from simfleet.device.errors import ProfileError
from simfleet.device.presets import PRESETS
from simfleet.device.profile import BehaviourProfile, Step, Workflow
from simfleet.device.profile_files import load_profile
from simfleet.jobs import ExecutionStatus

# --- presets ---------------------------------------------------------------------------------


def test_the_presets_are_named_and_loadable() -> None:
    assert set(PRESETS) == {"default", "fast", "flaky", "https-poller", "describe-next"}
    for name, preset in PRESETS.items():
        assert preset.name == name
        assert load_profile(name) is preset


@pytest.mark.parametrize(
    ("name", "check"),
    [
        pytest.param(
            "default",
            lambda p: p.workflow is Workflow.NOTIFY_NEXT and 0 < p.failed_probability <= 0.05,
            id="default",
        ),
        pytest.param(
            "fast",
            lambda p: (
                all(s.duration.high is not None and s.duration.high < 1 for s in p.steps)
                and 0.02 <= p.failed_probability <= 0.05
            ),
            id="fast",
        ),
        pytest.param(
            "flaky", lambda p: p.crash_probability > 0 and p.offline_probability > 0, id="flaky"
        ),
        pytest.param(
            "https-poller", lambda p: p.workflow is Workflow.START_NEXT_POLL, id="https-poller"
        ),
        pytest.param(
            "describe-next", lambda p: p.workflow is Workflow.DESCRIBE_NEXT, id="describe-next"
        ),
    ],
)
def test_each_preset_does_what_its_name_says(
    name: str, check: Callable[[BehaviourProfile], bool]
) -> None:
    assert check(PRESETS[name])


# --- files -----------------------------------------------------------------------------------

FULL_TOML = """
base = "fast"
name = "slow-install"
workflow = "describe-next"
failed_probability = 0.05
rejected_probability = 0.01
poll_interval = 10
idle_wait = 2
crash_offline = { kind = "uniform", low = 5, high = 30 }
offline_duration = { kind = "exponential", mean = 60, cap = 600 }
throttle_backoff = { cap = 60 }
step_timeout_minutes = "off"
expected_endings = ["CANCELED", "TIMED_OUT"]

[[steps]]
name = "download"
duration = { kind = "lognormal", median = 20, sigma = 0.5, cap = 120 }

[[steps]]
name = "install"
duration = { kind = "constant", value = 3 }
"""

FULL_YAML = """
base: fast
name: slow-install
workflow: describe-next
failed_probability: 0.05
rejected_probability: 0.01
poll_interval: 10
idle_wait: 2
crash_offline: {kind: uniform, low: 5, high: 30}
offline_duration: {kind: exponential, mean: 60, cap: 600}
throttle_backoff: {cap: 60}
step_timeout_minutes: null
expected_endings: [CANCELED, TIMED_OUT]
steps:
  - name: download
    duration: {kind: lognormal, median: 20, sigma: 0.5, cap: 120}
  - name: install
    duration: {kind: constant, value: 3}
"""

FULL = dataclasses.replace(
    PRESETS["fast"],
    name="slow-install",
    workflow=Workflow.DESCRIBE_NEXT,
    failed_probability=0.05,
    rejected_probability=0.01,
    poll_interval=Distribution.constant(10),
    idle_wait=2,
    crash_offline=Distribution.uniform(5, 30),
    offline_duration=Distribution.exponential(60, cap=600),
    # Merged over the base's backoff: only the cap changes.
    throttle_backoff=dataclasses.replace(PRESETS["fast"].throttle_backoff, cap=60),
    step_timeout_minutes=None,
    expected_endings=frozenset({ExecutionStatus.CANCELED, ExecutionStatus.TIMED_OUT}),
    steps=(
        Step(name="download", duration=Distribution.lognormal(20, 0.5, cap=120)),
        Step(name="install", duration=Distribution.constant(3)),
    ),
)


@pytest.mark.parametrize(
    ("file_name", "content", "expected"),
    [
        pytest.param("full.toml", FULL_TOML, FULL, id="toml-full"),
        pytest.param("full.yaml", FULL_YAML, FULL, id="yaml-full"),
        pytest.param("full.yml", FULL_YAML, FULL, id="yml-full"),
        pytest.param(
            "mine.toml",
            "failed_probability = 0.1\n",
            BehaviourProfile(name="mine", failed_probability=0.1),
            id="toml-no-base-takes-the-defaults",
        ),
        pytest.param("empty.yaml", "", BehaviourProfile(name="empty"), id="yaml-empty"),
        pytest.param(
            "poll.toml",
            'base = "https-poller"\nstep_timeout_minutes = 30\n',
            dataclasses.replace(PRESETS["https-poller"], name="poll", step_timeout_minutes=30),
            id="toml-base-keeps-the-rest",
        ),
        pytest.param(
            "quick.toml",
            'base = "default"\nsteps = []\nreconnect_backoff = { base = 2, multiplier = 3 }\n',
            dataclasses.replace(
                PRESETS["default"],
                name="quick",
                steps=(),
                reconnect_backoff=Backoff(base=2, cap=60, multiplier=3),
            ),
            id="toml-no-steps-and-a-merged-backoff",
        ),
    ],
)
def test_good_files_load(
    tmp_path: Path, file_name: str, content: str, expected: BehaviourProfile
) -> None:
    path = tmp_path / file_name
    path.write_text(content)
    assert load_profile(path) == expected
    assert load_profile(str(path)) == expected


BAD = [
    ("colour = 1", "colour"),
    ('failed_probability = "high"', "failed_probability"),
    ("idle_wait = true", "idle_wait"),
    ("idle_wait = 0", "idle_wait"),
    ("request_timeout = -1", "request_timeout"),
    ("failed_probability = 1.5", "failed_probability"),
    ("crash_probability = -0.1", "crash_probability"),
    ("failed_probability = 0.7\nrejected_probability = 0.5", "rejected_probability"),
    ("step_timeout_minutes = 0", "step_timeout_minutes"),
    ("step_timeout_minutes = 10081", "step_timeout_minutes"),
    ('step_timeout_minutes = "never"', "step_timeout_minutes"),
    ("max_retries = 1.5", "max_retries"),
    ("max_retries = -1", "max_retries"),
    ("progress_updates = 1", "progress_updates"),
    ('workflow = "push"', "workflow"),
    ('base = "nope"', "base"),
    ("name = 5", "name"),
    ('poll_interval = { kind = "gamma", value = 1 }', "poll_interval.kind"),
    ("poll_interval = { value = 1 }", "poll_interval.kind"),
    ('poll_interval = { kind = "uniform", low = 1 }', "poll_interval.high"),
    ('poll_interval = { kind = "constant", value = 1, mean = 2 }', "poll_interval.mean"),
    ('poll_interval = { kind = "constant", value = 1, foo = 2 }', "poll_interval.foo"),
    ('poll_interval = { kind = "constant", value = "1" }', "poll_interval.value"),
    ("poll_interval = 0", "poll_interval"),
    ('poll_interval = "5s"', "poll_interval"),
    ('crash_offline = { kind = "uniform", low = 5, high = 1 }', "crash_offline.high"),
    ('crash_offline = { kind = "exponential", mean = 0 }', "crash_offline.mean"),
    (
        'offline_duration = { kind = "lognormal", median = 1, sigma = 1e12 }',
        "offline_duration.sigma",
    ),
    ("offline_duration = -1", "offline_duration"),
    ('steps = "download"', "steps"),
    ('steps = [{ name = "a" }]', "steps[0].duration"),
    ("steps = [{ duration = 1 }]", "steps[0].name"),
    ('steps = [{ name = "a", duration = 1, colour = "red" }]', "steps[0].colour"),
    ('steps = [{ name = "", duration = 1 }]', "steps[0].name"),
    ('steps = [{ name = "a\\u0007", duration = 1 }]', "steps[0].name"),
    (
        'steps = [{ name = "a", duration = { kind = "uniform", low = 2 } }]',
        "steps[0].duration.high",
    ),
    ('steps = [{ name = "a", duration = 1 }, { name = "a", duration = 2 }]', "steps[1].name"),
    ('steps = ["a"]', "steps[0]"),
    ("throttle_backoff = { jitter = 1 }", "throttle_backoff.jitter"),
    ("throttle_backoff = 5", "throttle_backoff"),
    ("reconnect_backoff = { base = 10, cap = 5 }", "reconnect_backoff.cap"),
    ("throttle_backoff = { multiplier = 0.5 }", "throttle_backoff.multiplier"),
    ('expected_endings = ["SUCCEEDED"]', "expected_endings"),
    ('expected_endings = ["NOPE"]', "expected_endings"),
    ('expected_endings = "CANCELED"', "expected_endings"),
]


@pytest.mark.parametrize(
    ("content", "key"), [pytest.param(content, key, id=content) for content, key in BAD]
)
def test_bad_toml_names_the_file_and_the_key(tmp_path: Path, content: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content + "\n")
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    assert str(raised.value).startswith(f"{path}: {key}:"), str(raised.value)


@pytest.mark.parametrize(
    ("content", "key"),
    [
        pytest.param("colour: red", "colour", id="unknown-key"),
        pytest.param("failed_probability: [1]", "failed_probability", id="wrong-type"),
        pytest.param("steps: {name: a}", "steps", id="steps-not-a-list"),
        pytest.param("steps:\n  - name: a\n    duration: null", "steps[0].duration", id="null"),
        pytest.param("expected_endings: [CANCELED, 1]", "expected_endings", id="ending-type"),
        pytest.param("1: x", "1", id="key-not-text"),
    ],
)
def test_bad_yaml_names_the_file_and_the_key(tmp_path: Path, content: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content + "\n")
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    assert str(raised.value).startswith(f"{path}: {key}:"), str(raised.value)


@pytest.mark.parametrize(
    ("file_name", "content", "says"),
    [
        pytest.param("bad.toml", "a = = 1", "not valid TOML", id="toml-syntax"),
        pytest.param("bad.yaml", "a: [1", "not valid YAML", id="yaml-syntax"),
        pytest.param("list.yaml", "- 1\n- 2", "must hold a mapping", id="yaml-list"),
        pytest.param("text.yml", "just text", "must hold a mapping", id="yaml-scalar"),
        pytest.param("binary.toml", b"\xff\xfe", "not UTF-8", id="not-utf8"),
    ],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, file_name: str, content: str | bytes, says: str
) -> None:
    path = tmp_path / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ProfileError, match=says) as raised:
        load_profile(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_missing_file_or_unknown_name_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot be read"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ProfileError, match="neither a preset") as raised:
        load_profile("nosuch")
    assert "fast" in str(raised.value)  # the presets are listed
    assert issubclass(ProfileError, ValueError)  # argparse-friendly: `type=load_profile`


# --- values built in code ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "key"),
    [
        pytest.param(lambda: BehaviourProfile(name=""), "name", id="empty-name"),
        pytest.param(
            lambda: BehaviourProfile(name="x", failed_probability=math.nan),
            "failed_probability",
            id="nan",
        ),
        pytest.param(
            lambda: BehaviourProfile(name="x", workflow="notify-next"),  # type: ignore[arg-type]
            "workflow",
            id="workflow",
        ),
        pytest.param(
            lambda: BehaviourProfile(name="x", steps=[]),  # type: ignore[arg-type]
            "steps",
            id="steps-list",
        ),
        pytest.param(
            lambda: BehaviourProfile(name="x", poll_interval=Distribution.uniform(0, 0)),
            "poll_interval",
            id="poll-never-waits",
        ),
        pytest.param(
            lambda: BehaviourProfile(
                name="x", expected_endings=frozenset({ExecutionStatus.FAILED})
            ),
            "expected_endings",
            id="device-ending",
        ),
        pytest.param(
            lambda: Step(name="a", duration=1.0),  # type: ignore[arg-type]
            "duration",
            id="step-duration",
        ),
        pytest.param(lambda: Distribution.uniform(2, 1), "high", id="uniform"),
        pytest.param(lambda: Distribution.constant(math.inf), "value", id="inf"),
        pytest.param(lambda: Distribution.lognormal(0, 1), "median", id="median"),
        pytest.param(lambda: Backoff(base=-1), "base", id="backoff-base"),
        pytest.param(lambda: Backoff(multiplier=True), "multiplier", id="backoff-bool"),
    ],
)
def test_values_built_in_code_are_validated(build: Callable[[], Any], key: str) -> None:
    with pytest.raises(ProfileError) as raised:
        build()
    assert str(raised.value).startswith(f"{key}:"), str(raised.value)


# --- distributions and backoff -------------------------------------------------------------

seconds = st.floats(min_value=0, max_value=MAX_SECONDS, allow_nan=False)
positive = st.floats(min_value=1e-9, max_value=MAX_SECONDS, allow_nan=False)
caps = st.none() | seconds


@st.composite
def distributions(draw: st.DrawFn) -> Distribution:
    kind = draw(st.sampled_from(DistributionKind))
    if kind is DistributionKind.CONSTANT:
        return Distribution.constant(draw(seconds))
    if kind is DistributionKind.UNIFORM:
        low, high = sorted((draw(seconds), draw(seconds)))
        return Distribution.uniform(low, high)
    if kind is DistributionKind.EXPONENTIAL:
        return Distribution.exponential(draw(positive), cap=draw(caps))
    return Distribution.lognormal(draw(positive), draw(seconds), cap=draw(caps))


@settings(max_examples=200, deadline=None)
@given(distributions(), st.integers(min_value=0, max_value=2**32))
def test_a_sample_is_seconds_within_the_distribution(distribution: Distribution, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(5):
        sample = distribution.sample(rng)
        assert 0 <= sample <= MAX_SECONDS
        if distribution.cap is not None:
            assert sample <= distribution.cap
        if distribution.low is not None and distribution.high is not None:
            assert distribution.low <= sample <= distribution.high
        if distribution.value is not None:
            assert sample == distribution.value


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=1, max_value=100, allow_nan=False),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=2**32),
)
def test_a_backoff_waits_between_zero_and_its_growing_ceiling(
    base: float, extra: float, multiplier: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base=base, cap=base + extra, multiplier=multiplier)
    ceiling = backoff.ceiling(attempt)
    assert backoff.ceiling(0) == base
    assert ceiling <= backoff.cap
    assert ceiling >= backoff.ceiling(max(0, attempt - 1))
    if base == 0:
        expected = 0.0
    elif attempt * math.log(multiplier) > 700:  # multiplier**attempt would overflow a float
        expected = backoff.cap
    else:
        expected = min(backoff.cap, base * multiplier**attempt)
    assert ceiling == pytest.approx(expected)
    assert 0 <= backoff.sample(attempt, random.Random(seed)) <= ceiling


def test_a_backoff_attempt_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().ceiling(-1)
