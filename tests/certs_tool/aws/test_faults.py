"""AWS answering badly: throttling (survived), and the refusals that end a run with one clear
error and an accurate journal. Faults come from a botocore before-call hook on the client
certs-tool uses, so they reach our seam exactly as AWS's answers would."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from certs_tool import Fleet
from certs_tool.aws import (
    AwsAccessDeniedError,
    AwsCredentialsError,
    AwsEndpointError,
    AwsError,
    AwsThrottledError,
    CertificateRefusedError,
    RegisterOptions,
    RegisterReport,
    RetryPolicy,
    Stopper,
    describe_endpoints,
    journal_state,
    register_fleet,
)
from certs_tool.aws.caller import snake_case
from tests.certs_tool.aws.helpers import (
    FAST_RATES,
    FAST_RETRY,
    AwsFault,
    MotoServer,
    caller_for,
    listing,
    raw_client,
)
from tests.conftest import MakeFleet


def register(
    fleet: Fleet, url: str, fault: AwsFault | None = None, **kwargs: object
) -> RegisterReport:
    stopper = Stopper()
    caller = caller_for(url, stopper=stopper, hook=fault, **kwargs)  # type: ignore[arg-type]
    return register_fleet(fleet.root, caller, RegisterOptions(workers=8), stopper=stopper)


def test_throttling_is_retried_and_survived(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=10)
    fault = AwsFault("ThrottlingException", times=12, operation="RegisterCertificate", status=429)
    # 12 throttles among 8 threads: enough attempts that no device runs out of them.
    report = register(fleet, moto.url, fault, retry=RetryPolicy(attempts=20, base=0.005, cap=0.05))
    assert fault.answered == 12
    assert report.retried == 12
    assert report.registered == 10
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert len(held["things"]) == len(held["certificates"]) == 10


def test_endless_throttling_gives_up_with_a_clear_error(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    fleet = make_fleet(count=2)
    fault = AwsFault("ThrottlingException", times=10_000, operation="CreateThing", status=429)
    with pytest.raises(
        AwsThrottledError, match=r"CreateThing is still throttled.*lower its --rate"
    ):
        register(fleet, moto.url, fault)
    state = journal_state(fleet.root, moto.url)
    assert len(state.certificates) >= 1
    assert not state.things


@dataclass(frozen=True, kw_only=True)
class Refusal:
    code: str
    status: int
    operation: str | None  # None: every operation
    error: type[AwsError]
    message: str


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(
            Refusal(code="AccessDeniedException", status=403, operation="AttachPolicy",
                    error=AwsAccessDeniedError, message="allow the IAM action iot:AttachPolicy"),
            id="access-denied",
        ),
        pytest.param(
            Refusal(code="UnrecognizedClientException", status=403, operation=None,
                    error=AwsCredentialsError, message="AWS rejected the credentials"),
            id="bad-credentials",
        ),
        pytest.param(
            Refusal(code="CertificateValidationException", status=400,
                    operation="RegisterCertificate", error=CertificateRefusedError,
                    message=r"sim-00000\d \(.*cert.pem\): AWS refused the certificate"),
            id="certificate-refused",
        ),
        pytest.param(
            Refusal(code="InvalidRequestException", status=400, operation="CreateThing",
                    error=AwsError, message="CreateThing failed: InvalidRequestException"),
            id="other",
        ),
    ],
)  # fmt: skip
def test_refusals_end_the_run_with_one_error(
    make_fleet: MakeFleet, moto: MotoServer, refusal: Refusal
) -> None:
    fleet = make_fleet(count=3)
    fault = AwsFault(refusal.code, times=10_000, operation=refusal.operation, status=refusal.status)
    with pytest.raises(refusal.error, match=refusal.message) as raised:
        register(fleet, moto.url, fault)
    assert raised.value.code == refusal.code
    if isinstance(raised.value, AwsAccessDeniedError):
        assert raised.value.iam_action == "iot:AttachPolicy"
    # Whatever AWS did accept is journaled, nothing more.
    state = journal_state(fleet.root, moto.url)
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert sorted(state.things) == sorted(held["things"])
    assert sorted(c.id for c in state.certificates.values()) == sorted(held["certificates"])


def test_an_endpoint_that_does_not_answer(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=1)
    with pytest.raises(AwsEndpointError, match=r"cannot reach http://127.0.0.1:9 .*--endpoint-url"):
        register(fleet, "http://127.0.0.1:9")


def test_missing_credentials(
    make_fleet: MakeFleet, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCredentialsError, match="no usable AWS credentials"):
        register(make_fleet(count=1), moto.url)


def test_the_limiter_holds_real_calls_to_their_rate(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    fleet = make_fleet(count=9)
    rates = {**FAST_RATES, "RegisterCertificate": 20.0}
    started = time.monotonic()
    register(fleet, moto.url, rates=rates, retry=FAST_RETRY)
    # 9 certificates at 20/s: the first at once, the last 8/20 s later, whatever the threads.
    assert time.monotonic() - started >= 8 / 20


def test_endpoints_and_locust_options(moto: MotoServer) -> None:
    endpoints = describe_endpoints(caller_for(moto.url))
    assert endpoints.data_ats.endswith("-ats.iot.us-east-1.amazonaws.com")
    assert ".jobs.iot.us-east-1." in endpoints.jobs
    assert endpoints.locust_options() == (
        f"--host mqtts://{endpoints.data_ats}:8883 --jobs-host https://{endpoints.jobs}:8443 "
        "--ca-file AmazonRootCA1.pem --region us-east-1"
    )


def test_method_names_are_boto3s() -> None:
    from botocore import xform_name  # type: ignore[import-untyped]

    for operation in (*FAST_RATES, "DescribeEndpoint", "GetRegistrationCode"):
        assert snake_case(operation) == xform_name(operation)
