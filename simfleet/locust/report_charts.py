"""Inline SVG charts for the job report: lines over time and bars, no script, no network.

Drawn as text, so that the report is one self-contained file a CI artifact viewer or a mail
client opens as it is. Each chart is an `<svg class="chart" data-chart="ID">` with a legend;
the numbers behind it are in the report's embedded JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44  # margins around the plot area
MAX_POINTS = 800  # a long soak's series are thinned to this many points a line
MARKED = 60  # series of up to this many points get a marker on each
PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Series:
    """One line: `points` are (x, y), x increasing."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True, kw_only=True)
class Bars:
    """One bar per label of a bar chart: `values[i]` goes with `labels[i]`."""

    name: str
    values: Sequence[float]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Ticks from 0 past `maximum` at a step of 1, 2 or 5 times a power of ten."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def line_chart(
    *, chart_id: str, title: str, series: Sequence[Series], x_label: str, y_label: str
) -> str:
    """Lines over a shared x axis (seconds since the start, shown in minutes past 10); points
    before 0 (sampled before Locust's stats were reset) are not drawn."""
    drawn = [Series(name=s.name, points=[(x, y) for x, y in s.points if x >= 0]) for s in series]
    drawn = [s for s in drawn if s.points]
    if not drawn:
        return _empty(chart_id, title)
    x_max = max(max(x for x, _ in s.points) for s in drawn)
    y_ticks = nice_ticks(max(max(y for _, y in s.points) for s in drawn))
    in_minutes = x_max > 600
    x_ticks = nice_ticks(x_max / 60 if in_minutes else x_max)
    scale_x = 60.0 if in_minutes else 1.0
    x_span, y_span = x_ticks[-1] * scale_x, y_ticks[-1]
    parts = [_open(chart_id, title), _y_axis(y_ticks, y_label)]
    parts.append(_x_axis(x_ticks, f"{x_label} ({'min' if in_minutes else 's'})"))
    for index, line in enumerate(drawn):
        color = PALETTE[index % len(PALETTE)]
        points = " ".join(
            f"{_px(x, x_span):.1f},{_py(y, y_span):.1f}" for x, y in _thin(line.points)
        )
        parts.append(
            f'<polyline data-series="{escape(line.name)}" fill="none" stroke="{color}" '
            f'stroke-width="2" points="{points}"/>'
        )
        if len(line.points) <= MARKED:  # a few points: show each (one alone draws no line)
            parts.extend(
                f'<circle cx="{_px(x, x_span):.1f}" cy="{_py(y, y_span):.1f}" r="3" '
                f'fill="{color}"><title>{escape(line.name)}: {y:g} at {x:g} s</title></circle>'
                for x, y in line.points
            )
    parts.append(_legend([s.name for s in drawn]))
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    bars: Sequence[Bars],
    x_label: str,
    y_label: str,
) -> str:
    """A group of bars per label (one bar per `Bars`), labels under the groups."""
    peak = max((value for b in bars for value in b.values), default=0.0)
    if not labels or peak <= 0:
        return _empty(chart_id, title)
    y_ticks = nice_ticks(peak)
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(labels)
    width = slot * 0.8 / len(bars)
    parts = [_open(chart_id, title), _y_axis(y_ticks, y_label)]
    label_every = max(1, math.ceil(len(labels) / 12))
    for index, label in enumerate(labels):
        x = LEFT + index * slot + slot * 0.1
        for number, series in enumerate(bars):
            value = series.values[index]
            top = _py(value, y_ticks[-1])
            parts.append(
                f'<rect data-series="{escape(series.name)}" data-label="{escape(label)}" '
                f'data-value="{value:g}" x="{x + number * width:.1f}" y="{top:.1f}" '
                f'width="{width:.1f}" height="{HEIGHT - BOTTOM - top:.1f}" '
                f'fill="{PALETTE[number % len(PALETTE)]}">'
                f"<title>{escape(series.name)} {escape(label)}: {value:g}</title></rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + slot * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    parts.append(
        f'<text x="{LEFT + plot_width / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'font-size="11">{escape(x_label)}</text>'
    )
    if len(bars) > 1:
        parts.append(_legend([b.name for b in bars]))
    parts.append("</svg>")
    return "\n".join(parts)


def _thin(points: Sequence[tuple[float, float]]) -> Sequence[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    step = math.ceil(len(points) / MAX_POINTS)
    return [*points[::step], points[-1]]


def _px(x: float, span: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (x / span if span else 0.0)


def _py(y: float, span: float) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (y / span if span else 0.0)


def _open(chart_id: str, title: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(chart_id)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
        f"<title>{escape(title)}</title>"
    )


def _empty(chart_id: str, title: str) -> str:
    return (
        f'{_open(chart_id, title)}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
        'fill="#777">no data</text></svg>'
    )


def _y_axis(ticks: Sequence[float], label: str) -> str:
    span = ticks[-1]
    lines = []
    for tick in ticks:
        y = _py(tick, span)
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{tick:g}</text>"
        )
    lines.append(
        f'<text transform="translate(14,{(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="11">{escape(label)}</text>'
    )
    return "".join(lines)


def _x_axis(ticks: Sequence[float], label: str) -> str:
    span = ticks[-1]
    lines = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#999"/>'
    ]
    for tick in ticks:
        x = _px(tick, span)
        lines.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
            f'font-size="10">{tick:g}</text>'
        )
    lines.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'font-size="11">{escape(label)}</text>'
    )
    return "".join(lines)


def _legend(names: Sequence[str]) -> str:
    items = []
    x = LEFT
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        items.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="17" font-size="11">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(items)
