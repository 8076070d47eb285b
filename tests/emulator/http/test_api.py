"""RestJsonApi without sockets: who called, what the target receives, how each failure is
answered and counted, and which models it refuses to serve."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import (
    NOT_IMPLEMENTED,
    ApiRequest,
    RequestCounters,
    RestJsonApi,
    SigV4Verifier,
    UnsupportedModelError,
    control_plane_api,
    service_model,
)
from tests.emulator.http.samples import (
    botocore_request,
    signed,
    synthetic_description,
    synthetic_model,
)

KEYS = {"AKIDONE": "secret-one", "AKIDTWO": "secret-two"}


def _iot_request(operation: str, params: dict[str, Any], *, key_id: str = "AKIDONE") -> ApiRequest:
    model = service_model("iot").operation_model(operation)
    return signed(
        botocore_request(model, params),
        key_id=key_id,
        secret=KEYS[key_id],
        service="iot",
        region="us-east-1",
    )


def _api(target: object, counters: RequestCounters | None = None) -> RestJsonApi:
    return control_plane_api(
        target,
        credentials=KEYS,
        region="us-east-1",
        clock=ManualClock(time.time()),
        counters=counters,
    )


class Things:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def describe_thing(self, *, thingName: str) -> dict[str, Any]:
        self.received.append({"thingName": thingName})
        return {"thingName": thingName, "version": 3}

    def list_things(self, **kwargs: Any) -> dict[str, Any]:
        self.received.append(kwargs)
        return {"things": []}

    def create_thing(self, *, thingName: str, thingTypeName: str) -> dict[str, Any]:
        return {"thingName": thingName}

    delete_thing = "not callable"

    def describe_job(self, *, jobId: str) -> dict[str, Any]:
        return {"job": {"jobId": jobId, "createdAt": datetime(2025, 1, 1)}}


def test_the_caller_is_on_the_response() -> None:
    api = _api(Things())
    for key_id in KEYS:
        answer = api.handle(_iot_request("DescribeThing", {"thingName": "t"}, key_id=key_id))
        assert answer.status == 200
        assert answer.caller is not None
        assert answer.caller.access_key_id == key_id
        assert answer.operation == "DescribeThing"
        assert answer.outcome == "ok"
    unsigned = ApiRequest(method="GET", target="/things/t")
    answer = api.handle(unsigned)
    assert (answer.status, answer.caller, answer.outcome) == (
        403,
        None,
        "MissingAuthenticationTokenException",
    )


def test_every_answer_has_its_own_request_id() -> None:
    api = _api(Things())
    request = _iot_request("DescribeThing", {"thingName": "t"})
    ids = {api.handle(request).headers["x-amzn-RequestId"] for _ in range(5)}
    ids.add(api.handle(ApiRequest(method="GET", target="/")).headers["x-amzn-RequestId"])
    assert len(ids) == 6


def test_a_method_taking_kwargs_receives_every_member_sent() -> None:
    things = Things()
    api = _api(things)
    params = {
        "maxResults": 3,
        "attributeName": "a",
        "attributeValue": "v",
        "usePrefixAttributeValue": True,
    }
    assert api.handle(_iot_request("ListThings", params)).status == 200
    assert things.received == [params]


@pytest.mark.parametrize(
    ("operation", "params", "status", "code"),
    [
        pytest.param(
            "DeleteThing", {"thingName": "t"}, 501, NOT_IMPLEMENTED, id="attribute-not-callable"
        ),
        pytest.param("ListThingTypes", {}, 501, NOT_IMPLEMENTED, id="missing-method"),
        pytest.param(
            "CreateThing",
            {"thingName": "t"},
            400,
            "InvalidRequestException",
            id="method-requires-an-optional-member",
        ),
    ],
)
def test_what_the_target_cannot_do(
    operation: str, params: dict[str, Any], status: int, code: str
) -> None:
    answer = _api(Things()).handle(_iot_request(operation, params))
    assert (answer.status, answer.headers["x-amzn-ErrorType"]) == (status, code)
    assert operation in json.loads(answer.body)["message"]


def test_naive_datetimes_are_utc() -> None:
    answer = _api(Things()).handle(_iot_request("DescribeJob", {"jobId": "j"}))
    created = json.loads(answer.body)["job"]["createdAt"]
    assert created == datetime(2025, 1, 1, tzinfo=UTC).timestamp()


def test_failures_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def describe_thing(self, *, thingName: str) -> dict[str, Any]:
            raise KeyError(thingName)

    counters = RequestCounters()
    api = _api(Broken(), counters)
    with caplog.at_level(logging.ERROR, logger="simfleet.emulator.http"):
        answer = api.handle(_iot_request("DescribeThing", {"thingName": "t"}))
    assert answer.status == 500
    assert answer.outcome == "InternalFailureException"
    assert counters.snapshot() == {"DescribeThing": {"InternalFailureException": 1}}
    assert [record.getMessage() for record in caplog.records] == [
        f"DescribeThing failed: KeyError: 't' at {__file__}:{_line_of('raise KeyError')}"
    ]


def _line_of(text: str) -> int:
    with open(__file__, encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if text in line and "_line_of" not in line:
                return number
    raise AssertionError(text)


def test_oversized_requests_are_refused_before_anything_else() -> None:
    api = _api(Things())
    request = _iot_request("DescribeThing", {"thingName": "t"})
    answer = api.handle(ApiRequest(method=request.method, target=request.target, oversized=True))
    assert (answer.status, answer.outcome, answer.operation) == (
        400,
        "InvalidRequestException",
        "DescribeThing",
    )


def test_another_service_model() -> None:
    class Widgets:
        def put_items(self, *, name: str, **members: Any) -> None:
            self.seen = (name, members)

    widgets = Widgets()
    model = synthetic_model()
    verifier = SigV4Verifier(
        KEYS, region="eu-west-3", service="widgets", clock=ManualClock(time.time())
    )
    api = RestJsonApi(model, widgets, verifier)
    params = {"name": "w1", "count": 2, "labels": {"a": "b"}}
    request = signed(
        botocore_request(model.operation_model("PutItems"), params),
        key_id="AKIDTWO",
        secret="secret-two",
        service="widgets",
        region="eu-west-3",
    )
    answer = api.handle(request)
    assert (answer.status, answer.body) == (200, b"")
    assert widgets.seen == ("w1", {"count": 2, "labels": {"a": "b"}})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param(lambda: service_model("sts"), "protocol 'query'", id="not-rest-json"),
        pytest.param(
            lambda: _patched_synthetic("location", "statusCode"),
            "location 'statusCode' is not supported",
            id="input-location",
        ),
        pytest.param(
            lambda: _patched_synthetic("type", "document"),
            "types ['document'] are not supported",
            id="member-type",
        ),
    ],
)
def test_models_it_cannot_serve(model: Any, message: str) -> None:
    verifier = SigV4Verifier(KEYS, region="us-east-1", service="x", clock=ManualClock())
    with pytest.raises(UnsupportedModelError, match=message.replace("[", r"\[")):
        RestJsonApi(model(), object(), verifier)


def _patched_synthetic(key: str, value: str) -> Any:
    description = synthetic_description()
    description["shapes"]["PutItemsInput"]["members"]["count"] = (
        {"shape": "Integer", "location": value} if key == "location" else {"shape": "Weird"}
    )
    description["shapes"]["Weird"] = {"type": value}
    return synthetic_model(description)
