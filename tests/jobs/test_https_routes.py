"""The service side of the HTTPS codec in two steps: `route_https_request` finds the operation
and the path's names (percent-decoded, not validated), `decode_routed_request` validates them
and the body; and the `statusDetails` value rule on any text (spec §1.2)."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.jobs import (
    ExecutionStatus,
    JobsError,
    JobsErrorCode,
    Operation,
    UpdateRequest,
)
from simfleet.jobs.https import HttpsRoute, decode_routed_request, route_https_request
from simfleet.jobs.requests import request_from_members


def _route(operation: Operation, thing_name: str, job_id: str | None) -> HttpsRoute:
    return HttpsRoute(operation=operation, thing_name=thing_name, job_id=job_id)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "GET", "/things/T1/jobs", _route(Operation.GET_PENDING, "T1", None), id="get-pending"
        ),
        pytest.param(
            "put",
            "/things/T1/jobs/%24next",
            _route(Operation.START_NEXT, "T1", "$next"),
            id="start-next-encoded-lowercase",
        ),
        pytest.param(
            "GET",
            "/things/T%3A1/jobs/$next",
            _route(Operation.DESCRIBE, "T:1", "$next"),
            id="describe-next",
        ),
        pytest.param(
            "POST", "things/T1/jobs/J1/", _route(Operation.UPDATE, "T1", "J1"), id="update"
        ),
        pytest.param(
            "GET",
            "/things/T1/job%73",
            _route(Operation.GET_PENDING, "T1", None),
            id="every-level-decoded",
        ),
        pytest.param(
            "GET",
            "/things/bad%20thing/jobs/bad%20job",
            _route(Operation.DESCRIBE, "bad thing", "bad job"),
            id="names-not-validated",
        ),
    ],
)
def test_routes(method: str, path: str, expected: HttpsRoute) -> None:
    assert route_https_request(method, path) == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/things/T1/jobs", id="post-to-collection"),
        pytest.param("PUT", "/things/T1/jobs/J1", id="put-a-job"),
        pytest.param("DELETE", "/things/T1/jobs/J1", id="delete"),
        pytest.param("GET", "/things/T1", id="too-short"),
        pytest.param("GET", "/things/T1/jobs/J1/x", id="too-long"),
        pytest.param("GET", "/thing/T1/jobs", id="not-things"),
        pytest.param("GET", "/things/T1/job/J1", id="not-jobs"),
    ],
)
def test_no_route(method: str, path: str) -> None:
    assert route_https_request(method, path) is None


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        pytest.param(
            _route(Operation.GET_PENDING, "bad thing", None), b"", "thing name", id="thing"
        ),
        pytest.param(_route(Operation.DESCRIBE, "T1", "bad job"), b"", "job id", id="job"),
        pytest.param(
            _route(Operation.UPDATE, "T1", "$next"),
            b'{"status":"SUCCEEDED"}',
            "job id",
            id="update-of-next",
        ),
        pytest.param(_route(Operation.UPDATE, "T1", "J1"), b"{}", "status", id="body"),
    ],
)
def test_a_routed_call_is_validated(route: HttpsRoute, body: bytes, message: str) -> None:
    with pytest.raises(JobsError) as caught:
        decode_routed_request(route, {}, body)
    assert caught.value.code is JobsErrorCode.INVALID_REQUEST
    assert message in caught.value.message


def test_a_routed_update_decodes_its_body() -> None:
    route = route_https_request("POST", "/things/T1/jobs/J1")
    assert route is not None
    body = b'{"status":"IN_PROGRESS","statusDetails":{"step":"1"},"expectedVersion":"2"}'
    assert decode_routed_request(route, {}, body) == UpdateRequest(
        job_id="J1",
        status=ExecutionStatus.IN_PROGRESS,
        status_details={"step": "1"},
        expected_version=2,
    )


# Mostly ASCII (control characters included), and some of everything else.
_VALUES = st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=1, max_size=30) | st.text(
    min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(_VALUES)
def test_a_detail_value_is_refused_exactly_when_it_holds_a_c_category_character(
    value: str,
) -> None:
    members = {"status": "IN_PROGRESS", "statusDetails": {"k": value}}
    if any(unicodedata.category(char).startswith("C") for char in value):
        with pytest.raises(JobsError, match=r"statusDetails\.k") as caught:
            request_from_members(Operation.UPDATE, "J1", members)
        assert caught.value.code is JobsErrorCode.INVALID_REQUEST
    else:
        request = request_from_members(Operation.UPDATE, "J1", members)
        assert isinstance(request, UpdateRequest)
        assert request.status_details == {"k": value}
