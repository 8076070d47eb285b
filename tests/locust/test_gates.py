"""SLO gates: their options, and their verdicts on real Locust stats (built in a child process,
locally and merged from two workers) and on the control plane's job counts."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import configargparse  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.device.errors import DeviceError, JobsRejected
from simfleet.jobs import JobsErrorCode
from simfleet.locust.errors import ConfigError
from simfleet.locust.gate_options import add_options, gate_config, parse_rejections
from simfleet.locust.gates import Bound, GateConfig, GateResult
from simfleet.locust.job_figures import rejection_code
from tests.locust.locust_stats import report_documents

Request = list[Any]  # [method, name, response_time_ms, count, error]


def _finals(**counts: int) -> list[Request]:
    return [["JOB", f"final {status}", 1000, n, None] for status, n in counts.items()]


def _job(status: str = "COMPLETED", **counts: int) -> dict[str, Any]:
    members = {"QUEUED": "numberOfQueuedThings", "IN_PROGRESS": "numberOfInProgressThings",
               "SUCCEEDED": "numberOfSucceededThings", "FAILED": "numberOfFailedThings",
               "TIMED_OUT": "numberOfTimedOutThings"}  # fmt: skip
    details = {members[s]: n for s, n in counts.items()}
    return {"jobId": f"job-{len(counts)}", "status": status, "jobProcessDetails": details}


QUEUED_TO_TERMINAL = "queued to terminal"
HEALTHY: list[Request] = [
    *_finals(SUCCEEDED=97, FAILED=3),
    ["JOB", QUEUED_TO_TERMINAL, 2000, 100, None],
    ["MQTT", "connect", 5, 99, None],
    ["MQTT", "connect", 5000, 1, ["device", "timeout"]],
    ["MQTT", "subscribe", 1, 100, None],
    ["MQTT", "update SUCCEEDED", 2, 297, None],
    ["MQTT", "update SUCCEEDED", 2, 3, ["rejected", "RequestThrottled"]],
]
REJECTIONS: list[Request] = [
    ["MQTT", "update IN_PROGRESS", 2, 50, None],
    ["HTTPS", "start-next", 2, 44, None],
    ["HTTPS", "start-next", 2, 3, ["rejected", "RequestThrottled"]],
    ["MQTT", "update SUCCEEDED", 2, 1, ["rejected", "VersionMismatch"]],
    ["MQTT", "describe", 10000, 2, ["device", "timeout"]],  # a failure, not a rejection
    ["MQTT", "connect", 3, 10, None],  # not a Jobs request
    ["API", "CreateJob", 5, 4, ["device", "ThrottlingException"]],  # the operator's
]

# id -> (scenario, {gate: (passed, figure)})
CASES: dict[str, tuple[dict[str, Any], dict[str, tuple[bool, float | None]]]] = {
    "healthy-run-passes-every-gate": (
        {"requests": HEALTHY, "jobs": [_job(SUCCEEDED=97, FAILED=3)],
         "gates": {"success_ratio": 0.95, "p95_queued_to_terminal": 5.0,
                   "connect_failure_ratio": 0.01, "non_terminal": 0,
                   "rejections": {"RequestThrottled": 0.01, "total": 0.02}}},
        {"success-ratio": (True, 0.97), "p95-queued-to-terminal": (True, 2.0),
         "connect-failure-ratio": (True, 0.01), "rejections RequestThrottled": (True, 0.01),
         "rejections total": (True, 0.01), "non-terminal": (True, 0)},
    ),
    "success-ratio-from-the-control-plane": (  # it wins over what devices reported
        {"requests": _finals(SUCCEEDED=100), "jobs": [_job(SUCCEEDED=80, FAILED=20)],
         "gates": {"success_ratio": 0.9}},
        {"success-ratio": (False, 0.8)},
    ),
    "success-ratio-from-job-rows-threshold-inclusive": (
        {"requests": _finals(SUCCEEDED=9, TIMED_OUT=1), "jobs": None,
         "gates": {"success_ratio": 0.9}},
        {"success-ratio": (True, 0.9)},
    ),
    "no-terminal-execution-fails": (
        {"requests": [["MQTT", "connect", 3, 5, None]], "jobs": None,
         "gates": {"success_ratio": 0.0}},
        {"success-ratio": (False, None)},
    ),
    "p95-at-the-threshold-passes": (  # Locust's p95 of 96 x 1 s and 4 x 60 s is 1 s
        {"requests": [["JOB", QUEUED_TO_TERMINAL, 1000, 96, None],
                      ["JOB", QUEUED_TO_TERMINAL, 60000, 4, None]],
         "gates": {"p95_queued_to_terminal": 1.0}},
        {"p95-queued-to-terminal": (True, 1.0)},
    ),
    "p95-over-the-threshold-fails": (
        {"requests": [["JOB", QUEUED_TO_TERMINAL, 1000, 94, None],
                      ["JOB", QUEUED_TO_TERMINAL, 60000, 6, None]],
         "gates": {"p95_queued_to_terminal": 30.0}},
        {"p95-queued-to-terminal": (False, 60.0)},
    ),
    "connect-failures-over": (
        {"requests": [["MQTT", "connect", 4, 8, None],
                      ["MQTT", "connect", 4, 2, ["device", "CONNACK 5 not authorized"]]],
         "gates": {"connect_failure_ratio": 0.1}},
        {"connect-failure-ratio": (False, 0.2)},
    ),
    "https-only-run-has-no-connect-figure": (
        {"requests": [["HTTPS", "start-next", 3, 5, None]],
         "gates": {"connect_failure_ratio": 0.5}},
        {"connect-failure-ratio": (False, None)},
    ),
    "rejections-by-code-and-total": (
        {"requests": REJECTIONS,
         "gates": {"rejections": {"RequestThrottled": 0.01, "VersionMismatch": 0.01,
                                  "InvalidStateTransition": 0.0, "total": 0.05}}},
        {"rejections RequestThrottled": (False, 0.03), "rejections VersionMismatch": (True, 0.01),
         "rejections InvalidStateTransition": (True, 0.0), "rejections total": (True, 0.04)},
    ),
    "executions-left-in-progress": (
        {"requests": [], "jobs": [_job("IN_PROGRESS", QUEUED=2, IN_PROGRESS=1, SUCCEEDED=7)],
         "gates": {"non_terminal": 0, "success_ratio": 0.5}},
        {"success-ratio": (True, 1.0), "non-terminal": (False, 3)},
    ),
    "no-job-known-fails-non-terminal": (
        {"requests": HEALTHY, "jobs": None, "gates": {"non_terminal": 10}},
        {"non-terminal": (False, None)},
    ),
}  # fmt: skip
MODES = ("local", "distributed")


@pytest.fixture(scope="module")
def verdicts() -> dict[tuple[str, str], dict[str, Any]]:
    """Each case's `gates` document, from one child process for every case and mode."""
    keys = [(case, mode) for case in CASES for mode in MODES]
    scenarios = [{**CASES[case][0], "distributed": mode == "distributed"} for case, mode in keys]
    documents = report_documents(scenarios)
    return {key: document["gates"] for key, document in zip(keys, documents, strict=True)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [pytest.param(case, id=case) for case in CASES])
def test_gate_verdicts_on_real_locust_stats(
    verdicts: dict[tuple[str, str], dict[str, Any]], case: str, mode: str
) -> None:
    gates = verdicts[(case, mode)]
    expected = CASES[case][1]
    got = {r["gate"]: (r["passed"], r["figure"]) for r in gates["results"]}
    assert got.keys() == expected.keys()
    for gate, (passed, figure) in expected.items():
        assert got[gate][0] is passed, gates["results"]
        if figure is None:
            assert got[gate][1] is None
        else:
            assert got[gate][1] == pytest.approx(figure)
    assert gates["passed"] is all(passed for passed, _ in expected.values())
    assert gates["breached"] == [gate for gate, (passed, _) in expected.items() if not passed]
    for result in gates["results"]:
        assert result["line"].startswith(f"gate {result['gate']}: ")
        assert ("FAIL" in result["line"]) is not result["passed"]


@pytest.mark.parametrize(
    ("result", "line"),
    [
        pytest.param(
            GateResult(gate="success-ratio", option="--gate-success-ratio", bound=Bound.MIN,
                       threshold=0.95, unit="", figure=0.8, detail="80 of 100"),
            "gate success-ratio: FAIL, 0.8 < 0.95 (80 of 100)", id="min-breached",
        ),
        pytest.param(
            GateResult(gate="p95-queued-to-terminal", option="--gate-p95-queued-to-terminal",
                       bound=Bound.MAX, threshold=30, unit="s", figure=12.5, detail="d"),
            "gate p95-queued-to-terminal: pass, 12.5 s <= 30 s (d)", id="max-held",
        ),
        pytest.param(
            GateResult(gate="non-terminal", option="--gate-non-terminal", bound=Bound.MAX,
                       threshold=0, unit="executions", figure=None, detail="no job"),
            "gate non-terminal: FAIL, no figure (<= 0 executions wanted) (no job)",
            id="no-figure",
        ),
    ],
)  # fmt: skip
def test_a_verdict_is_one_line_with_figure_and_threshold(result: GateResult, line: str) -> None:
    assert result.line() == line


def _options(**given: Any) -> Namespace:
    names = ("gate_success_ratio", "gate_p95_queued_to_terminal", "gate_connect_failure_ratio",
             "gate_rejections", "gate_non_terminal")  # fmt: skip
    return Namespace(**{name: given.get(name) for name in names})


def test_gates_are_off_unless_set() -> None:
    assert not GateConfig().enabled
    assert not gate_config(_options()).enabled
    # An empty value (a conf key or an environment variable left blank) is no gate either.
    assert not gate_config(_options(gate_success_ratio="", gate_rejections=" ")).enabled


def test_options_as_text_become_a_gate_config() -> None:
    config = gate_config(
        _options(gate_success_ratio="0.95", gate_p95_queued_to_terminal="12.5",
                 gate_connect_failure_ratio="0", gate_non_terminal="0",
                 gate_rejections="RequestThrottled=0.01, VersionMismatch=0,total=0.05")
    )  # fmt: skip
    assert config == GateConfig(
        success_ratio=0.95,
        p95_queued_to_terminal=12.5,
        connect_failure_ratio=0.0,
        non_terminal=0,
        rejections={"RequestThrottled": 0.01, "VersionMismatch": 0.0, "total": 0.05},
    )
    assert config.enabled


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param({"gate_success_ratio": "1.5"}, "--gate-success-ratio 1.5: a ratio is "
                     "between 0 and 1", id="ratio-above-1"),
        pytest.param({"gate_connect_failure_ratio": "-0.1"}, "--gate-connect-failure-ratio "
                     "-0.1: a ratio is between 0 and 1", id="ratio-below-0"),
        pytest.param({"gate_success_ratio": "nan"}, "a ratio is between 0 and 1", id="nan"),
        pytest.param({"gate_success_ratio": "most"}, "--gate-success-ratio must be a number, "
                     "not 'most'", id="not-a-number"),
        pytest.param({"gate_p95_queued_to_terminal": "-1"}, "--gate-p95-queued-to-terminal -1: "
                     "a time in seconds, 0 or more", id="negative-time"),
        pytest.param({"gate_p95_queued_to_terminal": "inf"}, "a time in seconds",
                     id="infinite-time"),
        pytest.param({"gate_non_terminal": "-2"}, "--gate-non-terminal -2: a number of "
                     "executions, 0 or more", id="negative-count"),
        pytest.param({"gate_non_terminal": "1.5"}, "--gate-non-terminal must be a whole "
                     "number, not '1.5'", id="fractional-count"),
        pytest.param({"gate_rejections": "Throttled=0.1"}, "--gate-rejections: unknown code "
                     "'Throttled'; the codes are InvalidTopic, ", id="unknown-code"),
        pytest.param({"gate_rejections": "RequestThrottled=2"}, "--gate-rejections "
                     "RequestThrottled 2: a ratio is between 0 and 1", id="code-ratio-above-1"),
        pytest.param({"gate_rejections": "RequestThrottled"}, "each item is CODE=RATIO",
                     id="no-ratio"),
        pytest.param({"gate_rejections": "=0.1"}, "each item is CODE=RATIO", id="no-code"),
        pytest.param({"gate_rejections": "total=0.1,,"}, "each item is CODE=RATIO",
                     id="empty-item"),
        pytest.param({"gate_rejections": "total=0.1,total=0.2"}, "total is given twice",
                     id="twice"),
        pytest.param({"gate_rejections": "total=lots"}, "--gate-rejections total must be a "
                     "number, not 'lots'", id="code-ratio-not-a-number"),
    ],
)  # fmt: skip
def test_impossible_gates_are_refused_with_one_message(given: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        gate_config(_options(**given))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False))
def test_a_ratio_is_accepted_exactly_when_it_is_between_0_and_1(ratio: float) -> None:
    inside = 0.0 <= ratio <= 1.0
    makers: tuple[Callable[[], float | None], ...] = (
        lambda: GateConfig(success_ratio=ratio).success_ratio,
        lambda: GateConfig(connect_failure_ratio=ratio).connect_failure_ratio,
    )
    for make in makers:
        if inside:
            assert make() == ratio
        else:
            with pytest.raises(ConfigError, match="a ratio is between 0 and 1"):
                make()
    if inside:
        assert parse_rejections(f"total={ratio!r}") == {"total": ratio}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(JobsRejected(JobsErrorCode.VERSION_MISMATCH, "expected 3"),
                     "VersionMismatch", id="object"),
        pytest.param("JobsRejected('RequestThrottled')", "RequestThrottled", id="worker-string"),
        pytest.param(DeviceError("timeout"), None, id="other-device-error"),
        pytest.param("DeviceError('RequestThrottled')", None, id="other-error-string"),
        pytest.param(None, None, id="none"),
    ],
)  # fmt: skip
def test_rejection_codes_are_read_from_locust_failures(error: object, code: str | None) -> None:
    assert rejection_code(error) == code


def test_options_are_conf_keys_and_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through configargparse, the parser Locust's is built on (Locust's own parser is tried
    end to end in test_gates_end_to_end)."""
    conf = tmp_path / "locust.conf"
    conf.write_text("gate-success-ratio = 0.9\ngate-rejections = RequestThrottled=0.01\n")
    parser = configargparse.ArgumentParser(default_config_files=[str(conf)])
    add_options(parser)
    monkeypatch.setenv("LOCUST_GATE_NON_TERMINAL", "2")
    monkeypatch.setenv("LOCUST_JOB_REPORT_INTERVAL", "2.5")
    options = parser.parse_args(["--gate-p95-queued-to-terminal", "30"])
    assert gate_config(options) == GateConfig(
        success_ratio=0.9,
        p95_queued_to_terminal=30.0,
        rejections={"RequestThrottled": 0.01},
        non_terminal=2,
    )
    assert options.job_report_interval == "2.5"
    assert options.job_report is None


@pytest.mark.parametrize(
    ("figure", "threshold", "bound", "passed"),
    [
        pytest.param(0.5, 0.5, Bound.MIN, True, id="min-equal"),
        pytest.param(0.49, 0.5, Bound.MIN, False, id="min-below"),
        pytest.param(0.5, 0.5, Bound.MAX, True, id="max-equal"),
        pytest.param(0.51, 0.5, Bound.MAX, False, id="max-above"),
        pytest.param(None, 0.5, Bound.MAX, False, id="no-figure"),
    ],
)
def test_bounds_are_inclusive(
    figure: float | None, threshold: float, bound: Bound, passed: bool
) -> None:
    result = GateResult(gate="g", option="--g", bound=bound, threshold=threshold, unit="",
                        figure=figure, detail="")  # fmt: skip
    assert result.passed is passed
