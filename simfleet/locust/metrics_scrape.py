"""The embedded emulator's counters for the report: its Prometheus `/metrics`, scraped.

`GET /metrics` on the emulator's control-plane port answers loopback peers unsigned
(docs/emulator.md, "Live counters"). The report keeps the last scrape whole (every counter
and gauge, by its Prometheus series key `name{label="value",...}`) and, from each periodic
scrape, the few gauges worth a chart.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SCRAPE_TIMEOUT = 5.0
# The gauges charted over time: open MQTT connections and the emulator's event-loop lag.
CHARTED = ("simfleet_mqtt_connections", "simfleet_event_loop_lag_seconds")


def metrics_url(api_url: str) -> str:
    """The emulator serves /metrics on its control-plane port (its ready line's
    `metrics_url` is this URL)."""
    return f"{api_url.rstrip('/')}/metrics"


def fetch_metrics(url: str, *, ca_file: Path, timeout: float = SCRAPE_TIMEOUT) -> str:
    """The body of GET `url`, verified with `ca_file`; OSError (URLError) when it fails."""
    context = ssl.create_default_context(cafile=str(ca_file))
    # The URL is the emulator's own, built from its ready line: https on loopback.
    with urllib.request.urlopen(url, context=context, timeout=timeout) as answer:  # noqa: S310
        body: bytes = answer.read()
    return body.decode()


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format 0.0.4 -> {series key: value}; comments and bad lines skipped."""
    values: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            end = line.rfind("}")
            key, rest = line[: end + 1], line[end + 1 :]
        else:
            key, _, rest = line.partition(" ")
        parts = rest.split()
        if not parts:
            continue
        try:
            values[key] = float(parts[0])
        except ValueError:
            continue
    return values


@dataclass(frozen=True, kw_only=True)
class GaugeSample:
    """The charted gauges at `at` (epoch seconds)."""

    at: float
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EmulatorSnapshot:
    """The emulator's counters as the report shows them."""

    url: str
    last: Mapping[str, float] = field(default_factory=dict)  # the last scrape, whole
    last_at: float | None = None
    gauges: tuple[GaugeSample, ...] = ()
    error: str | None = None  # why the last scrape failed, if it did


class EmulatorCounters:
    """What the scrapes of one run's emulator found: the last scrape, and the charted gauges
    over time; `error` is the last failure, if the last scrape failed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last: dict[str, float] = {}
        self.last_at: float | None = None
        self.error: str | None = None
        self._gauges: list[GaugeSample] = []

    def record(self, at: float, metrics: Mapping[str, float]) -> None:
        self.last = dict(metrics)
        self.last_at = at
        self.error = None
        charted = {name: metrics[name] for name in CHARTED if name in metrics}
        if charted:
            self._gauges.append(GaugeSample(at=at, values=charted))

    def failed(self, reason: str) -> None:
        self.error = reason

    def snapshot(self) -> EmulatorSnapshot:
        return EmulatorSnapshot(
            url=self.url,
            last=dict(self.last),
            last_at=self.last_at,
            gauges=tuple(self._gauges),
            error=self.error,
        )
