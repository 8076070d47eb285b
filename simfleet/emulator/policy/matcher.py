"""Policy string syntax and glob matching: `*`, `?`, `${variable}` and the literal escapes.

Spec §4 "Wildcards": in Resource (and Action) `*` matches any run of characters, `/`
included, and `?` exactly one; `+` and `#` are ordinary characters. `$(*)`, `$(?)` and `$($)`
stand for a literal `*`, `?` and `$`. The AWS IoT page spells them with parentheses while the
IAM page it links to spells them `${*}`, `${?}`, `${$}`; both spellings are accepted [U].

A policy string is parsed once into a Template (literal text, wildcards, variable references);
variables.py fills the references in, giving a Pattern: literal text and wildcards only. A
substituted value is always literal text, so a client ID of `*` cannot widen a resource.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from typing import TypeAlias

# Compiled sets are shared by every connection whose resolved patterns are the same (a
# reconnecting device, or all devices for a statement that uses no variable).
_GLOB_SET_CACHE_SIZE = 8192
_TEMPLATE_CACHE_SIZE = 4096
_ESCAPES = frozenset("*?$")


class Wild(enum.Enum):
    """A wildcard token of a pattern."""

    STAR = "*"  # any run of characters, possibly empty, `/` included
    ONE = "?"  # exactly one character


@dataclass(frozen=True)
class Var:
    """A `${name}` reference, resolved by variables.py."""

    name: str

    @property
    def text(self) -> str:
        """The reference as written, which is what stays when it cannot be resolved."""
        return "${" + self.name + "}"


Pattern: TypeAlias = tuple[str | Wild, ...]
Template: TypeAlias = tuple[str | Wild | Var, ...]


@functools.lru_cache(maxsize=_TEMPLATE_CACHE_SIZE)
def parse_template(text: str) -> Template:
    """Split a policy string into literal runs, wildcards and variable references."""
    parts: list[str | Wild | Var] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "$" and i + 3 < len(text) and _is_escape(text, i):
            literal.append(text[i + 2])
            i += 4
            continue
        if char == "$" and text.startswith("${", i):
            end = text.find("}", i + 2)
            if end != -1:
                _flush(parts, literal)
                parts.append(Var(text[i + 2 : end]))
                i = end + 1
                continue
        if char in "*?":
            _flush(parts, literal)
            parts.append(Wild.ONE if char == "?" else Wild.STAR)
        else:
            literal.append(char)
        i += 1
    _flush(parts, literal)
    return tuple(parts)


def _is_escape(text: str, i: int) -> bool:
    opener, inner, closer = text[i + 1], text[i + 2], text[i + 3]
    return inner in _ESCAPES and (opener, closer) in {("(", ")"), ("{", "}")}


def _flush(parts: list[str | Wild | Var], literal: list[str]) -> None:
    if literal:
        parts.append("".join(literal))
        literal.clear()


def parse_glob(text: str) -> Pattern:
    """A policy string with no variables to resolve: any `${name}` stays literal text."""
    return normalize(
        tuple(part.text if isinstance(part, Var) else part for part in parse_template(text))
    )


def normalize(pattern: tuple[str | Wild, ...]) -> Pattern:
    """Merge adjacent literal runs so that equal patterns compare (and cache) equal."""
    out: list[str | Wild] = []
    for part in pattern:
        if isinstance(part, str):
            if not part:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += part
                continue
        elif part is Wild.STAR and out and out[-1] is Wild.STAR:
            continue  # `**` means the same as `*`
        out.append(part)
    return tuple(out)


def pattern_text(pattern: Pattern) -> str:
    """The pattern with its wildcards written as plain `*` and `?` (for StringEquals)."""
    return "".join(part if isinstance(part, str) else part.value for part in pattern)


class GlobSet:
    """Does a string match any of a set of patterns?

    Compiling a regular expression costs more than a connection's whole policy otherwise does
    (hundreds of microseconds for an ARN), so the common shapes avoid it: a pattern with no
    wildcard is a set lookup and a pattern with only `*` is matched by string search. Only
    patterns with `?` share one anchored regular expression.
    """

    __slots__ = ("_exact", "_regex", "_starred")

    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        exact: set[str] = set()
        starred: list[_StarGlob] = []
        other: list[str] = []
        for pattern in patterns:
            if Wild.ONE in pattern:
                other.append(_regex_source(pattern))
            elif Wild.STAR in pattern:
                starred.append(_StarGlob(pattern))
            else:
                exact.add(pattern_text(pattern))
        self._exact = frozenset(exact)
        self._starred = tuple(starred)
        # Backtracking is polynomial in the number of `*` of one pattern; policy resources
        # have one or two, and topics are at most 256 bytes (spec §6).
        self._regex = re.compile("|".join(other), re.DOTALL) if other else None

    def matches(self, text: str) -> bool:
        if text in self._exact:
            return True
        for glob in self._starred:
            if glob.matches(text):
                return True
        return self._regex is not None and self._regex.fullmatch(text) is not None


class _StarGlob:
    """A pattern of literal pieces joined by `*`: `head*middle*...*tail`."""

    __slots__ = ("_head", "_middle", "_shortest", "_tail")

    def __init__(self, pattern: Pattern) -> None:
        pieces = [""]
        for part in pattern:
            if part is Wild.STAR:
                pieces.append("")
            else:
                pieces[-1] += pattern_text((part,))
        self._head, *middle, self._tail = pieces
        self._middle = tuple(middle)
        self._shortest = sum(len(piece) for piece in pieces)

    def matches(self, text: str) -> bool:
        if (
            len(text) < self._shortest
            or not text.startswith(self._head)
            or not text.endswith(self._tail)
        ):
            return False
        # With `*` as the only wildcard, taking each middle piece at its leftmost place
        # leaves the most room for the rest, so one forward search decides.
        position, end = len(self._head), len(text) - len(self._tail)
        for piece in self._middle:
            position = text.find(piece, position, end)
            if position < 0:
                return False
            position += len(piece)
        return True


def _regex_source(pattern: Pattern) -> str:
    pieces = []
    for part in pattern:
        if part is Wild.STAR:
            pieces.append(".*")
        elif part is Wild.ONE:
            pieces.append(".")
        else:
            pieces.append(re.escape(part))
    return "(?:" + "".join(pieces) + ")"


@functools.lru_cache(maxsize=_GLOB_SET_CACHE_SIZE)
def glob_set(patterns: tuple[Pattern, ...]) -> GlobSet:
    """The compiled set for these patterns, shared across connections."""
    return GlobSet(patterns)


def glob_matches(pattern: str, text: str) -> bool:
    """Does `text` match the policy string `pattern` (no variables resolved)?"""
    return glob_set((parse_glob(pattern),)).matches(text)
