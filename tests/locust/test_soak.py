"""The soak: its plan (options, phases, waves), the storm's registry, the memory slope, and a
short real soak on the embedded emulator with a storm in the middle of its hold."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import configargparse  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.locust.errors import ConfigError
from simfleet.locust.memory import (
    MIN_SAMPLES,
    MemoryMonitor,
    least_squares_slope,
    rss_of,
)
from simfleet.locust.soak_plan import (
    SoakPhase,
    SoakPlan,
    SoakTimeline,
    WavePlanner,
    add_soak_options,
    parse_duration,
)
from simfleet.locust.soak_state import SoakState, soak_report
from simfleet.locust.storm import Connections, StormResult, connections_of
from tests.locust.locust_process import counts, run_locust, stats_rows


class SoakParser(configargparse.ArgumentParser):  # type: ignore[misc]
    """Locust's parser as far as the soak's options go (its web UI keyword dropped)."""

    def __init__(self) -> None:
        super().__init__(default_config_files=[])
        add_soak_options(self)

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("include_in_web_ui", None)
        return super().add_argument(*args, **kwargs)


def _plan(*argv: str) -> SoakPlan:
    return SoakPlan.from_options(SoakParser().parse_args(list(argv)))


# --- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("90", 90.0, id="plain-seconds"),
        pytest.param("1.5", 1.5, id="fractional"),
        pytest.param("90s", 90.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h30m", 5400.0, id="hours-minutes"),
        pytest.param("1h2m3s", 3723.0, id="all-units"),
        pytest.param(" 2h ", 7200.0, id="spaces"),
        pytest.param("0", 0.0, id="zero"),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--x") == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("-5", "--x must not be negative, not -5", id="negative"),
        pytest.param("-1h", "--x must not be negative, not -1h", id="negative-unit"),
        pytest.param("", "--x must be a duration such as 90, 90s, 5m or 1h30m, not ''", id="empty"),
        pytest.param("5 min", "not '5 min'", id="word"),
        pytest.param("m", "not 'm'", id="unit-alone"),
        pytest.param("3m1h", "not '3m1h'", id="out-of-order"),
        pytest.param("inf", "not 'inf'", id="inf"),
    ],
)
def test_bad_durations(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_duration(text, "--x")


def test_defaults_are_a_nightly_soak() -> None:
    plan = _plan()
    assert plan == SoakPlan(hold=1800.0, wave_period=300.0, storm_at=900.0,
                            storm_fraction=0.5, drain=300.0, memory_interval=5.0)  # fmt: skip
    assert plan.waves == 7  # 0, 5, ..., 30 minutes into the hold


def test_every_option_is_read_also_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_SOAK_DRAIN", "45s")
    plan = _plan("--soak-hold", "10m", "--soak-wave-period", "90", "--soak-storm-at", "2m",
                 "--soak-storm-fraction", "0.25", "--memory-interval", "2s")  # fmt: skip
    assert plan == SoakPlan(hold=600.0, wave_period=90.0, storm_at=120.0,
                            storm_fraction=0.25, drain=45.0, memory_interval=2.0)  # fmt: skip
    assert plan.waves == 7  # 600 // 90 + 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("--soak-hold=-30m",), "--soak-hold must not be negative, not -30m",
                     id="negative-hold"),
        pytest.param(("--soak-hold", "0"), "--soak-hold must be longer than 0 s, not 0 s",
                     id="zero-hold"),
        pytest.param(("--soak-wave-period=-1",),
                     "--soak-wave-period must not be negative, not -1", id="negative-period"),
        pytest.param(("--soak-wave-period", "0s"),
                     "--soak-wave-period must be longer than 0 s", id="zero-period"),
        pytest.param(("--soak-drain=-5m",), "--soak-drain must not be negative, not -5m",
                     id="negative-drain"),
        pytest.param(("--soak-storm-at=-1s",), "--soak-storm-at must not be negative",
                     id="negative-storm-at"),
        pytest.param(("--soak-hold", "10m", "--soak-storm-at", "11m"),
                     "--soak-storm-at 660 s falls after the hold (--soak-hold 600 s)",
                     id="storm-after-hold"),
        pytest.param(("--soak-storm-fraction", "1.5"),
                     "--soak-storm-fraction must be in 0-1 (a fraction of the devices), not 1.5",
                     id="fraction-above-1"),
        pytest.param(("--soak-storm-fraction", "-0.1"),
                     "--soak-storm-fraction must be in 0-1", id="fraction-below-0"),
        pytest.param(("--soak-storm-fraction", "nan"), "--soak-storm-fraction must be in 0-1",
                     id="fraction-nan"),
        pytest.param(("--soak-storm-fraction", "half"),
                     "--soak-storm-fraction must be a number in 0-1, not 'half'",
                     id="fraction-word"),
        pytest.param(("--memory-interval", "0.1"), "--memory-interval must be at least 0.5 s",
                     id="interval-too-short"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_naming_the_option(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _plan(*argv)


@pytest.mark.parametrize(
    ("users", "spawn_rate", "message"),
    [
        pytest.param(0, 1.0, "the soak needs users (-u), not 0", id="no-users"),
        pytest.param(10, 0.0, "a positive --spawn-rate, not 0.0", id="zero-rate"),
        pytest.param(10, -2.0, "a positive --spawn-rate, not -2.0", id="negative-rate"),
    ],
)
def test_a_ramp_needs_users_and_a_rate(users: int, spawn_rate: float, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _plan().timeline(users=users, spawn_rate=spawn_rate)


@pytest.mark.parametrize(
    ("count", "per_minute", "fits"),
    [
        pytest.param(1, 0.0, True, id="one-job"),
        pytest.param(50, 0.0, True, id="all-at-once"),
        pytest.param(5, 60.0, True, id="4s-of-60s"),
        pytest.param(61, 60.0, False, id="60s-of-60s"),
        pytest.param(3, 1.0, False, id="120s-of-60s"),
    ],
)
def test_a_wave_must_be_created_before_the_next(count: int, per_minute: float, fits: bool) -> None:
    plan = _plan("--soak-wave-period", "60")
    if fits:
        plan.check_wave(count=count, per_minute=per_minute)
    else:
        with pytest.raises(ConfigError, match="waves would overlap"):
            plan.check_wave(count=count, per_minute=per_minute)


# --- phases and waves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "phase"),
    [
        pytest.param(0.0, SoakPhase.RAMP, id="start"),
        pytest.param(19.9, SoakPhase.RAMP, id="ramp"),
        pytest.param(20.0, SoakPhase.HOLD, id="hold-starts"),
        pytest.param(619.9, SoakPhase.HOLD, id="hold"),
        pytest.param(620.0, SoakPhase.DRAIN, id="drain-starts"),
        pytest.param(679.9, SoakPhase.DRAIN, id="drain"),
        pytest.param(680.0, SoakPhase.OVER, id="over"),
    ],
)
def test_phases_in_run_time(at: float, phase: SoakPhase) -> None:
    timeline = _plan("--soak-hold", "10m", "--soak-drain", "1m").timeline(
        users=1001, spawn_rate=50.05
    )
    assert timeline == SoakTimeline(ramp=20.0, hold=600.0, drain=60.0, storm_at=300.0)
    assert (timeline.hold_start, timeline.hold_end, timeline.storm_time, timeline.end) == (
        20.0, 620.0, 320.0, 680.0,
    )  # fmt: skip
    assert timeline.phase(at) is phase


def _all_due(planner: WavePlanner, *, step: float, until: float) -> list[tuple[float, str]]:
    """(time handed out, job id) polling every `step` seconds, as the Operator does."""
    handed: list[tuple[float, str]] = []
    now = 0.0
    while now <= until and not planner.done:
        handed += [(now, job_id) for job_id in planner.due(now)]
        now += step
    return handed


def test_waves_every_period_the_last_as_the_hold_ends() -> None:
    plan = _plan("--soak-hold", "100", "--soak-wave-period", "30")
    planner = WavePlanner.for_plan(plan, prefix="soak", per_wave=2, per_minute=60.0, start=0.0)
    handed = _all_due(planner, step=1.0, until=200.0)
    assert handed == [
        (10.0, "soak-1"), (11.0, "soak-2"), (40.0, "soak-3"), (41.0, "soak-4"),
        (70.0, "soak-5"), (71.0, "soak-6"), (100.0, "soak-7"), (101.0, "soak-8"),
    ]  # fmt: skip
    assert planner.done
    assert planner.next_due() is None


@settings(max_examples=200, deadline=None)
@given(
    span=st.floats(min_value=1.0, max_value=10_000.0),
    period=st.floats(min_value=1.0, max_value=1_000.0),
    per_wave=st.integers(min_value=1, max_value=5),
    start=st.floats(min_value=0.0, max_value=1e6),
)
def test_waves_property(span: float, period: float, per_wave: int, start: float) -> None:
    """Every wave starts `period` after the previous one, all within [start, start + span],
    the last at start + span; its jobs come at once (rate 0); IDs run on without a gap."""
    waves = math.floor(span / period) + 1
    planner = WavePlanner(prefix="p", per_wave=per_wave, per_minute=0.0, period=period,
                          waves=waves, span=span, start=start)  # fmt: skip
    starts: list[float] = []
    ids: list[str] = []
    while (at := planner.next_due()) is not None:
        starts.append(at)
        ids += planner.due(at)  # a whole wave at once
    assert planner.done
    assert ids == [f"p-{n}" for n in range(1, waves * per_wave + 1)]
    assert len(starts) == waves
    assert starts[-1] == pytest.approx(start + span)
    assert starts[0] >= start - 1e-6
    assert all(b - a == pytest.approx(period) for a, b in itertools.pairwise(starts))


def test_a_wave_planner_needs_a_wave() -> None:
    with pytest.raises(ValueError, match="waves must be at least 1"):
        WavePlanner(prefix="p", per_wave=1, per_minute=0, period=1, waves=0, span=1, start=0)


# --- the storm -----------------------------------------------------------------------------


class FakeTransport:
    """What Connections reads of a transport."""

    def __init__(self, thing_name: str, *, connected: bool = True) -> None:
        self.thing_name = thing_name
        self.connected = connected
        self.drops = 0

    def drop(self) -> None:
        self.drops += 1
        self.connected = False


def _connections(online: int, offline: int = 0) -> tuple[Connections, list[FakeTransport]]:
    connections = Connections()
    transports = [FakeTransport(f"sim-{i}", connected=i < online) for i in range(online + offline)]
    for transport in transports:
        connections.enlist(transport)  # type: ignore[arg-type]
    return connections, transports


@pytest.mark.parametrize(
    ("online", "offline", "fraction", "dropped"),
    [
        pytest.param(10, 0, 0.5, 5, id="half"),
        pytest.param(10, 5, 0.5, 5, id="only-connected-count"),
        pytest.param(5, 0, 0.5, 3, id="rounds-half-up"),
        pytest.param(10, 0, 0.0, 0, id="none"),
        pytest.param(10, 0, 1.0, 10, id="all"),
        pytest.param(0, 3, 1.0, 0, id="nobody-online"),
    ],
)
def test_a_storm_drops_a_fraction_of_the_connected(
    online: int, offline: int, fraction: float, dropped: int
) -> None:
    connections, transports = _connections(online, offline)
    result = connections.drop(fraction, random.Random(7))
    assert result == StormResult(connected=online, dropped=dropped)
    assert sum(t.drops for t in transports) == dropped
    assert all(t.drops == 0 for t in transports[online:])  # never one already offline


def test_devices_leave_the_registry_and_a_bad_fraction_is_refused() -> None:
    connections, transports = _connections(4)
    connections.leave("sim-0")
    connections.leave("sim-9")  # unknown: nothing happens
    assert len(connections) == 3
    assert connections.drop(1.0, random.Random(1)).dropped == 3
    assert transports[0].drops == 0
    with pytest.raises(ValueError, match="fraction must be in 0-1"):
        connections.drop(1.5, random.Random(1))


def test_each_environment_has_its_own_connections() -> None:
    class Environment:
        pass

    first, second = Environment(), Environment()
    assert connections_of(first) is connections_of(first)
    assert connections_of(first) is not connections_of(second)


def test_storm_results_travel_as_dicts() -> None:
    result = StormResult(connected=10, dropped=4)
    assert StormResult.from_dict(result.to_dict(), worker="worker 1") == StormResult(
        connected=10, dropped=4, worker="worker 1"
    )


# --- memory --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    slope=st.floats(min_value=-1e4, max_value=1e4),
    intercept=st.floats(min_value=0.0, max_value=1e6),
    xs=st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=2, max_size=50, unique=True),
)
def test_the_slope_of_points_on_a_line_is_the_line_s(
    slope: float, intercept: float, xs: list[float]
) -> None:
    if max(xs) - min(xs) < 1e-3:
        return  # x barely varies: the fit is ill-conditioned, not wrong
    points = [(x, intercept + slope * x) for x in xs]
    fitted = least_squares_slope(points)
    assert fitted == pytest.approx(slope, rel=1e-6, abs=1e-3)


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([], id="none"),
        pytest.param([(1.0, 5.0)], id="one"),
        pytest.param([(1.0, 5.0), (1.0, 9.0)], id="x-does-not-vary"),
    ],
)
def test_no_slope_without_two_distinct_times(points: list[tuple[float, float]]) -> None:
    assert least_squares_slope(points) is None


def test_noise_around_a_leak_still_shows_the_leak() -> None:
    rng = random.Random(3)
    points = [(m / 12, 80_000 + 50 * (m / 12) + rng.uniform(-500, 500)) for m in range(360)]
    fitted = least_squares_slope(points)
    assert fitted is not None
    assert 40 < fitted < 60  # 50 KB/min under +-500 KB of noise, over 30 minutes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_monitor_fits_each_process_over_the_window() -> None:
    clock = Clock()
    monitor = MemoryMonitor(clock=clock)
    for second in range(0, 200, 5):
        clock.now = float(second)
        ramp = min(second, 60) * 1024 * 100  # +100 KB a second during the ramp
        monitor.record("locust", 11, 50 * 2**20 + ramp)  # then flat
        monitor.record("emulator", 12, 40 * 2**20 + second * 1024)  # 60 KB/min, always
    report = monitor.report((60.0, 180.0))
    by_name = {p.name: p for p in report.processes}
    assert set(by_name) == {"locust", "emulator"}
    locust, emulator = by_name["locust"], by_name["emulator"]
    assert (locust.pid, locust.samples) == (11, 25)  # 60, 65, ..., 180
    assert locust.slope_kb_per_min == pytest.approx(0.0, abs=1e-9)
    assert locust.first_kb == locust.last_kb == locust.peak_kb == 50 * 1024 + 6000
    assert emulator.slope_kb_per_min == pytest.approx(60.0)
    assert report.to_dict()["window_s"] == [60.0, 180.0]
    assert report.to_dict()["processes"][1]["points"][:2] == [[60.0, 41020.0], [65.0, 41025.0]]
    assert "slope +60.0 KB/min over 25 samples" in emulator.line()
    assert report.lines()[0].startswith("memory over the hold (60-180 s")


def test_too_few_samples_give_no_slope_and_a_new_pid_starts_afresh() -> None:
    clock = Clock()
    monitor = MemoryMonitor(clock=clock)
    for second, pid in ((0, 1), (1, 1), (2, 1), (3, 2), (4, 2)):
        clock.now = float(second)
        monitor.record("worker 0", pid, 2**20)
    [worker] = monitor.report((0.0, 10.0)).processes
    assert (worker.pid, worker.samples) == (2, 2)
    assert worker.samples < MIN_SAMPLES
    assert worker.slope_kb_per_min is None
    assert "too few samples for a slope" in worker.line()
    assert monitor.report((5.0, 10.0)).processes == ()


def test_rss_of_this_process_and_of_one_that_has_gone() -> None:
    rss = rss_of(os.getpid())
    assert rss is not None
    assert rss > 10 * 2**20
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    assert rss_of(int(done.stdout)) is None


def test_a_soak_report_for_the_json_and_none_before_a_test() -> None:
    class Environment:
        pass

    assert soak_report(Environment()) is None
    clock = Clock()
    state = SoakState(plan=_plan("--soak-hold", "60"))
    assert state.report() is None
    state.begin(SoakTimeline(ramp=10.0, hold=60.0, drain=30.0, storm_at=30.0))
    state.monitor = MemoryMonitor(clock=clock)
    for second in range(0, 100, 10):
        clock.now = float(second)
        state.monitor.record("locust", 5, 2**20)
    state.storm_time = 40.5
    state.storms += [StormResult(connected=10, dropped=5, worker="worker 0"),
                     StormResult(connected=8, dropped=4, worker="worker 1")]  # fmt: skip
    state.ended_at = 50.0  # stopped before the hold ended: the window stops there
    report = state.report()
    assert report is not None
    assert (report.dropped, report.connected) == (9, 18)
    document = report.to_dict()
    assert document["hold_s"] == [10.0, 70.0]
    assert document["storm"]["dropped"] == 9
    assert document["memory"]["window_s"] == [10.0, 50.0]
    assert document["memory"]["processes"][0]["samples"] == 5  # 10, 20, 30, 40, 50
    assert "disconnect storm at 40 s: dropped 9 of 18 connected devices" in report.lines()
    state.begin(SoakTimeline(ramp=1.0, hold=5.0, drain=1.0, storm_at=2.0))  # a new test
    again = state.report()
    assert again is not None
    assert (again.storm_time, again.storms, again.memory.window) == (None, (), (1.0, 6.0))


# --- real soaks ----------------------------------------------------------------------------


def _job_counts(line: str) -> dict[str, int]:
    """'job x: 20 executions, 19 SUCCEEDED, 1 FAILED, 0 pending' -> {'executions': 20, ...}"""
    _, _, counted = line.partition(": ")
    return {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", counted)}


@pytest.mark.slow
def test_a_short_soak_with_a_storm_loses_no_execution(tmp_path: Path) -> None:
    """20 MQTT devices: a 30 s hold with a wave every 15 s (at 0, 15 and 30 s of the hold, each
    rolled out over about 10 s) and half of the devices dropped 20 s into the hold, in the
    middle of the second wave. Every execution ends (the job summary and the non-terminal
    gate say so); every dropped device reconnects once."""
    run = run_locust(
        "soak.py", "-u", "21", "-r", "20", "--device-profile", "fast", "--start-delay", "1",
        "--fleet-dir", str(tmp_path / "fleet"), "--job-prefix", "soak",
        "--rollout-max-per-minute", "120", "--stop-when-done",
        "--soak-hold", "30s", "--soak-wave-period", "15s", "--soak-storm-at", "20s",
        "--soak-storm-fraction", "0.5", "--soak-drain", "30s", "--memory-interval", "1s",
        "--csv", str(tmp_path / "stats"), "--gate-non-terminal", "0",
        "--job-report-json", str(tmp_path / "report.json"),
        cwd=tmp_path, run_time=90,
    )  # fmt: skip
    # With a gate set, the gates decide the exit status: the requests the storm cut short
    # (ConnectionLost "dropped") are failures in the stats, not a failed soak.
    assert run.returncode == 0, run.stderr
    assert re.search(r"^gate non-terminal: pass, 0 executions <= 0", run.stdout, re.M), run.stdout
    assert "Traceback" not in run.stderr
    jobs = run.job_lines()
    assert [line.split(":")[0] for line in jobs] == ["job soak-1", "job soak-2", "job soak-3"]
    for line in jobs:
        figures = _job_counts(line)
        assert figures["executions"] == 20, line
        assert figures["pending"] == 0, line
        assert figures.get("SUCCEEDED", 0) + figures.get("FAILED", 0) == 20, line
    assert run.seconds < 80  # --stop-when-done ended it once the last wave was over
    storm = re.search(r"disconnect storm at (\d+) s: dropped (\d+) of (\d+) connected", run.stdout)
    assert storm is not None, run.stdout
    at, dropped, connected = (int(group) for group in storm.groups())
    assert 20 <= at <= 25  # 20 s into the hold, which starts after a ramp of about 1 s
    assert (dropped, connected) == (10, 20)
    stats = stats_rows(tmp_path / "stats")
    rows = counts(stats)
    [connect] = [row for row in stats if (row["Type"], row["Name"]) == ("MQTT", "connect")]
    connects = int(connect["Request Count"]) - int(connect["Failure Count"])
    assert connects == 20 + dropped  # each dropped device came back, once
    assert rows[("API", "CreateJob")] == 3
    slopes = re.findall(r"memory (locust|emulator) \(pid \d+\): .* slope ([-+][\d,.]+) KB/min "
                        r"over (\d+) samples", run.stdout)  # fmt: skip
    assert sorted(name for name, _, _ in slopes) == ["emulator", "locust"], run.stdout
    assert all(int(samples) >= 20 for _, _, samples in slopes)  # 1 s apart over the 30 s hold
    soak = json.loads((tmp_path / "report.json").read_text())["soak"]  # the report has it too
    assert soak["storm"]["dropped"] == dropped
    assert sorted(p["name"] for p in soak["memory"]["processes"]) == ["emulator", "locust"]
    assert all(p["slope_kb_per_min"] is not None for p in soak["memory"]["processes"])


@pytest.mark.slow
def test_a_bad_soak_option_stops_the_run_at_start(tmp_path: Path) -> None:
    run = run_locust(
        "soak.py", "-u", "3", "-r", "3", "--fleet-dir", str(tmp_path / "fleet"),
        "--soak-hold=-10m", cwd=tmp_path, run_time=30,
    )  # fmt: skip
    assert run.returncode == 1
    assert [line.split("/ERROR/simfleet: ")[-1] for line in run.errors()] == [
        "--soak-hold must not be negative, not -10m"
    ]
    assert "Traceback" not in run.stderr
    assert run.job_lines() == []
