"""Prometheus text exposition format 0.0.4, written with no I/O and no prometheus_client.

    text = render([MetricFamily(name="x_total", help="...", type=MetricType.COUNTER,
                                samples=(Sample(value=3, labels=(("op", "get"),)),))])

Per family: `# HELP name text` (backslash and newline escaped), `# TYPE name type`, then one
line per sample, `name{label="value",...} value` (backslash, double quote and newline escaped
in label values). A counter's family name ends in `_total` as its samples do (format 0.0.4,
not OpenMetrics); a summary's samples add `_sum` and `_count`.

Errors: a malformed family (a bad metric or label name, a label set given twice, a family
rendered twice) raises ValueError. Families are built by our code, never from input, so that
is a bug in the caller.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SUMMARY_SUFFIXES = frozenset({"_sum", "_count"})

Labels = tuple[tuple[str, str], ...]


class MetricType(enum.Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    SUMMARY = "summary"


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One line: `<family name><suffix>{labels} value`; `suffix` is a summary's `_sum` or
    `_count`, empty otherwise."""

    value: float
    labels: Labels = ()
    suffix: str = ""


@dataclass(frozen=True, kw_only=True)
class MetricFamily:
    name: str
    help: str
    type: MetricType
    samples: tuple[Sample, ...] = ()

    def __post_init__(self) -> None:
        if not _METRIC_NAME.fullmatch(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
        for sample in self.samples:
            names = [name for name, _ in sample.labels]
            for name in names:
                # Names starting with __ are reserved for Prometheus itself.
                if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
                    raise ValueError(f"{self.name}: invalid label name {name!r}")
            if len(set(names)) != len(names):
                raise ValueError(f"{self.name}: a label given twice in {sample.labels}")
            allowed = _SUMMARY_SUFFIXES if self.type is MetricType.SUMMARY else frozenset()
            if sample.suffix and sample.suffix not in allowed:
                raise ValueError(f"{self.name}: suffix {sample.suffix!r} on a {self.type.value}")
            key = (sample.suffix, frozenset(sample.labels))
            if key in seen:  # the format allows one sample per label set
                raise ValueError(f"{self.name}: label set {sample.labels} given twice")
            seen.add(key)


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render(families: Iterable[MetricFamily]) -> str:
    """The text exposition of `families`, in order; every line ends with a newline."""
    lines: list[str] = []
    names: set[str] = set()
    for family in families:
        if family.name in names:
            raise ValueError(f"metric family {family.name} rendered twice")
        names.add(family.name)
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type.value}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sample.labels)
            braces = f"{{{labels}}}" if labels else ""
            lines.append(f"{family.name}{sample.suffix}{braces} {format_value(sample.value)}")
    return "".join(line + "\n" for line in lines)
