"""Must-fail cases of the control plane's front door: TLS trust and SigV4, over the network."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any

import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError, SSLError  # type: ignore[import-untyped]

from tests.emulator.http.conftest import OTHER_KEY_ID, OTHER_SECRET, SECRET, Running


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_unsigned_request_is_403(running: Running) -> None:
    answer = running.raw("GET", "/jobs", sign=False)
    assert answer.status == 403
    assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert json.loads(answer.body) == {"message": "Missing Authentication Token"}
    assert running.plane.calls == []
    assert running.api.counters.count("ListJobs", "MissingAuthenticationTokenException") == 1


def test_unsigned_request_to_an_unknown_route_is_still_403(running: Running) -> None:
    # Authentication comes first: an unsigned probe learns nothing about routes.
    assert running.raw("GET", "/secret-admin", sign=False).status == 403


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        pytest.param(
            {"secret": "wrong-secret"}, ("InvalidSignatureException", 403), id="wrong-secret"
        ),
        pytest.param(
            {"key_id": "AKIDUNKNOWN000000000"},
            ("UnrecognizedClientException", 403),
            id="unknown-access-key",
        ),
        pytest.param(
            {"key_id": OTHER_KEY_ID, "secret": SECRET},
            ("InvalidSignatureException", 403),
            id="another-principals-secret",
        ),
        pytest.param(
            {"region": "eu-west-1"}, ("InvalidSignatureException", 403), id="wrong-region"
        ),
    ],
)
def test_wrongly_signed_calls_are_403(
    running: Running, credentials: dict[str, str], expected: tuple[str, int]
) -> None:
    iot = running.client(**credentials)
    with pytest.raises(ClientError) as excinfo:
        iot.list_jobs()
    assert _error(excinfo) == expected
    assert running.plane.calls == []


def test_every_known_principal_may_call(running: Running) -> None:
    listed = running.client(key_id=OTHER_KEY_ID, secret=OTHER_SECRET).list_jobs()
    assert listed["jobs"] == []


def test_stale_signature_is_403(running: Running) -> None:
    iot = running.client()
    assert iot.list_jobs()["jobs"] == []
    running.clock.advance(301)  # the server's clock is now 5 minutes past boto3's
    with pytest.raises(ClientError) as excinfo:
        iot.list_jobs()
    assert _error(excinfo) == ("InvalidSignatureException", 403)
    assert excinfo.value.response["Error"]["Message"].startswith("Signature expired: ")


def test_chosen_old_x_amz_date_is_403(running: Running) -> None:
    old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(running.clock.now() - 3600))
    answer = running.raw("GET", "/jobs", amz_date=old)
    assert answer.status == 403
    assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert json.loads(answer.body)["message"].startswith(f"Signature expired: {old} is now")
    fresh = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(running.clock.now()))
    assert running.raw("GET", "/jobs", amz_date=fresh).status == 200


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"send_target": "/jobs?maxResults=3"}, id="query"),
        pytest.param({"send_target": "/jobs?maxResults=2&status=CANCELED"}, id="added-query"),
        pytest.param({"send_target": "/jobx?maxResults=2"}, id="path"),
        pytest.param({"send_body": b'{"a": 2}'}, id="body"),
    ],
)
def test_tampered_request_is_403(running: Running, tamper: dict[str, Any]) -> None:
    untouched = running.raw("GET", "/jobs?maxResults=2", body=b'{"a": 1}')
    assert untouched.status == 200
    answer = running.raw("GET", "/jobs?maxResults=2", body=b'{"a": 1}', **tamper)
    assert answer.status == 403
    assert answer.headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_untrusted_server_certificate_is_refused(running: Running) -> None:
    # The fleet CA is not a system CA: a client without it must refuse the server.
    connection = http.client.HTTPSConnection(
        "127.0.0.1", running.port, context=ssl.create_default_context(), timeout=10
    )
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            connection.request("GET", "/jobs")
    finally:
        connection.close()


def test_boto3_without_the_ca_fails(running: Running) -> None:
    iot = running.session.client(
        "iot",
        endpoint_url=running.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}),
    )
    try:
        with pytest.raises(SSLError):
            iot.list_jobs()
    finally:
        iot.close()
