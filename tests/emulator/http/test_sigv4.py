"""SigV4Verifier, without sockets: requests signed by botocore's client-side signer, then
verified, tampered with, or signed with the wrong scope, key or time."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.errors import AwsError
from simfleet.emulator.http import ApiRequest, Caller, SigV4Verifier
from tests.emulator.http.samples import ENDPOINT, as_api_request

KEYS = {"AKIDONE": "secret-one", "AKIDTWO": "secret-two"}
REGION = "us-east-1"
SERVICE = "iot"


def _verifier(clock: ManualClock | None = None) -> SigV4Verifier:
    return SigV4Verifier(
        KEYS, region=REGION, service=SERVICE, clock=clock or ManualClock(time.time())
    )


def _signed(
    method: str = "PUT",
    target: str = "/jobs/j-1?force=true",
    body: bytes = b'{"comment": "x"}',
    *,
    key_id: str = "AKIDONE",
    secret: str | None = None,
    region: str = REGION,
    service: str = SERVICE,
    headers: dict[str, str] | None = None,
) -> ApiRequest:
    request = AWSRequest(
        method=method,
        url=ENDPOINT + target,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    credentials = Credentials(key_id, secret if secret is not None else KEYS.get(key_id, "x"))
    SigV4Auth(credentials, service, region).add_auth(request)
    return as_api_request(request)


def _rejection(request: ApiRequest, verifier: SigV4Verifier | None = None) -> tuple[str, str]:
    with pytest.raises(AwsError) as excinfo:
        (verifier or _verifier()).verify(request)
    assert excinfo.value.status == 403
    return excinfo.value.code, excinfo.value.message


def _with_header(request: ApiRequest, name: str, value: str | None) -> ApiRequest:
    headers = dict(request.headers)
    if value is None:
        headers.pop(name, None)
    else:
        headers[name] = (value,)
    return dataclasses.replace(request, headers=headers)


def test_a_botocore_signed_request_verifies() -> None:
    assert _verifier().verify(_signed()) == Caller(access_key_id="AKIDONE")


def test_each_principal_is_named() -> None:
    assert _verifier().verify(_signed(key_id="AKIDTWO")) == Caller(access_key_id="AKIDTWO")


def test_unsigned_headers_may_be_added() -> None:
    request = _with_header(_signed(), "user-agent", "something else")
    assert _verifier().verify(_with_header(request, "x-extra", "1")).access_key_id == "AKIDONE"


def test_repeated_signed_headers() -> None:
    request = AWSRequest(method="GET", url=ENDPOINT + "/things", data=b"")
    request.headers["X-Custom"] = "a"
    request.headers["X-Custom"] = "b"  # HTTPHeaders appends: the header is sent twice
    SigV4Auth(Credentials("AKIDONE", "secret-one"), SERVICE, REGION).add_auth(request)
    # From the unprepared request: botocore's prepared form would fold the repeat away.
    api_request = ApiRequest.from_pairs(
        method="GET",
        target="/things",
        headers=[*request.headers.items(), ("Host", "127.0.0.1:8443")],
    )
    assert api_request.headers["x-custom"] == ("a", "b")
    assert _verifier().verify(api_request).access_key_id == "AKIDONE"
    swapped = _with_header(api_request, "x-custom", "b,a")
    assert _rejection(swapped)[0] == "InvalidSignatureException"


Tamper = Callable[[ApiRequest], ApiRequest]
_AUTH = "authorization"


def _auth(request: ApiRequest) -> str:
    return request.headers[_AUTH][0]


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        pytest.param(
            lambda r: dataclasses.replace(r, method="POST"),
            "InvalidSignatureException",
            id="method",
        ),
        pytest.param(
            lambda r: dataclasses.replace(r, target="/jobs/j-2?force=true"),
            "InvalidSignatureException",
            id="path",
        ),
        pytest.param(
            lambda r: dataclasses.replace(r, target="/jobs/j-1?force=false"),
            "InvalidSignatureException",
            id="query-value",
        ),
        pytest.param(
            lambda r: dataclasses.replace(r, target="/jobs/j-1?force=true&x=1"),
            "InvalidSignatureException",
            id="query-added",
        ),
        pytest.param(
            lambda r: dataclasses.replace(r, body=b'{"comment": "y"}'),
            "InvalidSignatureException",
            id="body",
        ),
        pytest.param(
            lambda r: _with_header(r, "content-type", "text/plain"),
            "InvalidSignatureException",
            id="signed-header-value",
        ),
        pytest.param(
            lambda r: _with_header(r, "host", "elsewhere:1"), "InvalidSignatureException", id="host"
        ),
        pytest.param(
            lambda r: _with_header(r, "content-type", None),
            "InvalidSignatureException",
            id="signed-header-removed",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, _auth(r)[:-1] + ("0" if _auth(r)[-1] != "0" else "1")),
            "InvalidSignatureException",
            id="signature-digit",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, _auth(r).replace("content-type;", "")),
            "InvalidSignatureException",
            id="fewer-signed-headers",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, _auth(r).replace("host;", "")),
            "IncompleteSignatureException",
            id="host-not-signed",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, None),
            "MissingAuthenticationTokenException",
            id="no-authorization",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, "Bearer abc"),
            "IncompleteSignatureException",
            id="not-sigv4",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, _auth(r).split(", Signature=")[0]),
            "IncompleteSignatureException",
            id="no-signature-part",
        ),
        pytest.param(
            lambda r: _with_header(r, _AUTH, _auth(r).replace("/aws4_request", "/aws5_request")),
            "IncompleteSignatureException",
            id="bad-scope-terminator",
        ),
        pytest.param(
            lambda r: _with_header(r, "x-amz-date", None),
            "IncompleteSignatureException",
            id="no-date",
        ),
        pytest.param(
            lambda r: _with_header(r, "x-amz-date", "yesterday"),
            "IncompleteSignatureException",
            id="unparsable-date",
        ),
        pytest.param(
            lambda r: _with_header(r, "x-amz-security-token", "token"),
            "UnrecognizedClientException",
            id="session-token",
        ),
    ],
)
def test_tampered_requests_are_rejected(tamper: Tamper, code: str) -> None:
    original = _signed()
    assert _verifier().verify(original).access_key_id == "AKIDONE"
    assert _rejection(tamper(original))[0] == code


@pytest.mark.parametrize(
    ("signing", "code", "message"),
    [
        pytest.param(
            {"secret": "not-the-secret"},
            "InvalidSignatureException",
            "The request signature we calculated does not match",
            id="wrong-secret",
        ),
        pytest.param(
            {"key_id": "AKIDTWO", "secret": "secret-one"},
            "InvalidSignatureException",
            "The request signature we calculated does not match",
            id="another-principals-secret",
        ),
        pytest.param(
            {"key_id": "AKIDNOBODY"},
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            id="unknown-key",
        ),
        pytest.param(
            {"region": "eu-west-1"},
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-1'.",
            id="region",
        ),
        pytest.param(
            {"service": "iot-jobs-data"},
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'iot'.",
            id="service",
        ),
    ],
)
def test_wrong_credentials_or_scope(signing: dict[str, Any], code: str, message: str) -> None:
    found_code, found_message = _rejection(_signed(**signing))
    assert found_code == code
    assert found_message.startswith(message)


def test_scope_date_must_be_the_request_date() -> None:
    request = _signed()
    date = request.headers["x-amz-date"][0][:8]
    other = "19990101" if date != "19990101" else "19990102"
    code, message = _rejection(_with_header(request, _AUTH, _auth(request).replace(date, other)))
    assert code == "InvalidSignatureException"
    assert message.startswith("Date in Credential scope does not match")


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(-299.0, None, id="299s-early-ok"),
        pytest.param(299.0, None, id="299s-late-ok"),
        pytest.param(301.0, "Signature expired: ", id="301s-old"),
        pytest.param(-301.0, "Signature not yet current: ", id="301s-in-the-future"),
    ],
)
def test_request_time_within_five_minutes(offset: float, expected: str | None) -> None:
    request = _signed()
    signed_at = time.mktime(time.strptime(request.headers["x-amz-date"][0], "%Y%m%dT%H%M%SZ"))
    signed_at -= time.timezone  # mktime reads local time; X-Amz-Date is UTC
    verifier = _verifier(ManualClock(signed_at + offset))
    if expected is None:
        assert verifier.verify(request).access_key_id == "AKIDONE"
    else:
        code, message = _rejection(request, verifier)
        assert code == "InvalidSignatureException"
        assert message.startswith(expected)
        assert message.endswith("5 min.)")


def test_declared_payload_hash_must_match_the_body() -> None:
    body = b'{"comment": "x"}'
    good = _signed(body=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert _verifier().verify(good).access_key_id == "AKIDONE"
    # Signed honestly over a declared hash, then sent with another body.
    lying = dataclasses.replace(good, body=b'{"comment": "y"}')
    assert _rejection(lying)[0] == "InvalidSignatureException"
    unsigned_payload = _signed(body=body, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert _rejection(unsigned_payload)[0] == "InvalidSignatureException"


_SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12
)
_QUERY = st.lists(st.tuples(_SEGMENT, st.text(max_size=8)), max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]),
    segments=st.lists(_SEGMENT, min_size=1, max_size=4),
    query=_QUERY,
    body=st.binary(max_size=64),
    flip=st.integers(min_value=0, max_value=63),
)
def test_any_botocore_signed_request_verifies_and_any_body_change_fails(
    method: str, segments: list[str], query: list[tuple[str, str]], body: bytes, flip: int
) -> None:
    # Paths and queries encoded as botocore's serializer does (RFC 3986 unreserved kept).
    path = "/" + "/".join(quote(segment, safe="-_.~") for segment in segments)
    query_string = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" for key, value in query
    )
    target = path + (f"?{query_string}" if query_string else "")
    request = _signed(method, target, body)
    assert _verifier().verify(request).access_key_id == "AKIDONE"
    if body:
        changed = bytearray(body)
        changed[flip % len(body)] ^= 0x01
        assert _rejection(dataclasses.replace(request, body=bytes(changed)))[0] == (
            "InvalidSignatureException"
        )
