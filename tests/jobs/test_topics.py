"""Reserved Jobs topics: building, parsing, name validation (spec §1.1, §3, §5)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.jobs import (
    InvalidName,
    JobsTopic,
    Operation,
    Reply,
    UnknownJobsTopic,
    parse_jobs_topic,
)
from simfleet.jobs.topics import check_job_id, check_thing_name, subscription_filters

P = "$aws/things/T1/jobs"
GET, START, DESCRIBE, UPDATE = (
    Operation.GET_PENDING,
    Operation.START_NEXT,
    Operation.DESCRIBE,
    Operation.UPDATE,
)
OK, NO = Reply.ACCEPTED, Reply.REJECTED


def t(operation: Operation, job_id: str | None = None, reply: Reply | None = None) -> JobsTopic:
    return JobsTopic(thing_name="T1", operation=operation, job_id=job_id, reply=reply)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        pytest.param(f"{P}/get", t(GET), id="get"),
        pytest.param(f"{P}/get/accepted", t(GET, reply=OK), id="get-accepted"),
        pytest.param(f"{P}/get/rejected", t(GET, reply=NO), id="get-rejected"),
        pytest.param(f"{P}/start-next", t(START), id="start-next"),
        pytest.param(f"{P}/start-next/accepted", t(START, reply=OK), id="start-next-accepted"),
        pytest.param(f"{P}/start-next/rejected", t(START, reply=NO), id="start-next-rejected"),
        pytest.param(f"{P}/Job1/get", t(DESCRIBE, "Job1"), id="describe"),
        pytest.param(f"{P}/$next/get", t(DESCRIBE, "$next"), id="describe-next"),
        pytest.param(f"{P}/$next/get/accepted", t(DESCRIBE, "$next", OK), id="describe-next-ok"),
        pytest.param(f"{P}/Job1/get/rejected", t(DESCRIBE, "Job1", NO), id="describe-rejected"),
        pytest.param(f"{P}/Job1/update", t(UPDATE, "Job1"), id="update"),
        pytest.param(f"{P}/Job1/update/accepted", t(UPDATE, "Job1", OK), id="update-accepted"),
        pytest.param(f"{P}/Job1/update/rejected", t(UPDATE, "Job1", NO), id="update-rejected"),
        pytest.param(f"{P}/notify", t(Operation.NOTIFY), id="notify"),
        pytest.param(f"{P}/notify-next", t(Operation.NOTIFY_NEXT), id="notify-next"),
        # Job ids that look like API levels: the level count decides.
        pytest.param(f"{P}/get/get", t(DESCRIBE, "get"), id="job-named-get"),
        pytest.param(f"{P}/get/update", t(UPDATE, "get"), id="update-job-named-get"),
        pytest.param(f"{P}/start-next/get", t(DESCRIBE, "start-next"), id="job-named-start-next"),
        pytest.param(f"{P}/notify/update/accepted", t(UPDATE, "notify", OK), id="job-notify"),
        pytest.param(
            "$aws/things/a:B_c-9/jobs/get",
            JobsTopic(thing_name="a:B_c-9", operation=GET),
            id="thing-name-punctuation",
        ),
    ],
)
def test_parse_and_build(topic: str, expected: JobsTopic) -> None:
    assert parse_jobs_topic(topic) == expected
    assert expected.topic == topic


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param(P, id="bare-namespace"),
        pytest.param(f"{P}/", id="trailing-slash"),
        pytest.param(f"{P}/unknown", id="unknown-level"),
        pytest.param(f"{P}/notify/accepted", id="notify-has-no-reply"),
        pytest.param(f"{P}/get/other", id="get-bad-reply"),
        pytest.param(f"{P}/Job1/delete", id="unknown-job-api"),
        pytest.param(f"{P}/Job1/get/accepted/extra", id="too-deep"),
        pytest.param(f"{P}/$next/update", id="update-next"),
        pytest.param(f"{P}/bad.id/get", id="bad-job-id"),
        pytest.param(f"{P}/{'j' * 65}/get", id="job-id-too-long"),
        pytest.param(f"{P}//get", id="empty-job-id"),
        pytest.param("$aws/things//jobs/get", id="empty-thing"),
        pytest.param(f"$aws/things/{'t' * 129}/jobs/get", id="thing-too-long"),
        pytest.param("$aws/things/bad name/jobs/get", id="thing-bad-char"),
        pytest.param(f"{P}/Job1/notify-namespace-NS/", id="namespace-notify"),
    ],
)
def test_in_namespace_but_no_api(topic: str) -> None:
    parsed = parse_jobs_topic(topic)
    assert isinstance(parsed, UnknownJobsTopic)
    assert parsed.topic == topic


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("$aws/things/T1/shadow/get", id="shadow"),
        pytest.param("$aws/things/T1/jobsx/get", id="jobs-prefix-only"),
        pytest.param("$aws/things/T1", id="thing-only"),
        pytest.param("$aws/events/job/J/completed", id="job-events"),
        pytest.param("things/T1/jobs/get", id="no-dollar-aws"),
        pytest.param("", id="empty"),
    ],
)
def test_outside_namespace(topic: str) -> None:
    assert parse_jobs_topic(topic) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"operation": UPDATE}, id="update-without-job"),
        pytest.param({"operation": GET, "job_id": "Job1"}, id="get-with-job"),
        pytest.param({"operation": UPDATE, "job_id": "$next"}, id="update-next"),
        pytest.param({"operation": Operation.NOTIFY, "reply": OK}, id="notify-reply"),
        pytest.param({"operation": GET, "thing_name": ""}, id="empty-thing"),
    ],
)
def test_invalid_topics_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidName):
        JobsTopic(**{"thing_name": "T1", **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("a", True, id="one-char"),
        pytest.param("t" * 128, True, id="128-chars"),
        pytest.param("t" * 129, False, id="129-chars"),
        pytest.param("", False, id="empty"),
        pytest.param("a:b_c-D9", True, id="punctuation"),
        pytest.param("a/b", False, id="slash"),
        pytest.param("a+b", False, id="plus"),
        pytest.param("é", False, id="non-ascii"),
    ],
)
def test_thing_names(name: str, valid: bool) -> None:
    if valid:
        assert check_thing_name(name) == name
    else:
        with pytest.raises(InvalidName):
            check_thing_name(name)


@pytest.mark.parametrize(
    ("job_id", "allow_next", "valid"),
    [
        pytest.param("j" * 64, False, True, id="64-chars"),
        pytest.param("j" * 65, False, False, id="65-chars"),
        pytest.param("a_b-C9", False, True, id="punctuation"),
        pytest.param("a:b", False, False, id="colon"),
        pytest.param("$next", False, False, id="next-not-allowed"),
        pytest.param("$next", True, True, id="next-allowed"),
        pytest.param("", True, False, id="empty"),
    ],
)
def test_job_ids(job_id: str, allow_next: bool, valid: bool) -> None:
    if valid:
        assert check_job_id(job_id, allow_next=allow_next) == job_id
    else:
        with pytest.raises(InvalidName):
            check_job_id(job_id, allow_next=allow_next)


def test_subscription_filters_cover_every_reply_and_notification() -> None:
    filters = subscription_filters("T1")
    assert filters == (
        f"{P}/notify",
        f"{P}/notify-next",
        f"{P}/get/+",
        f"{P}/start-next/+",
        f"{P}/+/get/+",
        f"{P}/+/update/+",
    )
    assert len(filters) <= 8  # AWS's limit per SUBSCRIBE (spec §6)


def test_reply_topics_of_a_request() -> None:
    assert t(UPDATE, "Job1").with_reply(OK).topic == f"{P}/Job1/update/accepted"
    assert t(GET).with_reply(NO).topic == f"{P}/get/rejected"
    assert t(GET).is_request
    assert not t(GET, reply=OK).is_request
    assert not t(Operation.NOTIFY).is_request


thing_names = st.text(alphabet=st.sampled_from("abcXYZ019:_-"), min_size=1, max_size=128)
job_ids = st.text(alphabet=st.sampled_from("abcXYZ019_-"), min_size=1, max_size=64)


@st.composite
def jobs_topics(draw: st.DrawFn) -> JobsTopic:
    operation = draw(st.sampled_from(Operation))
    job_id = None
    if operation is Operation.DESCRIBE:
        job_id = draw(job_ids | st.just("$next"))
    elif operation is Operation.UPDATE:
        job_id = draw(job_ids)
    reply = None if operation.is_notification else draw(st.none() | st.sampled_from(Reply))
    return JobsTopic(thing_name=draw(thing_names), operation=operation, job_id=job_id, reply=reply)


@settings(max_examples=200)
@given(jobs_topics())
def test_build_then_parse_round_trips(topic: JobsTopic) -> None:
    assert parse_jobs_topic(topic.topic) == topic


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "get",
                "update",
                "accepted",
                "rejected",
                "start-next",
                "notify",
                "notify-next",
                "$next",
                "Job1",
                "",
                "x.y",
            ]
        ),
        max_size=4,
    )
)
def test_parse_then_build_round_trips(levels: list[str]) -> None:
    topic = "/".join([P, *levels])
    parsed = parse_jobs_topic(topic)
    assert parsed is not None
    assert parsed.topic == topic
