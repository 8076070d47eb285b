"""The HTTP layer against botocore's own client code, for every operation of the `iot` and
`iot-jobs-data` models and of a synthetic model covering what they do not use: what botocore's
serializer sends routes back to the operation and decodes to the parameters given, and what
we encode, botocore's parser reads back as the result we returned."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]

from simfleet.emulator.errors import AwsError
from simfleet.emulator.http import Router, service_model
from simfleet.emulator.http.inputs import operation_kwargs
from simfleet.emulator.http.messages import parse_query
from simfleet.emulator.http.outputs import encode_error, encode_result
from tests.emulator.http.samples import (
    as_api_request,
    botocore_request,
    parse_with_botocore,
    sample_input,
    sample_output,
    synthetic_model,
)

MODELS = [
    pytest.param(lambda: service_model("iot"), id="iot"),
    pytest.param(lambda: service_model("iot-jobs-data"), id="iot-jobs-data"),
    pytest.param(synthetic_model, id="synthetic"),
]


@pytest.mark.parametrize("load", MODELS)
def test_every_request_routes_and_decodes_to_its_parameters(load: Any) -> None:
    model: ServiceModel = load()
    router = Router(model)
    mismatches: dict[str, Any] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        params = sample_input(operation)
        request = as_api_request(botocore_request(operation, params))
        query = parse_query(request.raw_query)
        match = router.match(request.method, request.raw_path, query)
        if match is None or match.operation.name != name:
            mismatches[name] = ("routed to", match and match.operation.name, request.target)
            continue
        kwargs = operation_kwargs(match, request, query)
        if kwargs != params:
            mismatches[name] = (kwargs, params)
    assert mismatches == {}
    assert len(model.operation_names) >= 4


@pytest.mark.parametrize("load", MODELS)
def test_every_result_reads_back_in_botocore(load: Any) -> None:
    model: ServiceModel = load()
    mismatches: dict[str, Any] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        result = sample_output(operation)
        encoded = encode_result(operation, result)
        if operation.output_shape is None:
            if encoded.body != b"":
                mismatches[name] = encoded.body
            continue
        parsed = parse_with_botocore(operation, encoded)
        if parsed != result:
            mismatches[name] = (parsed, result)
    assert mismatches == {}


def test_iot_timestamps_are_epoch_seconds() -> None:
    operation = service_model("iot").operation_model("DescribeJob")
    result = sample_output(operation)
    body = encode_result(operation, result).body
    expected = int(result["job"]["createdAt"].timestamp())
    assert f'"createdAt":{expected}'.encode() in body


def test_query_constants_are_not_arguments() -> None:
    operation = synthetic_model().operation_model("GetVersions")
    params = {"name": "w", "path": "a/b", "extra": {"k": ["1", "2"]}}
    request = as_api_request(botocore_request(operation, params))
    assert "versions" in request.raw_query
    query = parse_query(request.raw_query)
    match = Router(synthetic_model()).match(request.method, request.raw_path, query)
    assert match is not None
    assert operation_kwargs(match, request, query) == params


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AwsError("ResourceNotFoundException", "Job j not found", 404), id="404"),
        pytest.param(AwsError("InvalidRequestException", 'bad "quote" é', 400), id="400"),
        pytest.param(AwsError("ThrottlingException", "slow down", 429), id="429"),
        pytest.param(AwsError("NotImplementedException", "no", 501), id="501"),
    ],
)
def test_errors_read_back_in_botocore(error: AwsError) -> None:
    encoded = encode_error(error)
    operation = service_model("iot").operation_model("DescribeJob")
    parsed = create_parser("rest-json").parse(
        {
            "status_code": encoded.status,
            "headers": {name.lower(): value for name, value in encoded.headers.items()},
            "body": encoded.body,
        },
        operation.output_shape,
    )
    assert parsed["Error"] == {"Code": error.code, "Message": error.message}
    assert encoded.status == error.status
