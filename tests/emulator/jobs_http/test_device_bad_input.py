"""Must-fail calls of a device (issue #4, "Bad input"): AWS's error name and status, and
nothing else changes (no execution, no notification, the connection stays usable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet
from simfleet.emulator.jobs_http import JobsHttpConfig
from tests.emulator.jobs_http.helpers import ACCOUNT, REGION, Served

OWN = "/things/{own}/jobs"
OTHER = "/things/{other}/jobs"
MAX_BODY_BYTES = 4096


@pytest.fixture
def limited(shared_fleet: Fleet, tmp_path: Path) -> Iterator[Served]:
    """A server whose body limit is small enough to exceed in a test."""
    config = JobsHttpConfig(region=REGION, account_id=ACCOUNT, max_body_bytes=MAX_BODY_BYTES)
    served = Served(shared_fleet, tmp_path / "state", config=config)
    yield served
    served.close()


Body = bytes | dict[str, object] | None
Call = tuple[str, str, Body]


def _case(
    method: str, target: str, body: Body, status: int, error_type: str, *, name: str
) -> object:
    return pytest.param((method, target, body), (status, error_type), id=name)


CASES = [
    # Another thing's path: the device's policy names only its own thing (spec §4).
    _case("GET", OTHER, None, 403, "ForbiddenException", name="other-thing-get-pending"),
    _case("PUT", OTHER + "/$next", {}, 403, "ForbiddenException", name="other-thing-start"),
    _case("GET", OTHER + "/job-1", None, 403, "ForbiddenException", name="other-describe"),
    _case(
        "POST",
        OTHER + "/job-1",
        {"status": "SUCCEEDED"},
        403,
        "ForbiddenException",
        name="other-thing-update",
    ),
    # Authorization comes before validation: a bad body on another thing's path is still 403.
    _case("POST", OTHER + "/job-1", b"{", 403, "ForbiddenException", name="other-bad-json"),
    # Unknown jobs and executions.
    _case("GET", OWN + "/no-such-job", None, 404, "ResourceNotFoundException", name="job"),
    _case(
        "POST",
        OWN + "/no-such-job",
        {"status": "IN_PROGRESS"},
        404,
        "ResourceNotFoundException",
        name="update-unknown-job",
    ),
    _case(
        "GET",
        OWN + "/job-1?executionNumber=7",
        None,
        404,
        "ResourceNotFoundException",
        name="unknown-execution-number",
    ),
    # Bodies and members.
    _case("POST", OWN + "/job-1", b"{not json", 400, "InvalidRequestException", name="json"),
    _case("PUT", OWN + "/$next", b"\xff\xfe", 400, "InvalidRequestException", name="utf8"),
    _case("POST", OWN + "/job-1", b"[1, 2]", 400, "InvalidRequestException", name="array"),
    _case("POST", OWN + "/job-1", {}, 400, "InvalidRequestException", name="no-status"),
    _case(
        "POST",
        OWN + "/job-1",
        {"status": "QUEUED"},
        400,
        "InvalidRequestException",
        name="status-not-for-devices",
    ),
    _case(
        "PUT",
        OWN + "/$next",
        {"stepTimeoutInMinutes": 0},
        400,
        "InvalidRequestException",
        name="step-timeout-out-of-range",
    ),
    _case(
        "POST",
        OWN + "/job-1",
        b"x" * (MAX_BODY_BYTES + 1),
        400,
        "InvalidRequestException",
        name="body-over-limit",
    ),
    _case(
        "GET",
        OWN + "/job-1?executionNumber=one",
        None,
        400,
        "InvalidRequestException",
        name="execution-number-not-a-number",
    ),
    _case(
        "GET",
        OWN + "/job-1?includeJobDocument=yes",
        None,
        400,
        "InvalidRequestException",
        name="include-not-a-bool",
    ),
    _case(
        "POST",
        OWN + "/$next",
        {"status": "SUCCEEDED"},
        400,
        "InvalidRequestException",
        name="update-of-next",
    ),
    _case("GET", OWN + "/bad%20id", None, 400, "InvalidRequestException", name="bad-job-id"),
    # State conflicts (spec §2 table: 409).
    _case(
        "POST",
        OWN + "/job-1",
        {"status": "SUCCEEDED", "expectedVersion": 1},
        409,
        "InvalidStateTransitionException",
        name="version-mismatch",
    ),
    # Unknown paths and wrong methods: no operation there.
    _case("DELETE", OWN + "/job-1", None, 404, "UnknownOperationException", name="delete"),
    _case("PATCH", OWN + "/job-1", {}, 404, "UnknownOperationException", name="patch"),
    _case("POST", OWN, {}, 404, "UnknownOperationException", name="post-to-collection"),
    _case("GET", "/things/{own}", None, 404, "UnknownOperationException", name="no-jobs"),
    _case("GET", "/topics/a", None, 404, "UnknownOperationException", name="unknown-path"),
    _case("GET", OWN + "/job-1/extra", None, 404, "UnknownOperationException", name="too-deep"),
]


@pytest.mark.parametrize(("call", "expected"), CASES)
def test_bad_calls_change_nothing(
    limited: Served, things: list[str], call: Call, expected: tuple[int, str]
) -> None:
    served, (method, target, body) = limited, call
    served.create_job("job-1", things)
    device = served.device(0)
    assert device.request("PUT", f"/things/{things[0]}/jobs/$next").status == 200
    before, published = served.executions(), len(served.published)

    answer = device.request(method, target.format(own=things[0], other=things[1]), body)

    assert (answer.status, answer.error_type) == expected
    assert isinstance(answer.body["message"], str)
    assert answer.headers["content-type"] == "application/json"
    assert served.executions() == before
    assert len(served.published) == published
    # The connection is still usable unless the body was refused unread.
    follow_up = served.device(0) if answer.headers.get("connection") == "close" else device
    assert follow_up.request("GET", f"/things/{things[0]}/jobs").status == 200
