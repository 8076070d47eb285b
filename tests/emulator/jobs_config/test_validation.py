"""CreateJob's configuration members against AWS's ranges (botocore's `iot` model and the API
reference): out of range is InvalidRequestException (400) naming the member, and nothing is
created; the edges are accepted and DescribeJob answers them in the model's Job shape."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.model import Shape, StructureShape  # type: ignore[import-untyped]

from simfleet.emulator.errors import AwsError
from tests.emulator.jobs_config.helpers import DOCUMENT, State, arn

MODEL = botocore.session.get_session().get_service_model("iot")

ROLLOUT = "jobExecutionsRolloutConfig"
ABORT = "abortConfig"
TIMEOUT = "timeoutConfig"
RETRY = "jobExecutionsRetryConfig"


def _exponential(**changes: Any) -> dict[str, Any]:
    rate: dict[str, Any] = {
        "baseRatePerMinute": 10,
        "incrementFactor": 2,
        "rateIncreaseCriteria": {"numberOfNotifiedThings": 10},
    }
    rate.update(changes)
    return {ROLLOUT: {"exponentialRate": {k: v for k, v in rate.items() if v is not None}}}


def _abort(**changes: Any) -> dict[str, Any]:
    criterion: dict[str, Any] = {
        "failureType": "FAILED",
        "action": "CANCEL",
        "thresholdPercentage": 10,
        "minNumberOfExecutedThings": 5,
    }
    criterion.update(changes)
    return {ABORT: {"criteriaList": [{k: v for k, v in criterion.items() if v is not None}]}}


def _retry(*criteria: tuple[str, int]) -> dict[str, Any]:
    return {
        RETRY: {"criteriaList": [{"failureType": t, "numberOfRetries": n} for t, n in criteria]}
    }


def _timeout(minutes: object) -> dict[str, Any]:
    return {TIMEOUT: {"inProgressTimeoutInMinutes": minutes}}


REFUSED = [
    pytest.param({ROLLOUT: {"maximumPerMinute": 0}}, "maximumPerMinute", id="rate-0"),
    pytest.param({ROLLOUT: {"maximumPerMinute": 1001}}, "maximumPerMinute", id="rate-1001"),
    pytest.param({ROLLOUT: {"maximumPerMinute": 1.5}}, "maximumPerMinute", id="rate-fraction"),
    pytest.param({ROLLOUT: {"maximumPerMinute": True}}, "maximumPerMinute", id="rate-bool"),
    pytest.param({ROLLOUT: "fast"}, ROLLOUT, id="rollout-not-a-structure"),
    pytest.param(_exponential(baseRatePerMinute=0), "baseRatePerMinute", id="base-0"),
    pytest.param(_exponential(baseRatePerMinute=1001), "baseRatePerMinute", id="base-1001"),
    pytest.param(_exponential(baseRatePerMinute=None), "baseRatePerMinute", id="base-missing"),
    pytest.param(_exponential(incrementFactor=1.0), "incrementFactor", id="factor-1.0"),
    pytest.param(_exponential(incrementFactor=5.1), "incrementFactor", id="factor-5.1"),
    pytest.param(_exponential(incrementFactor=1.55), "incrementFactor", id="factor-two-decimals"),
    pytest.param(_exponential(incrementFactor=None), "incrementFactor", id="factor-missing"),
    pytest.param(_exponential(rateIncreaseCriteria={}), "rateIncreaseCriteria", id="no-criteria"),
    pytest.param(
        _exponential(rateIncreaseCriteria={"numberOfSucceededThings": 0}),
        "numberOfSucceededThings",
        id="succeeded-0",
    ),
    pytest.param({ABORT: {"criteriaList": []}}, "criteriaList", id="abort-empty"),
    pytest.param({ABORT: {}}, "criteriaList", id="abort-no-list"),
    pytest.param(_abort(failureType="SOMETIMES"), "failureType", id="abort-type"),
    pytest.param(_abort(action="PAUSE"), "action", id="abort-action"),
    pytest.param(_abort(action=None), "action", id="abort-no-action"),
    pytest.param(_abort(thresholdPercentage=100.01), "thresholdPercentage", id="threshold-over"),
    pytest.param(_abort(thresholdPercentage=-1), "thresholdPercentage", id="threshold-negative"),
    pytest.param(
        _abort(thresholdPercentage=10.999), "thresholdPercentage", id="threshold-3-decimals"
    ),
    pytest.param(_abort(minNumberOfExecutedThings=0), "minNumberOfExecutedThings", id="min-0"),
    pytest.param(
        {ABORT: {"criteriaList": [_abort()[ABORT]["criteriaList"][0]] * 2}},
        "failureType",
        id="abort-twice",
    ),
    pytest.param(_timeout(0), "inProgressTimeoutInMinutes", id="timeout-0"),
    pytest.param(_timeout(10081), "inProgressTimeoutInMinutes", id="timeout-10081"),
    pytest.param(_timeout(-1), "inProgressTimeoutInMinutes", id="timeout-minus-1"),
    pytest.param(_retry(("FAILED", 11)), "numberOfRetries", id="retries-11"),
    pytest.param(_retry(("FAILED", -1)), "numberOfRetries", id="retries-negative"),
    pytest.param(_retry(("REJECTED", 1)), "failureType", id="retry-rejected"),
    pytest.param(_retry(("FAILED", 6), ("TIMED_OUT", 5)), "numberOfRetries", id="retries-sum"),
    pytest.param(
        _retry(("FAILED", 1), ("TIMED_OUT", 1), ("ALL", 1)), "criteriaList", id="retry-three"
    ),
    pytest.param(_retry(("FAILED", 1), ("FAILED", 2)), "failureType", id="retry-twice"),
    pytest.param({RETRY: {"criteriaList": []}}, "criteriaList", id="retry-empty"),
]


@pytest.mark.parametrize(("config", "member"), REFUSED)
def test_out_of_range_configs_are_refused(
    state: State, things: list[str], config: dict[str, Any], member: str
) -> None:
    with pytest.raises(AwsError) as raised:
        state.control.create_job(
            jobId="job-1", targets=[arn("thing", things[0])], document=DOCUMENT, **config
        )
    assert (raised.value.code, raised.value.status) == ("InvalidRequestException", 400)
    assert member in raised.value.message
    assert state.control.list_jobs()["jobs"] == []
    assert state.published == []


ACCEPTED = [
    pytest.param({ROLLOUT: {"maximumPerMinute": 1}}, id="rate-1"),
    pytest.param({ROLLOUT: {"maximumPerMinute": 1000}}, id="rate-1000"),
    pytest.param(_exponential(incrementFactor=1.1, baseRatePerMinute=1), id="factor-1.1"),
    pytest.param(_exponential(incrementFactor=5.0, baseRatePerMinute=1000), id="factor-5"),
    pytest.param(
        {
            ROLLOUT: {
                "maximumPerMinute": 500,
                "exponentialRate": {
                    "baseRatePerMinute": 50,
                    "incrementFactor": 1.5,
                    "rateIncreaseCriteria": {
                        "numberOfNotifiedThings": 100,
                        "numberOfSucceededThings": 50,
                    },
                },
            }
        },
        id="both-rates",
    ),
    pytest.param(_abort(thresholdPercentage=100.0), id="threshold-100"),
    pytest.param(_abort(thresholdPercentage=10.99, failureType="ALL"), id="threshold-10.99"),
    pytest.param(_abort(thresholdPercentage=0.0, minNumberOfExecutedThings=1), id="threshold-0"),
    pytest.param(_timeout(1), id="timeout-1"),
    pytest.param(_timeout(10080), id="timeout-10080"),
    pytest.param(_retry(("FAILED", 5), ("TIMED_OUT", 5)), id="retries-10"),
    pytest.param(_retry(("ALL", 0)), id="retries-0"),
    pytest.param({**_retry(("TIMED_OUT", 2)), **_abort(), **_timeout(30)}, id="together"),
]


@pytest.mark.parametrize("config", ACCEPTED)
def test_configs_at_the_edges_are_accepted_and_described(
    state: State, things: list[str], config: dict[str, Any]
) -> None:
    state.control.create_job(
        jobId="job-1", targets=[arn("thing", things[0])], document=DOCUMENT, **config
    )
    described = state.control.describe_job(jobId="job-1")
    _check_shape(described, MODEL.operation_model("DescribeJob").output_shape, "DescribeJob")
    assert {member: described["job"][member] for member in config} == config


def _check_shape(value: object, shape: Shape, where: str) -> None:
    """Fail unless `value` is what botocore's parser would give for `shape`."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        assert isinstance(value, dict), where
        assert set(value) <= set(shape.members), f"{where}: {set(value) - set(shape.members)}"
        for name, member in value.items():
            _check_shape(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), where
    elif kind == "timestamp":
        assert isinstance(value, datetime.datetime), where
    elif kind == "string":
        assert isinstance(value, str), where
        assert not shape.enum or value in shape.enum, where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind in ("integer", "long"):
        assert isinstance(value, int), where
        assert not isinstance(value, bool), where
    elif kind == "double":
        assert isinstance(value, float), where
    else:
        pytest.fail(f"{where}: unexpected shape type {kind}")
