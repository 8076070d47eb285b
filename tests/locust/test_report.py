"""The job report: where it goes, its JSON, its HTML page and charts, and the pieces it is drawn
from (job series, emulator counters, phase histograms from real Locust stats)."""

from __future__ import annotations

import itertools
import json
import math
import re
import xml.etree.ElementTree as ET
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.jobs import ExecutionStatus
from simfleet.locust.errors import ConfigError
from simfleet.locust.gate_options import report_config
from simfleet.locust.gates import Bound, GateResult
from simfleet.locust.job_figures import JobFigures, PhaseFigures
from simfleet.locust.job_series import JobSeries, StatusSample
from simfleet.locust.metrics_scrape import EmulatorCounters, parse_metrics
from simfleet.locust.report import SCHEMA, JobReport, ReportConfig, report_json
from simfleet.locust.report_charts import HEIGHT, WIDTH, nice_ticks
from simfleet.locust.report_html import DATA_ID, histogram_bins, render_html
from simfleet.locust.summary import JobProgress
from tests.locust.locust_stats import report_documents

STARTED = 1_700_000_000.25
Q, P, S, F = (ExecutionStatus.QUEUED, ExecutionStatus.IN_PROGRESS, ExecutionStatus.SUCCEEDED,
              ExecutionStatus.FAILED)  # fmt: skip


@pytest.mark.parametrize(
    ("config", "locust_html", "paths"),
    [
        pytest.param(ReportConfig(), "out/run.html", ("out/run-jobs.html", "out/run-jobs.json"),
                     id="next-to-locust-html"),
        pytest.param(ReportConfig(), "out/run", ("out/run-jobs.html", "out/run-jobs.json"),
                     id="locust-html-without-suffix"),
        pytest.param(ReportConfig(html=Path("j.html")), "out/run.html", ("j.html", "j.json"),
                     id="given-html"),
        pytest.param(ReportConfig(json=Path("g.json")), None, (None, "g.json"), id="json-only"),
        pytest.param(ReportConfig(html=Path("a.html"), json=Path("b.json")), None,
                     ("a.html", "b.json"), id="both-given"),
        pytest.param(ReportConfig(), None, (None, None), id="none-asked"),
    ],
)  # fmt: skip
def test_where_the_report_goes(
    config: ReportConfig, locust_html: str | None, paths: tuple[str | None, str | None]
) -> None:
    assert config.paths(locust_html) == tuple(None if p is None else Path(p) for p in paths)


@pytest.mark.parametrize("interval", ["0", "-5", "nan", "inf"])
def test_a_sampling_interval_is_a_positive_time(interval: str) -> None:
    options = Namespace(job_report=None, job_report_json=None, job_report_interval=interval)
    with pytest.raises(ConfigError, match=r"--job-report-interval .*: a time in seconds, more"):
        report_config(options)


def test_report_options_default() -> None:
    options = Namespace(job_report=None, job_report_json="", job_report_interval=None)
    assert report_config(options) == ReportConfig(html=None, json=None, interval=5.0)


def _phase(name: str, histogram: dict[int, int]) -> PhaseFigures:
    count = sum(histogram.values())
    return PhaseFigures(
        name=name,
        count=count,
        p50_ms=min(histogram),
        p95_ms=max(histogram),
        p99_ms=max(histogram),
        max_ms=float(max(histogram)),
        histogram=histogram,
    )


FIGURES = JobFigures(
    finals={"FAILED": 1, "SUCCEEDED": 6},
    phases=(
        _phase("queued to in progress", {260: 4, 1100: 3}),
        _phase("queued to terminal", {900: 2, 4000: 4, 61000: 1}),
    ),
    connects=8,
    connect_failures=1,
    jobs_requests=40,
    rejections={"RequestThrottled": 2},
    rollout={
        "notified": {1_700_000_000: 2, 1_700_000_059: 1, 1_700_000_060: 3, 1_700_000_185: 1},
        "in_progress": {1_700_000_001: 7},
        "done": {1_700_000_002: 5, 1_700_000_200: 2},
    },
)
GATES = (
    GateResult(gate="success-ratio", option="--gate-success-ratio", bound=Bound.MIN,
               threshold=0.9, unit="", figure=6 / 7, detail="6 of 7"),
    GateResult(gate="non-terminal", option="--gate-non-terminal", bound=Bound.MAX,
               threshold=0, unit="executions", figure=0, detail="0 left"),
)  # fmt: skip


def _report(**changes: Any) -> JobReport:
    fields: dict[str, Any] = {
        "started": STARTED,
        "ended": STARTED + 240,
        "interval": 5.0,
        "figures": FIGURES,
        "gates": GATES,
        "jobs": (
            JobProgress(job_id="r-1", status="COMPLETED", counts={S: 5, F: 1}),
            JobProgress(job_id="r-2", status="IN_PROGRESS", counts={S: 1, P: 1, Q: 1}),
        ),
        "samples": (
            StatusSample(at=STARTED + 5, counts={Q: 8}),
            StatusSample(at=STARTED + 10, counts={Q: 2, P: 1, S: 6, F: 1}),
        ),
    }
    return JobReport(**{**fields, **changes})


def test_the_json_holds_the_gates_and_job_figures() -> None:
    document = report_json(_report())
    assert json.loads(json.dumps(document)) == document  # plain JSON
    assert document["schema"] == SCHEMA
    assert document["started_at"] == "2023-11-14T22:13:20Z"
    assert document["duration_s"] == 240
    gates = document["gates"]
    assert (gates["passed"], gates["breached"]) == (False, ["success-ratio"])
    assert [r["passed"] for r in gates["results"]] == [False, True]
    assert gates["results"][0]["line"] == GATES[0].line()
    plane = document["executions"]["control_plane"]
    assert plane["by_status"] == {"QUEUED": 1, "IN_PROGRESS": 1, "SUCCEEDED": 6, "FAILED": 1}
    assert (plane["total"], plane["pending"]) == (9, 2)
    assert [job["job_id"] for job in plane["jobs"]] == ["r-1", "r-2"]
    assert document["executions"]["job_rows"] == {
        "final": {"FAILED": 1, "SUCCEEDED": 6},
        "terminal": 7,
    }
    samples = document["status_over_time"]["samples"]
    assert samples == [
        {"t": 5.0, "counts": {"QUEUED": 8}},
        {"t": 10.0, "counts": {"QUEUED": 2, "IN_PROGRESS": 1, "SUCCEEDED": 6, "FAILED": 1}},
    ]
    # Minutes counted from the whole second the stats started in; quiet minutes are zeros.
    assert document["rollout"]["per_minute"] == [
        {"minute": 0, "notified": 3, "in_progress": 7, "done": 5},
        {"minute": 1, "notified": 3, "in_progress": 0, "done": 0},
        {"minute": 2, "notified": 0, "in_progress": 0, "done": 0},
        {"minute": 3, "notified": 1, "in_progress": 0, "done": 2},
    ]
    assert document["rollout"]["cumulative"]["notified"] == [
        [0.0, 2], [59.0, 3], [60.0, 6], [185.0, 7]
    ]  # fmt: skip
    terminal = document["phases"][1]
    assert terminal["name"] == "queued to terminal"
    assert terminal["histogram"] == [[900, 2], [4000, 4], [61000, 1]]
    assert document["connects"] == {"attempts": 8, "failures": 1, "failure_ratio": 0.125}
    assert document["jobs_requests"] == {
        "requests": 40,
        "rejections": {"RequestThrottled": 2},
        "rejection_ratios": {"RequestThrottled": 0.05, "total": 0.05},
    }
    assert document["emulator"] is None


def test_a_run_with_no_job_of_its_own_and_no_gate() -> None:
    document = report_json(_report(jobs=None, gates=(), samples=(), figures=JobFigures()))
    assert document["gates"] == {"passed": None, "breached": [], "results": []}
    assert document["executions"]["control_plane"] is None
    assert document["rollout"]["per_minute"] == []
    assert document["phases"] == []
    assert document["connects"]["failure_ratio"] is None
    assert document["jobs_requests"]["rejection_ratios"] == {"total": None}
    page = render_html(_report(jobs=None, gates=()), report_json(_report(jobs=None, gates=())))
    assert "no SLO gate set" in page
    assert "no Operator" in page


def _emulator() -> EmulatorCounters:
    counters = EmulatorCounters("https://127.0.0.1:9/metrics")
    for second, connections in ((5, 3.0), (10, 8.0), (15, 8.0)):
        counters.record(STARTED + second, {
            "simfleet_mqtt_connections": connections,
            "simfleet_event_loop_lag_seconds": 0.001,
            'simfleet_jobs_requests_total{protocol="mqtt",operation="start-next",outcome="ok"}':
                connections * 2,
            "simfleet_mqtt_takeovers_total": 0.0,
        })  # fmt: skip
    return counters


def _svgs(page: str) -> dict[str, ET.Element]:
    charts = {}
    for match in re.finditer(r"<svg\b.*?</svg>", page, re.DOTALL):
        svg = ET.fromstring(match.group(0))  # well-formed XML
        charts[svg.attrib["data-chart"]] = svg
    return charts


def test_the_html_page_draws_the_charts_and_embeds_the_json() -> None:
    early = StatusSample(at=STARTED - 3, counts={Q: 1})  # before the stats were reset
    report = _report(emulator=_emulator().snapshot(), samples=(early, *_report().samples))
    document = report_json(report)
    page = render_html(report, document)
    embedded = re.search(
        rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', page, re.DOTALL
    )
    assert embedded is not None
    assert json.loads(embedded.group(1)) == document
    charts = _svgs(page)
    assert set(charts) == {
        "status-over-time", "rollout-per-minute", "rollout", "phase-queued-to-in-progress",
        "phase-queued-to-terminal", "emulator-gauges",
    }  # fmt: skip
    status_lines = {e.attrib["data-series"] for e in charts["status-over-time"].iter("polyline")}
    assert status_lines == {"QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED"}
    minutes = [
        (e.attrib["data-series"], e.attrib["data-label"], e.attrib["data-value"])
        for e in charts["rollout-per-minute"].iter("rect")
        if "data-series" in e.attrib  # not the legend's
    ]
    assert ("notified", "3", "1") in minutes
    assert len(minutes) == 3 * 4  # three series, four minutes
    bars = {
        e.attrib["data-label"]: e.attrib["data-value"]
        for e in charts["phase-queued-to-terminal"].iter("rect")
    }
    assert bars["1 s"] == "2"  # 900 ms in the bin up to 1 s
    assert bars["5 s"] == "4"
    assert bars["100 s"] == "1"
    assert sum(float(v) for v in bars.values()) == 7
    gauges = {e.attrib["data-series"] for e in charts["emulator-gauges"].iter("polyline")}
    assert gauges == {"simfleet_mqtt_connections", "simfleet_event_loop_lag_seconds"}
    shown = page.split(f'id="{DATA_ID}"')[0]
    assert "simfleet_mqtt_connections" in shown
    assert "simfleet_mqtt_takeovers_total" not in shown  # zero counters are left out
    assert "gates breached: success-ratio" in page
    for svg in charts.values():
        _inside_the_view(svg)


def _inside_the_view(svg: ET.Element) -> None:
    for element in svg.iter():
        for name in ("x", "x1", "x2", "cx"):
            if name in element.attrib:
                assert 0 <= float(element.attrib[name]) <= WIDTH, ET.tostring(element)
        for name in ("y", "y1", "y2", "cy"):
            if name in element.attrib:
                assert 0 <= float(element.attrib[name]) <= HEIGHT, ET.tostring(element)
        for pair in element.attrib.get("points", "").split():
            x, y = (float(v) for v in pair.split(","))
            assert 0 <= x <= WIDTH
            assert 0 <= y <= HEIGHT


def test_the_page_fetches_nothing_and_escapes_what_it_shows() -> None:
    hostile = "</script><img src=x>"
    report = _report(jobs=(JobProgress(job_id=hostile, status="COMPLETED", counts={S: 1}),))
    document = report_json(report)
    page = render_html(report, document)
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [tag for tag in tags if re.search(r"\s(src|href)=", tag)]
    assert not [tag for tag in tags if tag.startswith(("<link", "<img", "<iframe"))]
    assert "@import" not in page
    assert "url(" not in page
    assert page.count("</script>") == 1  # the data block's own
    assert "&lt;/script&gt;&lt;img src=x&gt;" in page
    data = page.split(f'id="{DATA_ID}">')[1].split("</script>")[0]
    assert json.loads(data)["executions"]["control_plane"]["jobs"][0]["job_id"] == hostile


@pytest.mark.parametrize(
    ("histogram", "bins"),
    [
        pytest.param({1: 1, 2: 1}, [("1 ms", 1), ("2 ms", 1)], id="small"),
        pytest.param({150: 2, 990: 1, 1000: 1, 1100: 4}, [("200 ms", 2), ("500 ms", 0),
                     ("1 s", 2), ("2 s", 4)], id="gaps-kept-between"),
        pytest.param({90_000: 1}, [("100 s", 1)], id="minutes"),
        pytest.param({}, [], id="empty"),
    ],
)  # fmt: skip
def test_phase_histograms_are_rebinned_1_2_5(
    histogram: dict[int, int], bins: list[tuple[str, int]]
) -> None:
    assert histogram_bins(histogram) == bins


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e12), st.integers(min_value=2, max_value=10))
def test_ticks_cover_the_maximum_in_round_steps(maximum: float, count: int) -> None:
    ticks = nice_ticks(maximum, count)
    assert ticks[0] == 0
    assert ticks[-1] >= maximum
    assert ticks[-2] < maximum
    step = ticks[1]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(mantissa == pytest.approx(m) for m in (1, 2, 5, 10))
    assert len(ticks) <= count + 2
    assert all(b - a == pytest.approx(step) for a, b in itertools.pairwise(ticks))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        pytest.param("# HELP a An a.\n# TYPE a counter\na 3\n", {"a": 3.0}, id="plain"),
        pytest.param('b{reason="tls: bad cert",x="1"} 2 1700000000\n',
                     {'b{reason="tls: bad cert",x="1"}': 2.0}, id="labels-with-spaces"),
        pytest.param("c NaN\nd +Inf\n", {"c": float("nan"), "d": float("inf")}, id="special"),
        pytest.param("broken\ne notanumber\n\nf 1\n", {"f": 1.0}, id="bad-lines-skipped"),
    ],
)  # fmt: skip
def test_prometheus_text_is_parsed(text: str, values: dict[str, float]) -> None:
    parsed = parse_metrics(text)
    assert parsed.keys() == values.keys()
    for key, value in values.items():
        assert parsed[key] == pytest.approx(value, nan_ok=True)


def test_a_failed_scrape_is_kept_as_the_reason_until_the_next_success() -> None:
    counters = _emulator()
    counters.failed("connection refused")
    snapshot = counters.snapshot()
    assert snapshot.error == "connection refused"
    assert snapshot.last["simfleet_mqtt_connections"] == 8.0  # the last good scrape
    assert [g.values["simfleet_mqtt_connections"] for g in snapshot.gauges] == [3.0, 8.0, 8.0]
    counters.record(STARTED + 20, {"simfleet_mqtt_connections": 1.0})
    assert counters.snapshot().error is None


def test_job_series_asks_only_running_jobs_and_sums_by_status() -> None:
    series = JobSeries()
    series.record(STARTED, [])
    nothing_known = series.samples
    assert len(nothing_known) == 0
    assert series.to_ask(["j-1", "j-2", "j-1"]) == ["j-1", "j-2"]
    described: list[JobProgress] = [
        JobProgress(job_id="j-1", status="COMPLETED", counts={S: 3}),
        JobProgress(job_id="j-2", status="IN_PROGRESS", counts={Q: 2, S: 1}),
    ]
    series.record(STARTED + 5, described)
    assert series.to_ask(["j-1", "j-2", "j-3"]) == ["j-2", "j-3"]
    series.record(STARTED + 10, [JobProgress(job_id="j-2", status="COMPLETED", counts={S: 3})])
    assert [s.counts for s in series.samples] == [{S: 4, Q: 2}, {S: 6}]
    assert [p.job_id for p in series.latest] == ["j-1", "j-2"]
    assert series.to_ask(["j-1", "j-2"]) == []


def test_phase_figures_come_from_real_locust_stats() -> None:
    """Through a real RequestStats, locally and merged from two workers: the report's phases are
    Locust's own rows (count, percentiles, buckets), the final rows and the rollout counts."""
    requests = [
        ["JOB", "queued to notified", 240, 6, None],
        ["JOB", "queued to in progress", 260, 6, None],
        ["JOB", "in progress to terminal", 3432, 5, None],
        ["JOB", "queued to terminal", 3720, 5, None],
        ["JOB", "final SUCCEEDED", 3720, 4, None],
        ["JOB", "final FAILED", 3720, 1, None],
        ["JOB", "final CANCELED", 58760, 1, ["device", "CANCELED by the service"]],
    ]
    local, merged = report_documents(
        [{"requests": requests}, {"requests": requests, "distributed": True}]
    )
    for document in (local, merged):
        phases = {phase["name"]: phase for phase in document["phases"]}
        assert list(phases) == ["queued to notified", "queued to in progress",
                                "in progress to terminal", "queued to terminal"]  # fmt: skip
        assert phases["in progress to terminal"]["histogram"] == [[3400, 5]]  # Locust's bucket
        assert phases["queued to terminal"]["count"] == 5
        assert phases["queued to terminal"]["p95_ms"] == 3700
        assert document["executions"]["job_rows"] == {
            "final": {"CANCELED": 1, "FAILED": 1, "SUCCEEDED": 4},
            "terminal": 6,
        }
        last = {name: points[-1][1] for name, points in document["rollout"]["cumulative"].items()}
        assert last == {"notified": 6, "in_progress": 6, "done": 6}
