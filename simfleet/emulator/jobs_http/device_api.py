"""The Jobs HTTPS API for devices on mutual TLS (spec §2, AWS's 8443), with no I/O.

    DeviceCall ─▶ principal (certificate id, ACTIVE) ─▶ route (method, path) ─▶ IoT Core
    policy on thing/{thingName} ─▶ body limit ─▶ decode (simfleet.jobs.https) ─▶ the Jobs
    core (JobsService.handle_request) ─▶ ApiResponse

The order [U]: who you are, what you call, whether you may, then whether the request is well
formed, so a device learns nothing its policy does not let it ask (not even whether a call on
another thing's path would be valid). The answers:

    certificate not registered, or not ACTIVE          400 CertificateValidationException [U]
    no operation at method + path (unknown, wrong)     404 UnknownOperationException [U]
    policy denies iotjobsdata:<Op> on thing/{thing}    403 ForbiddenException [U]
    body over the limit                                400 InvalidRequestException
    bad JSON or member, unknown job, stale version...  spec §2's table (simfleet.jobs.https)
    a bug of ours (logged)                             503 ServiceUnavailableException
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from simfleet.emulator.errors import AwsError
from simfleet.emulator.http import ApiResponse, RequestCounters
from simfleet.emulator.http.counters import OK, UNROUTED
from simfleet.emulator.http.messages import parse_query
from simfleet.emulator.jobs_http.devices import DeviceAuthorizers
from simfleet.emulator.jobs_http.errors import body_too_large, policy_denied, unknown_operation
from simfleet.emulator.jobs_http.ports import JobsHandler
from simfleet.emulator.jobs_http.request_ids import RequestIds
from simfleet.emulator.policy import JobsApi
from simfleet.jobs import JobsError, JobsErrorCode, Operation
from simfleet.jobs.https import (
    ERROR_TYPE_HEADER,
    HttpsRoute,
    decode_routed_request,
    encode_https_error,
    encode_https_response,
    route_https_request,
)

logger = logging.getLogger("simfleet.emulator.jobs_http")

JSON_CONTENT_TYPE = "application/json"
REQUEST_ID_HEADER = "x-amzn-RequestId"
# Spec §2: ServiceUnavailableException (503) is the model's only fault.
_INTERNAL = JobsError(
    JobsErrorCode.INTERNAL_ERROR, "The emulator failed to process the request; see its log."
)


@dataclass(frozen=True, kw_only=True)
class DeviceCall:
    """One request of a caller whose client certificate TLS verified.

    `target` is the request target as sent (percent-encoded path, then `?query`).
    `oversized`: the body went past the limit and was not read (`body` is then empty).
    `certificate_id`: the certificate's id (`der_certificate_id(certificate_der)`) when the
    driver already has it, None to have it computed.
    """

    certificate_der: bytes
    source_ip: str | None
    method: str
    target: str
    body: bytes = b""
    oversized: bool = False
    certificate_id: str | None = None


# The policy action of each operation (spec §4: `iotjobsdata:<Operation>`).
_APIS = {
    Operation.GET_PENDING: JobsApi.GET_PENDING_JOB_EXECUTIONS,
    Operation.START_NEXT: JobsApi.START_NEXT_PENDING_JOB_EXECUTION,
    Operation.DESCRIBE: JobsApi.DESCRIBE_JOB_EXECUTION,
    Operation.UPDATE: JobsApi.UPDATE_JOB_EXECUTION,
}


def _first_values(raw_query: str) -> dict[str, str]:
    """The query as a mapping; a repeated key keeps its first value."""
    found: dict[str, str] = {}
    for key, value in parse_query(raw_query):
        found.setdefault(key, value)
    return found


class DeviceApi:
    """Answers the calls of devices; never raises."""

    def __init__(
        self,
        jobs: JobsHandler,
        authorizers: DeviceAuthorizers,
        *,
        arn_prefix: str,
        max_body_bytes: int,
        counters: RequestCounters,
    ) -> None:
        self._jobs = jobs
        self._authorizers = authorizers
        self._arn_prefix = arn_prefix
        self._max_body_bytes = max_body_bytes
        self._counters = counters
        self._request_ids = RequestIds()

    def handle(self, call: DeviceCall) -> ApiResponse:
        path, _, raw_query = call.target.partition("?")
        # Routed once, by the codec that decodes the call (simfleet.jobs.https).
        route = route_https_request(call.method, path)
        operation = UNROUTED if route is None else _APIS[route.operation].value
        try:
            status, headers, body, outcome = 200, {}, self._answer(call, route, path, raw_query), OK
        except AwsError as error:
            status, outcome = error.status, error.code
            headers, body = {ERROR_TYPE_HEADER: error.code}, _message(error.message)
        except JobsError as error:
            https, body = encode_https_error(error)
            status, outcome = https.status, https.error_type
            headers = {ERROR_TYPE_HEADER: https.error_type}
        except Exception:  # a bug, ours or the core's: answer it, keep serving
            logger.exception("%s failed", operation)
            https, body = encode_https_error(_INTERNAL)
            status, outcome = https.status, https.error_type
            headers = {ERROR_TYPE_HEADER: https.error_type}
        self._counters.record(operation, outcome)
        headers["Content-Type"] = JSON_CONTENT_TYPE
        headers[REQUEST_ID_HEADER] = self._request_ids.next()
        return ApiResponse(
            status=status,
            headers=headers,
            body=body,
            operation=None if route is None else operation,
            outcome=outcome,
        )

    def _answer(
        self, call: DeviceCall, route: HttpsRoute | None, path: str, raw_query: str
    ) -> bytes:
        authorizer = self._authorizers.authorizer(
            call.certificate_der, call.source_ip, call.certificate_id
        )
        if isinstance(authorizer, AwsError):
            raise authorizer
        if route is None:
            raise unknown_operation(call.method, path)
        api = _APIS[route.operation]
        if not self._authorizers.can_call_jobs(authorizer, api, route.thing_name):
            raise policy_denied(
                f"The certificate's policies do not allow iotjobsdata:{api.value} on "
                f"{self._arn_prefix}thing/{route.thing_name}."
            )
        if call.oversized:
            raise body_too_large(self._max_body_bytes)
        # Only DescribeJobExecution reads its query.
        query = _first_values(raw_query) if route.operation is Operation.DESCRIBE else {}
        request = decode_routed_request(route, query, call.body)
        return encode_https_response(self._jobs.handle_request(route.thing_name, request))


def _message(message: str) -> bytes:
    return json.dumps({"message": message}, separators=(",", ":")).encode()
