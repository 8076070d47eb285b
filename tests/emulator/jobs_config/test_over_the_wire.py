"""The new members and operations through the control plane's REST pipeline, without sockets:
botocore serializes and signs each request as boto3 would, RestJsonApi routes it to the real
ControlPlane, and botocore parses the answer (doubles, query flags, path numbers, errors)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import HeadersDict  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import RestJsonApi, control_plane_api, service_model
from tests.emulator.http.samples import as_api_request, botocore_request
from tests.emulator.jobs_config.helpers import REGION, State, arn, device, status

KEY_ID, SECRET = "AKIDSIMFLEETCONFIG", "config-secret"


class Wire:
    """boto3's side of the pipeline: call(operation, **params) -> parsed answer."""

    def __init__(self, state: State) -> None:
        # SigV4 checks the signing time against real time; the jobs run on the test's clock.
        self.api: RestJsonApi = control_plane_api(
            state.control,
            credentials={KEY_ID: SECRET},
            region=REGION,
            clock=ManualClock(time.time()),
        )

    def call(self, operation: str, **params: Any) -> tuple[int, dict[str, Any]]:
        model = service_model("iot").operation_model(operation)
        request = botocore_request(model, params)
        SigV4Auth(Credentials(KEY_ID, SECRET), "iot", REGION).add_auth(request)
        response = self.api.handle(as_api_request(request))
        headers = HeadersDict()
        for name, value in response.headers.items():
            headers[name] = value
        parsed = create_parser("rest-json").parse(
            {"status_code": response.status, "headers": headers, "body": response.body},
            model.output_shape,
        )
        parsed.pop("ResponseMetadata", None)
        return response.status, dict(parsed)


@pytest.fixture
def wire(state: State) -> Wire:
    return Wire(state)


def test_configs_travel_and_come_back(wire: Wire, state: State, things: list[str]) -> None:
    config = {
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 500,
            "exponentialRate": {
                "baseRatePerMinute": 20,
                "incrementFactor": 1.5,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 10},
            },
        },
        "abortConfig": {
            "criteriaList": [
                {
                    "failureType": "ALL",
                    "action": "CANCEL",
                    "thresholdPercentage": 12.5,
                    "minNumberOfExecutedThings": 3,
                }
            ]
        },
        "timeoutConfig": {"inProgressTimeoutInMinutes": 45},
        "jobExecutionsRetryConfig": {
            "criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 2}]
        },
    }
    created = wire.call(
        "CreateJob",
        jobId="job-1",
        targets=[arn("thing", things[0])],
        document="{}",
        targetSelection="CONTINUOUS",
        **config,
    )
    assert created[0] == 200
    code, described = wire.call("DescribeJob", jobId="job-1")
    assert code == 200
    assert {member: described["job"][member] for member in config} == config
    assert described["job"]["targetSelection"] == "CONTINUOUS"

    timeout = {"inProgressTimeoutInMinutes": 5}
    assert wire.call("UpdateJob", jobId="job-1", description="v2", timeoutConfig=timeout) == (
        200,
        {},
    )
    job = wire.call("DescribeJob", jobId="job-1")[1]["job"]
    assert (job["description"], job["timeoutConfig"]) == ("v2", timeout)


def test_cancel_and_delete_an_execution(wire: Wire, state: State, things: list[str]) -> None:
    thing = things[0]
    wire.call("CreateJob", jobId="job-1", targets=[arn("thing", thing)], document="{}")
    device(state, thing, "start-next")
    code, answer = wire.call("CancelJobExecution", jobId="job-1", thingName=thing)
    assert (code, answer["Error"]["Code"]) == (409, "InvalidStateTransitionException")
    code, answer = wire.call(
        "CancelJobExecution",
        jobId="job-1",
        thingName=thing,
        force=True,
        expectedVersion=1,
    )
    assert (code, answer["Error"]["Code"]) == (409, "VersionConflictException")
    assert wire.call(
        "CancelJobExecution",
        jobId="job-1",
        thingName=thing,
        force=True,
        expectedVersion=2,
        statusDetails={"by": "operator"},
    ) == (200, {})
    assert status(state, "job-1", thing) == "CANCELED"
    assert wire.call("DeleteJobExecution", jobId="job-1", thingName=thing, executionNumber=1) == (
        200,
        {},
    )
    code, answer = wire.call(
        "DeleteJobExecution", jobId="job-1", thingName=thing, executionNumber=1, force=True
    )
    assert (code, answer["Error"]["Code"]) == (404, "ResourceNotFoundException")


def test_an_out_of_range_rate_is_refused_by_name(wire: Wire, things: list[str]) -> None:
    code, answer = wire.call(
        "CreateJob",
        jobId="job-1",
        targets=[arn("thing", things[0])],
        document="{}",
        jobExecutionsRolloutConfig={"maximumPerMinute": 1001},
    )
    assert (code, answer["Error"]["Code"]) == (400, "InvalidRequestException")
    assert "jobExecutionsRolloutConfig.maximumPerMinute" in answer["Error"]["Message"]
