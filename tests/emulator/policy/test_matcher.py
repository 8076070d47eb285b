"""Resource and action globs (spec §4 "Wildcards"), against a reference written independently."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.policy import glob_matches
from simfleet.emulator.policy.matcher import GlobSet, parse_glob

STAR, ONE = object(), object()
_LITERAL_ESCAPES = {f"${o}{c}{e}": c for c in "*?$" for o, e in (("(", ")"), ("{", "}"))}


def reference_tokens(pattern: str) -> list[object]:
    """Tokenize by the spec's words alone: escapes first, `${...}` literal, `*`/`?` wild."""
    tokens: list[object] = []
    k = 0
    while k < len(pattern):
        escape = _LITERAL_ESCAPES.get(pattern[k : k + 4])
        if escape is not None:
            tokens.append(escape)
            k += 4
        elif pattern.startswith("${", k) and "}" in pattern[k + 2 :]:
            end = pattern.index("}", k + 2) + 1
            tokens.extend(pattern[k:end])
            k = end
        else:
            tokens.append({"*": STAR, "?": ONE}.get(pattern[k], pattern[k]))
            k += 1
    return tokens


def reference_match(pattern: str, text: str) -> bool:
    tokens = reference_tokens(pattern)

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(tokens):
            return j == len(text)
        token = tokens[i]
        if token is STAR:
            return match(i + 1, j) or (j < len(text) and match(i, j + 1))
        if j == len(text):
            return False
        return (token is ONE or token == text[j]) and match(i + 1, j + 1)

    return match(0, 0)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        pytest.param("a/*", "a/b/c", True, id="star-spans-levels"),
        pytest.param("a/*", "a/", True, id="star-matches-empty"),
        pytest.param("a/*/c", "a/c", False, id="star-between-slashes-needs-both"),
        pytest.param("*", "", True, id="star-alone-matches-empty"),
        pytest.param("a/?", "a/b", True, id="question-one-char"),
        pytest.param("a/?", "a/bc", False, id="question-not-two"),
        pytest.param("a/?", "a/", False, id="question-not-zero"),
        pytest.param("a/?", "a//", True, id="question-matches-slash"),
        pytest.param("a/+", "a/b", False, id="plus-is-literal"),
        pytest.param("a/+", "a/+", True, id="plus-matches-itself"),
        pytest.param("a/#", "a/b/c", False, id="hash-is-literal"),
        pytest.param("a/#", "a/#", True, id="hash-matches-itself"),
        pytest.param("a/$(*)", "a/*", True, id="escaped-star"),
        pytest.param("a/$(*)", "a/b", False, id="escaped-star-not-wild"),
        pytest.param("a/${*}", "a/*", True, id="iam-spelling-of-escaped-star"),
        pytest.param("a/$(?)", "a/?", True, id="escaped-question"),
        pytest.param("a/$(?)", "a/b", False, id="escaped-question-not-wild"),
        pytest.param("$($)aws/x", "$aws/x", True, id="escaped-dollar"),
        pytest.param("$aws/x", "$aws/x", True, id="plain-dollar"),
        pytest.param("a/${x}", "a/${x}", True, id="unresolved-variable-is-literal"),
        pytest.param("a/${x}", "a/b", False, id="unresolved-variable-matches-no-value"),
        pytest.param("a/${*x}", "a/${*x}", True, id="unresolved-variable-star-literal"),
        pytest.param("a/${", "a/${", True, id="unclosed-variable-literal"),
        pytest.param("A/b", "a/b", False, id="case-sensitive"),
        pytest.param("a.b", "aXb", False, id="regex-metacharacters-are-literal"),
        pytest.param("a\nb*", "a\nbc", True, id="newline"),
    ],
)
def test_glob_cases(pattern: str, text: str, expected: bool) -> None:
    assert glob_matches(pattern, text) is expected
    assert reference_match(pattern, text) is expected


ALPHABET = "a/+#$*?(){}"
# Whole escapes and variable references are drawn as units, or they would almost never occur.
ATOMS = [*ALPHABET, *_LITERAL_ESCAPES, "${x}", "${a*}", "${"]
policy_strings = st.lists(st.sampled_from(ATOMS), max_size=8).map("".join)


@st.composite
def pattern_and_text(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern, and either any text or a text built to match it (so both answers occur)."""
    pattern = draw(policy_strings)
    if draw(st.booleans()):
        return pattern, draw(policy_strings)
    pieces = []
    for token in reference_tokens(pattern):
        if token is STAR:
            pieces.append(draw(st.text(alphabet=ALPHABET, max_size=4)))
        elif token is ONE:
            pieces.append(draw(st.sampled_from(ALPHABET)))
        else:
            assert isinstance(token, str)
            pieces.append(token)
    return pattern, "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(pattern_and_text())
def test_glob_agrees_with_reference(case: tuple[str, str]) -> None:
    pattern, text = case
    assert glob_matches(pattern, text) == reference_match(pattern, text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(policy_strings, min_size=1, max_size=4),
    policy_strings,
)
def test_glob_set_is_any_of_its_patterns(patterns: list[str], text: str) -> None:
    globs = GlobSet(tuple(parse_glob(p) for p in patterns))
    assert globs.matches(text) == any(reference_match(p, text) for p in patterns)


def test_repeated_stars_parse_like_one() -> None:
    assert parse_glob("a/**/b") == parse_glob("a/*/b")
