"""Control-plane quotas through boto3 over TLS: a call over its API's rate is answered 400
ThrottlingException "Rate exceeded" and changes nothing, botocore's retry modes recognise it
and retry it, AWS's rates apply by default, and /metrics counts the refusals."""

from __future__ import annotations

import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from botocore.retries import standard  # type: ignore[import-untyped]

from certs_tool import Fleet
from simfleet.emulator.api_quotas import AWS_API_RATES, ApiQuotaConfig
from simfleet.emulator.clock import ManualClock
from tests.emulator.metrics.promtext import parse
from tests.emulator.registration.helpers import Running, issue, pem

_RATES: dict[str, float | None] = {"ListPolicies": 2.0, "CreatePolicy": 1.0}


@pytest.fixture
def throttled(fleet: Fleet, tmp_path: Path) -> Iterator[Running]:
    """ListPolicies at 2 per second (a bucket of 2), CreatePolicy at 1; the rest unlimited."""
    emulator = Running(fleet, tmp_path / "state", api_quotas=ApiQuotaConfig(rates=_RATES))
    yield emulator
    emulator.close()


@pytest.fixture
def frozen(fleet: Fleet, tmp_path: Path) -> Iterator[Running]:
    """The same quotas, on a clock that stands still (near the wall clock, for SigV4)."""
    clock = ManualClock(time.time())
    quotas = ApiQuotaConfig(rates=_RATES)
    emulator = Running(fleet, tmp_path / "state", api_quotas=quotas, clock=clock)
    yield emulator
    emulator.close()


def _metrics(running: Running) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=running.ready["ca_file"])
    with urllib.request.urlopen(running.ready["metrics_url"], context=context) as answer:
        return parse(answer.read().decode())


def test_a_call_over_its_rate_is_throttled_and_changes_nothing(frozen: Running) -> None:
    iot = frozen.iot()
    iot.list_policies()
    iot.list_policies()
    with pytest.raises(ClientError) as raised:
        iot.list_policies()
    response = raised.value.response
    assert response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # What botocore's standard retry mode checks: a throttling error, hence retryable.
    context = standard.RetryContext(attempt_number=1, parsed_response=response)
    assert standard.ThrottledRetryableChecker().is_retryable(context)
    # Another API has its own quota (here none).
    for _ in range(5):
        iot.list_things()

    document = (
        '{"Version": "2012-10-17",'
        ' "Statement": [{"Effect": "Deny", "Action": "iot:*", "Resource": "*"}]}'
    )
    iot.create_policy(policyName="p1", policyDocument=document)
    with pytest.raises(ClientError, match="ThrottlingException"):
        iot.create_policy(policyName="p2", policyDocument=document)
    iot.get_policy(policyName="p1")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        iot.get_policy(policyName="p2")  # the throttled call created nothing

    families = _metrics(frozen)
    throttles = families["simfleet_throttles_total"]
    assert throttles.value(quota="api:ListPolicies") == 1
    assert throttles.value(quota="api:CreatePolicy") == 1
    requests = families["simfleet_control_plane_requests_total"]
    assert requests.value(operation="ListPolicies", outcome="ThrottlingException") == 1
    assert requests.value(operation="ListPolicies", outcome="ok") == 2


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_botocore_retries_a_throttled_call(throttled: Running, mode: str) -> None:
    iot = throttled.iot(mode=mode, total_max_attempts=10)
    for _ in range(4):
        iot.list_policies()  # the last two wait for the bucket, through retries
    requests = _metrics(throttled)["simfleet_control_plane_requests_total"]
    assert requests.value(operation="ListPolicies", outcome="ok") == 4
    assert requests.value(operation="ListPolicies", outcome="ThrottlingException") >= 1


def test_aws_rates_apply_by_default(fleet: Fleet, tmp_path: Path) -> None:
    assert AWS_API_RATES["RegisterCertificateWithoutCA"] == 10.0
    # A clock that stands still (near the wall clock, for SigV4): no token comes back.
    clock = ManualClock(time.time())
    running = Running(fleet, tmp_path / "state", api_quotas=ApiQuotaConfig(), clock=clock)
    try:
        iot = running.iot()
        outcomes = []
        for index in range(12):
            try:
                iot.register_certificate_without_ca(
                    certificatePem=pem(issue(fleet, name=f"d{index}"))
                )
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        # A bucket of one second of 10 per second.
        assert outcomes == ["ok"] * 10 + ["ThrottlingException"] * 2
        clock.advance(0.1)  # a tenth of a second: one more
        iot.register_certificate_without_ca(certificatePem=pem(issue(fleet, name="late")))
        assert len(iot.list_certificates()["certificates"]) == 11
    finally:
        running.close()
