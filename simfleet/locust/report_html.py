"""The job report as one self-contained HTML page: inline CSS and SVG, no script, no network.

Sections: the gates' verdicts, the executions (control plane and JOB rows), executions by
status over time, the rollout curve, the latency distributions of the job phases, connects
and rejections, and the embedded emulator's counters. The report's JSON is embedded as
`<script type="application/json" id="job-report-data">` (data, never run), so the page alone
carries every figure its charts draw.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from simfleet.jobs import ExecutionStatus
from simfleet.locust.job_figures import ROLLOUT_SERIES, PhaseFigures
from simfleet.locust.metrics_scrape import EmulatorSnapshot
from simfleet.locust.report import STATUSES, JobReport
from simfleet.locust.report_charts import Bars, Series, bar_chart, line_chart

DATA_ID = "job-report-data"
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 980px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #cf222e; font-weight: bold; }
.banner { padding: 8px 12px; border-radius: 4px; display: inline-block; }
.banner.pass { background: #dafbe1; } .banner.fail { background: #ffebe9; }
svg.chart { display: block; margin: 8px 0; font-family: system-ui, sans-serif; }
.note { color: #666; }
"""
# Upper edges of the phase histograms' bins, in ms: 1-2-5 steps up to a day.
_EDGES = [m * 10**e for e in range(8) for m in (1, 2, 5)]
_ROLLOUT_NAMES = {"notified": "notified", "in_progress": "in progress", "done": "done"}


def render_html(report: JobReport, document: Mapping[str, Any]) -> str:
    """The page of `report`; `document` is `report_json(report)`, embedded as it is."""
    # No markup inside the data block: "<", ">", "&" as JSON escapes, so that no text of the
    # run (a job ID, an error) can end the block or open a tag.
    data = json.dumps(document, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    sections = [
        _header(report),
        _gates(report),
        _executions(report),
        _status_over_time(report),
        _rollout(report),
        _phases(report.figures.phases),
        _requests(report),
        _emulator(report),
        _soak(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>simfleet job report</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + f'\n<script type="application/json" id="{DATA_ID}">{data}</script>\n'
        "</body></html>\n"
    )


def _soak(report: JobReport) -> str:
    """The soak's memory slopes (the issue asks that they stay flat) and its storm."""
    if report.soak is None:
        return ""
    memory = report.soak.get("memory") or {}
    rows = [
        [escape(str(p.get("name"))), str(p.get("pid")), str(p.get("samples")),
         f"{p.get('first_kb', 0) / 1024:.1f}", f"{p.get('last_kb', 0) / 1024:.1f}",
         "" if p.get("slope_kb_per_min") is None else f"{p['slope_kb_per_min']:.0f}"]
        for p in memory.get("processes", [])
    ]  # fmt: skip
    storm = report.soak.get("storm")
    note = (
        "no disconnect storm"
        if not storm
        else f"disconnect storm at {storm['at_s']:.0f} s: {storm['dropped']} of "
        f"{storm['connected']} connected devices dropped"
    )
    return (
        "<h2>Soak: memory over the hold</h2>"
        + _table(["process", "pid", "samples", "first MB", "last MB", "slope KB/min"], rows)
        + f"<p>{escape(note)}</p>"
    )


def _header(report: JobReport) -> str:
    gates = report.gates
    failed = [g.gate for g in gates if not g.passed]
    if not gates:
        banner = '<span class="banner note">no SLO gate set</span>'
    elif failed:
        banner = f'<span class="banner fail">gates breached: {escape(", ".join(failed))}</span>'
    else:
        banner = f'<span class="banner pass">all {len(gates)} gates passed</span>'
    return (
        "<h1>simfleet job report</h1>"
        f"<p>{_time(report.started)} to {_time(report.ended)} "
        f"({report.ended - report.started:.0f} s)</p><p>{banner}</p>"
    )


def _gates(report: JobReport) -> str:
    if not report.gates:
        return '<h2>SLO gates</h2><p class="note">none set (options --gate-*)</p>'
    rows = []
    for gate in report.gates:
        verdict = "pass" if gate.passed else "fail"
        figure = "no figure" if gate.figure is None else f"{gate.figure:.4g}"
        rows.append(
            [escape(gate.gate), figure, f"{gate.bound.value} {gate.threshold:g} {gate.unit}",
             f'<span class="{verdict}">{verdict}</span>', escape(gate.detail)]
        )  # fmt: skip
    return "<h2>SLO gates</h2>" + _table(["gate", "figure", "threshold", "verdict", "detail"], rows)


def _executions(report: JobReport) -> str:
    parts = ["<h2>Executions</h2>"]
    if report.jobs is None:
        parts.append('<p class="note">The run knew no job of its own (no Operator).</p>')
    else:
        present = [
            s for s in STATUSES if any(job.counts.get(ExecutionStatus(s)) for job in report.jobs)
        ]
        rows = [
            [escape(job.job_id), escape(job.status), str(job.total),
             *(str(job.counts.get(ExecutionStatus(s), 0)) for s in present), str(job.pending)]
            for job in report.jobs
        ]  # fmt: skip
        parts.append("<p>As the control plane (DescribeJob) last described the run's jobs:</p>")
        parts.append(_table(["job", "status", "executions", *present, "pending"], rows))
    finals = report.figures.finals
    parts.append("<p>As devices reported them (the <code>final</code> JOB rows):</p>")
    parts.append(_table(["status", "executions"], [[escape(s), str(n)] for s, n in finals.items()]))
    return "\n".join(parts)


def _status_over_time(report: JobReport) -> str:
    series = []
    for status in STATUSES:
        key = ExecutionStatus(status)
        if any(sample.counts.get(key) for sample in report.samples):
            points = [(report.since_start(s.at), float(s.counts.get(key, 0)))
                      for s in report.samples]  # fmt: skip
            series.append(Series(name=status, points=points))
    chart = line_chart(
        chart_id="status-over-time", title="Executions by status over time", series=series,
        x_label="time since start", y_label="executions",
    )  # fmt: skip
    note = f"DescribeJob every {report.interval:g} s, summed over the run's jobs."
    return f'<h2>Executions by status over time</h2><p class="note">{note}</p>{chart}'


def _rollout(report: JobReport) -> str:
    names = [_ROLLOUT_NAMES[name] for name in ROLLOUT_SERIES]
    per_minute = report.rollout_per_minute()
    minutes = bar_chart(
        chart_id="rollout-per-minute", title="Rollout: devices per minute",
        labels=[str(row["minute"]) for row in per_minute],
        bars=[Bars(name=shown, values=[float(row[name]) for row in per_minute])
              for name, shown in zip(ROLLOUT_SERIES, names, strict=True)],
        x_label="minute since start", y_label="devices",
    )  # fmt: skip
    # The curve starts at the origin: no device had done anything when the stats started.
    curve = line_chart(
        chart_id="rollout", title="Rollout: devices so far",
        series=[Series(name=shown, points=[(0.0, 0.0)] + [
                    (t, float(n)) for t, n in report.rollout_cumulative(name)])
                for name, shown in zip(ROLLOUT_SERIES, names, strict=True)
                if report.rollout_cumulative(name)],
        x_label="time since start", y_label="devices",
    )  # fmt: skip
    rows = [[str(row["minute"]), *(str(row[name]) for name in ROLLOUT_SERIES)]
            for row in per_minute]  # fmt: skip
    return (
        '<h2>Rollout</h2><p class="note">Devices notified (notify-next), that started the '
        "execution (in progress), and that saw it end (done), from the JOB rows.</p>"
        f"{minutes}{curve}{_table(['minute', *names], rows)}"
    )


def _phases(phases: Sequence[PhaseFigures]) -> str:
    parts = ["<h2>Job phases</h2>"]
    rows = [
        [escape(p.name), str(p.count), _ms(p.p50_ms), _ms(p.p95_ms), _ms(p.p99_ms), _ms(p.max_ms)]
        for p in phases
    ]
    parts.append(_table(["phase", "count", "p50", "p95", "p99", "max"], rows))
    for phase in phases:
        bins = histogram_bins(phase.histogram)
        parts.append(
            bar_chart(
                chart_id=f"phase-{phase.name.replace(' ', '-')}",
                title=f"{phase.name}: distribution",
                labels=[label for label, _ in bins],
                bars=[Bars(name="executions", values=[float(n) for _, n in bins])],
                x_label=f"{phase.name}, up to",
                y_label="executions",
            )
        )
    return "\n".join(parts)


def histogram_bins(histogram: Mapping[int, int]) -> list[tuple[str, int]]:
    """Locust's response-time buckets (ms -> count) in 1-2-5 bins, labelled by upper edge,
    from the first bin holding anything to the last."""
    counts = [0] * len(_EDGES)
    for ms, count in histogram.items():
        index = next((i for i, edge in enumerate(_EDGES) if ms <= edge), len(_EDGES) - 1)
        counts[index] += count
    used = [i for i, count in enumerate(counts) if count]
    if not used:
        return []
    return [(_ms(_EDGES[i]), counts[i]) for i in range(used[0], used[-1] + 1)]


def _requests(report: JobReport) -> str:
    figures = report.figures
    ratio = f"{figures.connect_failures / figures.connects:.4g}" if figures.connects else "-"
    rows = [[escape(code), str(n), f"{n / figures.jobs_requests:.4g}"]
            for code, n in figures.rejections.items() if figures.jobs_requests]  # fmt: skip
    return (
        "<h2>Connects and rejections</h2>"
        + _table(["", "count"], [["connect attempts", str(figures.connects)],
                                 ["connect failures", str(figures.connect_failures)],
                                 ["connect failure ratio", ratio],
                                 ["Jobs requests", str(figures.jobs_requests)]])
        + "<p>Jobs requests rejected, by AWS error code:</p>"
        + _table(["code", "rejections", "ratio"], rows)
    )  # fmt: skip


def _emulator(report: JobReport) -> str:
    snapshot = report.emulator
    if snapshot is None:
        return '<h2>Emulator</h2><p class="note">The run did not use the embedded emulator.</p>'
    parts = [f'<h2>Emulator</h2><p class="note">{escape(snapshot.url)}</p>']
    if snapshot.error:
        parts.append(f'<p class="fail">last scrape failed: {escape(snapshot.error)}</p>')
    parts.append(_gauges(report, snapshot))
    rows = [[f"<code>{escape(key)}</code>", f"{value:g}"]
            for key, value in sorted(snapshot.last.items()) if value]  # fmt: skip
    parts.append("<p>Counters and gauges at the end (zeros left out):</p>")
    parts.append(_table(["series", "value"], rows))
    return "\n".join(parts)


def _gauges(report: JobReport, snapshot: EmulatorSnapshot) -> str:
    names = sorted({name for sample in snapshot.gauges for name in sample.values})
    series = [
        Series(name=name, points=[(report.since_start(s.at), s.values[name])
                                  for s in snapshot.gauges if name in s.values])
        for name in names
    ]  # fmt: skip
    return line_chart(
        chart_id="emulator-gauges", title="Emulator gauges over time", series=series,
        x_label="time since start", y_label="value",
    )  # fmt: skip


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of cells already escaped (they may hold markup)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _ms(ms: float) -> str:
    # Three significant digits: Locust's percentiles have two, a max is exact to the µs.
    if ms < 1000:
        return f"{ms:.3g} ms"
    if ms < 1_000_000:
        return f"{ms / 1000:.3g} s"
    return f"{ms / 60_000:.3g} min"


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
