"""The text exposition format, read back by an independent parser (promtext)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.prometheus import (
    CONTENT_TYPE,
    Labels,
    MetricFamily,
    MetricType,
    Sample,
    format_value,
    render,
)
from tests.emulator.metrics.promtext import FormatError, parse


def _family(
    *samples: Sample, name: str = "x_total", kind: MetricType = MetricType.COUNTER
) -> MetricFamily:
    return MetricFamily(name=name, help="Some things.", type=kind, samples=samples)


def test_help_and_type_lines_then_one_line_per_sample() -> None:
    text = render(
        [
            _family(
                Sample(value=3, labels=(("op", "get"), ("outcome", "ok"))),
                Sample(value=1, labels=(("op", "get"), ("outcome", "ResourceNotFound"))),
            ),
            MetricFamily(name="open", help="Open things.", type=MetricType.GAUGE,
                         samples=(Sample(value=2.5),)),
            MetricFamily(name="lag_seconds", help="Lag.", type=MetricType.SUMMARY,
                         samples=(Sample(suffix="_sum", value=0.25),
                                  Sample(suffix="_count", value=4))),
            MetricFamily(name="nothing_yet_total", help="None.", type=MetricType.COUNTER),
        ]
    )  # fmt: skip
    assert text == (
        "# HELP x_total Some things.\n"
        "# TYPE x_total counter\n"
        'x_total{op="get",outcome="ok"} 3\n'
        'x_total{op="get",outcome="ResourceNotFound"} 1\n'
        "# HELP open Open things.\n"
        "# TYPE open gauge\n"
        "open 2.5\n"
        "# HELP lag_seconds Lag.\n"
        "# TYPE lag_seconds summary\n"
        "lag_seconds_sum 0.25\n"
        "lag_seconds_count 4\n"
        "# HELP nothing_yet_total None.\n"
        "# TYPE nothing_yet_total counter\n"
    )
    families = parse(text)
    assert families["x_total"].value(op="get", outcome="ResourceNotFound") == 1
    assert families["lag_seconds"].value("_count") == 4
    assert families["nothing_yet_total"].samples == {}
    assert render([]) == ""
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(0, "0", id="zero"),
        pytest.param(123456789012, "123456789012", id="big-int"),
        pytest.param(0.125, "0.125", id="float"),
        pytest.param(1e-07, "1e-07", id="tiny"),
        pytest.param(math.inf, "+Inf", id="inf"),
        pytest.param(-math.inf, "-Inf", id="minus-inf"),
        pytest.param(math.nan, "NaN", id="nan"),
    ],
)
def test_values(value: float, text: str) -> None:
    assert format_value(value) == text
    read = parse(render([_family(Sample(value=value))]))["x_total"].value()
    assert read == value or (math.isnan(read) and math.isnan(value))


@given(
    values=st.lists(st.text(max_size=20), min_size=1, max_size=5, unique=True),
    help_text=st.text(max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_label_values_and_help_text_survive_escaping(values: list[str], help_text: str) -> None:
    family = MetricFamily(
        name="x_total",
        help=help_text,
        type=MetricType.COUNTER,
        samples=tuple(Sample(value=i, labels=(("v", v),)) for i, v in enumerate(values)),
    )
    text = render([family])
    # Escaping leaves exactly HELP, TYPE and one line per sample.
    assert text.count("\n") == 2 + len(values)
    read = parse(text)["x_total"]
    assert read.help == help_text
    assert read.by("v") == {v: i for i, v in enumerate(values)}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('say "hi"', id="quote"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("two\nlines", id="newline"),
        pytest.param("\\n", id="backslash-n"),
    ],
)
def test_label_escapes_as_the_format_says(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    text = render([_family(Sample(value=1, labels=(("v", value),)))])
    assert f'x_total{{v="{escaped}"}} 1\n' in text


def _counter(*labels: Labels) -> Callable[[], MetricFamily]:
    return lambda: _family(*(Sample(value=1, labels=each) for each in labels))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: _family(name="1bad"), "metric name", id="metric-name-digit"),
        pytest.param(lambda: _family(name="bad-name"), "metric name", id="metric-name-dash"),
        pytest.param(_counter((("bad-label", "v"),)), "label name", id="label-name"),
        pytest.param(_counter((("__name__", "v"),)), "label name", id="reserved-label"),
        pytest.param(_counter((("a", "1"), ("a", "2"))), "label given twice", id="label-twice"),
        pytest.param(_counter((("a", "1"),), (("a", "1"),)), "set", id="label-set-twice"),
        pytest.param(
            _counter((("a", "1"), ("b", "2")), (("b", "2"), ("a", "1"))),
            "set",
            id="label-set-twice-reordered",
        ),
        pytest.param(_counter((), ()), "set", id="unlabelled-twice"),
        pytest.param(
            lambda: _family(Sample(value=1, suffix="_sum")), "suffix", id="suffix-on-counter"
        ),
        pytest.param(
            lambda: _family(Sample(value=1, suffix="_bucket"), kind=MetricType.SUMMARY),
            "suffix",
            id="unknown-suffix",
        ),
    ],
)
def test_malformed_families_are_refused(build: Callable[[], MetricFamily], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_a_family_rendered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        render([_family(), _family()])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("# HELP a x\n# TYPE a counter\na 1", id="no-final-newline"),
        pytest.param("a 1\n", id="sample-before-type"),
        pytest.param("# HELP a x\n# TYPE a counter\na 1\na 2\n", id="sample-twice"),
        pytest.param('# HELP a x\n# TYPE a counter\na{l="\\t"} 1\n', id="bad-escape"),
        pytest.param("# HELP a x\n# TYPE a counter\nb 1\n", id="foreign-sample"),
    ],
)
def test_the_test_parser_is_strict(text: str) -> None:
    # The checks above mean something only if the parser refuses what the format forbids.
    with pytest.raises(FormatError):
        parse(text)
