"""SigV4 verification of an incoming request, with botocore's own signer (spec §7).

The request is rebuilt as a `botocore.awsrequest.AWSRequest` holding exactly what the client
signed (method, encoded path, query, the headers named in `SignedHeaders`, body) and the
signature is computed with `botocore.auth.SigV4Auth`: canonicalization and key derivation are
botocore's, none is written here.

The timestamp: `SigV4Auth.add_auth` reads the wall clock and rewrites the date headers, which
a verifier must not do. Its public steps (`canonical_request`, `string_to_sign`, `signature`)
read the timestamp from `request.context["timestamp"]`, the slot `add_auth` fills; we fill it
with the request's own `X-Amz-Date` and call those steps. No patching of `datetime` and no
private attribute. Freshness is checked separately against our injected `Clock`.

Limit: botocore leaves some headers out of every signature (`SIGNED_HEADERS_BLACKLIST`:
user-agent, expect, …); a client other than botocore that signs one of them is refused.

Answers, all 403, named as AWS names them (GitHub threads quoting real AWS answers):
- no `Authorization` header: MissingAuthenticationTokenException "Missing Authentication Token"
  (403 in smarty-archives/go-aws-auth #48).
- an `Authorization` header that is not SigV4 or lacks a part, no `X-Amz-Date`, or `host` not
  signed: IncompleteSignatureException.
- unknown access key id, or any session token (the emulator issues none):
  UnrecognizedClientException "The security token included in the request is invalid."
  (AWS IoT in MicrochipTech/aws-iot-zero-touch-secure-provisioning-kit #7; 403 from a
  rest-json service in iann0036/iamlive #58).
- wrong signature: InvalidSignatureException "The request signature we calculated does not
  match…" (the IoT control plane, 403, in aws/aws-sdk-js-v3 #1569); the same code for a
  credential scope naming another region or service, or another date than `X-Amz-Date`
  (aws/aws-sdk-js #4097, #4545), and for a request time more than 5 minutes off:
  "Signature expired: … is now earlier than … (… - 5 min.)" (aws/aws-sdk-js #254) or
  "Signature not yet current: … is still later than … (… + 5 min.)".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.compat import HTTPHeaders  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError
from simfleet.emulator.http.messages import ApiRequest, Caller, parse_query

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# AWS accepts a request time up to 5 minutes from its own clock, either way.
DEFAULT_MAX_SKEW_SECONDS = 300.0
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
# SigV4Auth needs some URL to take the path from; the host it signs is the Host header.
_URL_PREFIX = "https://signed.invalid"


def _forbidden(code: str, message: str) -> AwsError:
    return AwsError(code, message, 403)


def _incomplete(message: str) -> AwsError:
    return _forbidden("IncompleteSignatureException", message)


def _invalid(message: str) -> AwsError:
    return _forbidden("InvalidSignatureException", message)


@dataclass(frozen=True, kw_only=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _parse_authorization(value: str) -> _Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, equals, field_value = part.strip().partition("=")
        if equals:
            fields[key] = field_value
    missing = [
        name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)
    ]
    if missing:
        raise _incomplete(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            "e.g. keyid/date/region/service/term."
        )
    return _Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(name.strip().lower() for name in fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def _format_amz_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(AMZ_DATE_FORMAT)


def _parse_amz_date(value: str) -> float:
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


class SigV4Verifier:
    """Checks SigV4 signatures for one service in one region, for several credential pairs.

    `credentials` maps access key id → secret access key (one pair per IAM principal).
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        region: str,
        service: str,
        clock: Clock,
        max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
    ) -> None:
        self._credentials = MappingProxyType(dict(credentials))
        self._region = region
        self._service = service
        self._clock = clock
        self._max_skew = max_skew_seconds

    def verify(self, request: ApiRequest) -> Caller:
        """The caller who signed `request`, or AwsError(403) saying what is wrong."""
        authorization = request.header("authorization")
        if authorization is None:
            raise _forbidden("MissingAuthenticationTokenException", "Missing Authentication Token")
        auth = _parse_authorization(authorization)
        secret = self._credentials.get(auth.access_key_id)
        if secret is None or request.header("x-amz-security-token") is not None:
            raise _forbidden(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = request.header("x-amz-date")
        if amz_date is None:
            raise _incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header."
            )
        signed_at = _parse_amz_date(amz_date)
        if auth.date != amz_date[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if auth.region != self._region:
            raise _invalid(f"Credential should be scoped to a valid region, not '{auth.region}'.")
        if auth.service != self._service:
            raise _invalid(f"Credential should be scoped to correct service: '{self._service}'.")
        self._check_time(amz_date, signed_at)
        if "host" not in auth.signed_headers:
            raise _incomplete(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        expected = self._signature(request, auth, secret, amz_date)
        # Constant time: the signature is the only part derived from the secret.
        if expected is None or not hmac.compare_digest(expected, auth.signature):
            raise _invalid(_MISMATCH)
        return Caller(access_key_id=auth.access_key_id)

    def _check_time(self, amz_date: str, signed_at: float) -> None:
        now = self._clock.now()
        minutes = f"{self._max_skew / 60:g} min."
        if signed_at < now - self._max_skew:
            raise _invalid(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_format_amz_date(now - self._max_skew)} ({_format_amz_date(now)} - {minutes})"
            )
        if signed_at > now + self._max_skew:
            raise _invalid(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_format_amz_date(now + self._max_skew)} ({_format_amz_date(now)} + {minutes})"
            )

    def _signature(
        self, request: ApiRequest, auth: _Authorization, secret: str, amz_date: str
    ) -> str | None:
        """botocore's signature of what the client signed; None if a signed header is absent."""
        headers = HTTPHeaders()
        for name in auth.signed_headers:
            values = request.headers.get(name)
            if values is None:
                return None
            for value in values:
                headers[name] = value  # HTTPHeaders appends: repeated headers stay repeated
        content_sha256 = headers.get("x-amz-content-sha256")
        # botocore signs a declared payload hash instead of hashing the body; hold the client
        # to it, or a signed request could carry any body.
        if (
            content_sha256 is not None
            and content_sha256 != hashlib.sha256(request.body).hexdigest()
        ):
            return None
        aws_request = AWSRequest(
            method=request.method,
            url=_URL_PREFIX + request.raw_path,
            data=request.body,
            # Decoded pairs: botocore re-encodes them canonically (RFC 3986), as AWS does.
            params=list(parse_query(request.raw_query)),
        )
        aws_request.headers = headers
        aws_request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(auth.access_key_id, secret), self._service, self._region)
        canonical = signer.canonical_request(aws_request)
        signature: str = signer.signature(
            signer.string_to_sign(aws_request, canonical), aws_request
        )
        return signature
