"""Topic name and filter validation (§4.7, AWS limits) and filter matching."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.mqtt import (
    AWS_TOPIC_LIMITS,
    InvalidTopic,
    TopicLimits,
    filter_matches,
    validate_topic_filter,
    validate_topic_name,
)
from tests.emulator.mqtt.strategies import topic_filters, topic_names

JOBS_UPDATE_ACCEPTED = "$aws/things/thing-0001/jobs/job-42/update/accepted"


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("a", id="one-level"),
        pytest.param("/", id="two-empty-levels"),
        pytest.param("a//b/", id="empty-levels"),
        pytest.param("$SYS/broker", id="dollar"),
        pytest.param("sport/tennis player1", id="space"),
        pytest.param("caf\u00e9/\U0001f600", id="non-ascii"),
        pytest.param(JOBS_UPDATE_ACCEPTED, id="jobs-update-accepted-6-slashes"),
        pytest.param("$aws/things/t/jobs/j/notify-namespace-ns/", id="jobs-namespace-notify"),
        pytest.param("a/b/c/d/e/f/g/h", id="7-slashes"),
        pytest.param("x" * 256, id="256-bytes"),
        pytest.param("\u00e9" * 128, id="256-bytes-2-byte-chars"),
        pytest.param("$aws/rules/my_rule/a/b/c/d/e/f/g/h", id="basic-ingest-prefix-not-counted"),
        pytest.param("$AWS/Rules/my_rule/a/b/c/d/e/f/g/h", id="basic-ingest-any-case"),
        pytest.param("$aws/rules/r/" + "x" * 256, id="basic-ingest-256-after-prefix"),
    ],
)
def test_valid_topic_names(topic: str) -> None:
    validate_topic_name(topic)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("a/+", "wildcard", id="plus"),
        pytest.param("a/#", "wildcard", id="hash"),
        pytest.param("a+b", "wildcard", id="plus-inside-level"),
        pytest.param("a\x00", "U+0000", id="nul"),
        pytest.param("a\ud800", "surrogate", id="lone-surrogate"),
        pytest.param("a/b/c/d/e/f/g/h/i", "more than 7 slashes", id="8-slashes"),
        pytest.param("x" * 257, "longer than 256", id="257-bytes"),
        pytest.param("\u00e9" * 129, "longer than 256", id="258-bytes-2-byte-chars"),
        pytest.param("$aws/things/a/b/c/d/e/f/g", "more than 7", id="aws-non-ingest-counted"),
        pytest.param("$aws/rules/r/a/b/c/d/e/f/g/h/i", "more than 7", id="ingest-8-after-prefix"),
        pytest.param("$aws/rules//a/b/c/d/e/f", "more than 7", id="ingest-without-rule-name"),
        pytest.param("x" * 65536, "65535", id="over-mqtt-string"),
    ],
)
def test_invalid_topic_names(topic: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=re.escape(reason)):
        validate_topic_name(topic)


@pytest.mark.parametrize(
    "topic_filter",
    [
        pytest.param("#", id="hash-alone"),
        pytest.param("+", id="plus-alone"),
        pytest.param("sport/tennis/#", id="hash-last"),
        pytest.param("+/+", id="plus-plus"),
        pytest.param("/+", id="leading-empty"),
        pytest.param("sport/+/player1", id="plus-middle"),
        pytest.param("+/tennis/#", id="plus-and-hash"),
        pytest.param("$SYS/#", id="dollar-hash"),
        pytest.param("$aws/things/t/jobs/+/update/+", id="jobs-sdk-filter"),
        pytest.param("a/b/c/d/e/f/g/#", id="7-slashes"),
    ],
)
def test_valid_topic_filters(topic_filter: str) -> None:
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic_filter", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("sport/tennis#", "'#'", id="hash-inside-level"),
        pytest.param("sport/tennis/#/ranking", "'#'", id="hash-not-last"),
        pytest.param("#/a", "'#'", id="hash-first"),
        pytest.param("##", "'#'", id="double-hash"),
        pytest.param("sport+", "'+'", id="plus-inside-level"),
        pytest.param("++", "'+'", id="double-plus"),
        pytest.param("a\x00/#", "U+0000", id="nul"),
        pytest.param("a/b/c/d/e/f/g/h/#", "more than 7", id="8-slashes"),
        pytest.param("+" + "/+" * 8, "more than 7", id="8-slashes-wildcards"),
    ],
)
def test_invalid_topic_filters(topic_filter: str, reason: str) -> None:
    with pytest.raises(InvalidTopic, match=re.escape(reason)):
        validate_topic_filter(topic_filter)


def test_limits_are_parameters() -> None:
    deep = "a/b/c/d/e/f/g/h/i/j"
    validate_topic_name(deep, None)  # syntax only
    validate_topic_name(deep, TopicLimits(max_slashes=9))
    with pytest.raises(InvalidTopic, match="more than 3 slashes"):
        validate_topic_filter("a/b/c/d/#", TopicLimits(max_slashes=3))
    with pytest.raises(InvalidTopic, match="longer than 4 bytes"):
        validate_topic_name("abcde", TopicLimits(max_bytes=4))
    strict = TopicLimits(basic_ingest_exempt=False)
    with pytest.raises(InvalidTopic, match="more than 7"):
        validate_topic_name("$aws/rules/r/a/b/c/d/e/f", strict)
    validate_topic_name("$aws/rules/r/a/b/c/d/e/f")  # 5 slashes after the prefix
    assert TopicLimits() == AWS_TOPIC_LIMITS


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_bytes": 0}, id="zero-bytes"),
        pytest.param({"max_bytes": 65536}, id="over-mqtt-string"),
        pytest.param({"max_slashes": -1}, id="negative-slashes"),
    ],
)
def test_topic_limits_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        replace(AWS_TOPIC_LIMITS, **kwargs)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        # §4.7.1.2
        pytest.param("sport/tennis/player1/#", "sport/tennis/player1", True, id="hash-parent"),
        pytest.param("sport/tennis/player1/#", "sport/tennis/player1/ranking", True, id="hash-1"),
        pytest.param(
            "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True, id="hash-2"
        ),
        pytest.param("sport/#", "sport", True, id="hash-matches-parent"),
        pytest.param("#", "a/b/c", True, id="hash-everything"),
        pytest.param("sport/tennis/#", "sport/football", False, id="hash-other-branch"),
        # §4.7.1.3
        pytest.param("sport/tennis/+", "sport/tennis/player1", True, id="plus"),
        pytest.param("sport/tennis/+", "sport/tennis/player1/ranking", False, id="plus-one-level"),
        pytest.param("sport/+", "sport", False, id="plus-needs-a-level"),
        pytest.param("sport/+", "sport/", True, id="plus-matches-empty-level"),
        pytest.param("+/+", "/finance", True, id="plus-plus-leading-slash"),
        pytest.param("/+", "/finance", True, id="slash-plus"),
        pytest.param("+", "/finance", False, id="plus-not-two-levels"),
        # §4.7.2
        pytest.param("#", "$SYS/x", False, id="hash-not-dollar"),
        pytest.param("+/monitor/Clients", "$SYS/monitor/Clients", False, id="plus-not-dollar"),
        pytest.param("$SYS/#", "$SYS/monitor/Clients", True, id="dollar-hash"),
        pytest.param("$SYS/monitor/+", "$SYS/monitor/Clients", True, id="dollar-plus"),
        pytest.param("a/+", "a/$b", True, id="dollar-below-first-level"),
        # plain
        pytest.param("a/b", "a/b", True, id="exact"),
        pytest.param("a/b", "a/b/", False, id="trailing-slash"),
        pytest.param("a/b", "A/b", False, id="case-sensitive"),
        pytest.param(
            "$aws/things/t/jobs/+/update/+",
            JOBS_UPDATE_ACCEPTED.replace("thing-0001", "t"),
            True,
            id="jobs-sdk-filter",
        ),
    ],
)
def test_filter_matches_spec_examples(topic_filter: str, topic: str, expected: bool) -> None:
    assert filter_matches(topic_filter, topic) is expected


def _regex_oracle(topic_filter: str, topic: str) -> bool:
    """An independent matcher: the filter as a regular expression."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic_filter.split("/")
    tail = ""
    if levels[-1] == "#":
        levels.pop()
        tail = "(/.*)?" if levels else ".*"
    body = "/".join("[^/]*" if lv == "+" else re.escape(lv) for lv in levels)
    return re.fullmatch(body + tail, topic, flags=re.DOTALL) is not None


small_levels = st.sampled_from(["a", "b", "", "$x", "é"])


@settings(max_examples=300, deadline=None)
@given(topic_filters(small_levels), topic_names(small_levels))
def test_filter_matches_agrees_with_a_regex_oracle(topic_filter: str, topic: str) -> None:
    assert filter_matches(topic_filter, topic) is _regex_oracle(topic_filter, topic)


@settings(max_examples=200, deadline=None)
@given(topic_filters(), topic_names())
def test_generated_names_and_filters_are_valid(topic_filter: str, topic: str) -> None:
    validate_topic_filter(topic_filter, None)
    validate_topic_name(topic, None)
