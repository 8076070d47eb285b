"""A small, strict reader of Prometheus text format 0.0.4, to check what /metrics writes
independently of the code that writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_SUFFIXES = {"counter": ("",), "gauge": ("",), "summary": ("", "_sum", "_count")}

LabelSet = frozenset[tuple[str, str]]


class FormatError(ValueError):
    pass


@dataclass
class Family:
    name: str
    help: str
    type: str = ""
    # (sample name, labels) -> value
    samples: dict[tuple[str, LabelSet], float] = field(default_factory=dict)

    def value(self, suffix: str = "", **labels: str) -> float:
        return self.samples[self.name + suffix, frozenset(labels.items())]

    def by(self, label: str) -> dict[str, float]:
        """Each sample's value keyed by the value of `label` (every sample carries it)."""
        return {dict(labels)[label]: value for (_, labels), value in self.samples.items()}

    def total(self) -> float:
        return sum(self.samples.values())


def _unescape(text: str, escapes: dict[str, str]) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, None)
            if following is None or following not in escapes:
                raise FormatError(f"bad escape in {text!r}")
            out.append(escapes[following])
        else:
            out.append(char)
    return "".join(out)


def _labels(line: str, at: int) -> tuple[dict[str, str], int]:
    """The labels of `line` from just after `{`, and the index after the closing `}`."""
    labels: dict[str, str] = {}
    while line[at] != "}":
        match = _LABEL.match(line, at)
        if match is None or line[match.end() : match.end() + 2] != '="':
            raise FormatError(f"bad label at {at} in {line!r}")
        name, at = match.group(), match.end() + 2
        value: list[str] = []
        while line[at] != '"':
            if line[at] == "\\":
                if line[at + 1] not in _ESCAPES:
                    raise FormatError(f"bad escape at {at} in {line!r}")
                value.append(_ESCAPES[line[at + 1]])
                at += 2
            else:
                value.append(line[at])
                at += 1
        if name in labels:
            raise FormatError(f"label {name} twice in {line!r}")
        labels[name] = "".join(value)
        at += 1
        if line[at] == ",":
            at += 1
        elif line[at] != "}":
            raise FormatError(f"expected , or }} at {at} in {line!r}")
    return labels, at + 1


def parse(text: str) -> dict[str, Family]:
    """Families by name; raises FormatError on anything the format does not allow."""
    if text and not text.endswith("\n"):
        raise FormatError("the last line has no newline")
    families: dict[str, Family] = {}
    current: Family | None = None
    # Only "\n" ends a line: str.splitlines would also split on \r, \x1c, \u2028, ...
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            if not _NAME.fullmatch(name) or name in families:
                raise FormatError(f"bad or repeated family {name!r}")
            current = families[name] = Family(name, _unescape(help_text, {"\\": "\\", "n": "\n"}))
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE ") :].partition(" ")
            if current is None or current.name != name or current.type or kind not in _SUFFIXES:
                raise FormatError(f"TYPE line out of place: {line!r}")
            current.type = kind
        else:
            match = _NAME.match(line)
            if match is None or current is None or not current.type:
                raise FormatError(f"sample out of place: {line!r}")
            name, at = match.group(), match.end()
            labels: dict[str, str] = {}
            if line[at : at + 1] == "{":
                labels, at = _labels(line, at + 1)
            if line[at : at + 1] != " ":
                raise FormatError(f"no value in {line!r}")
            suffix = name[len(current.name) :]
            if not name.startswith(current.name) or suffix not in _SUFFIXES[current.type]:
                raise FormatError(f"{name} is not a sample of {current.name}")
            key = (name, frozenset(labels.items()))
            if key in current.samples:
                raise FormatError(f"label set given twice: {line!r}")
            current.samples[key] = float(line[at + 1 :])
    return families
