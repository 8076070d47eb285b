"""The REST API pipeline for one botocore service model, with no I/O.

    ApiRequest ─▶ route (model's requestUri) ─▶ SigV4 ─▶ 404 if no route ─▶ kwargs from
    path, query, headers, body ─▶ authorize(ApiCall) ─▶ target.<snake_case operation>(**kwargs)
    ─▶ ApiResponse

The target is any object whose methods are named as boto3 names the operations
(`botocore.xform_name`: CreateJob → create_job), take the model's member names as keyword
arguments, return a dict in the output shape (timestamps as `datetime`) and raise `AwsError`
(docs/emulator.md, "Control plane"). The pipeline owns nothing of the operations, so the same
class serves `iot` now and `iot-jobs-data` later, with another model and target.

Choices (not AWS behaviour, since AWS implements every operation it routes):
- An operation of the model that the target does not implement, or a parameter the target's
  method does not accept, answers 501 `NotImplementedException`: a status AWS IoT never sends
  (so a test cannot mistake it for an AWS answer) and one botocore does not retry.
- A path that matches no operation answers 404 `UnknownOperationException`, but only after the
  signature check, so an unsigned probe learns nothing about routes.
- A body over `max_body_bytes` is not read and answers 400 `InvalidRequestException` before the
  signature check (which would need the body).
- An exception other than AwsError inside an operation answers 500 `InternalFailureException`
  and logs one line on `simfleet.emulator.http`; the server keeps serving.
- Authorization (`authorize`, e.g. IAM policies: `simfleet.emulator.iam`) judges the call once
  its arguments are known, since IAM resources come from them (`job/{jobId}`): a request too
  malformed to have arguments answers 400 whoever sends it, as AWS validates input first. A
  refusal is the AwsError the authorizer raises (403 AccessDeniedException); the target is
  not called. Without `authorize`, every caller whose signature checks out is allowed.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import botocore.session  # type: ignore[import-untyped]

from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.emulator.http.counters import OK, UNROUTED, RequestCounters
from simfleet.emulator.http.errors import UnsupportedModelError
from simfleet.emulator.http.inputs import check_model_inputs, operation_kwargs
from simfleet.emulator.http.messages import (
    ApiCall,
    ApiRequest,
    ApiResponse,
    Caller,
    QueryPairs,
    parse_query,
)
from simfleet.emulator.http.outputs import Encoded, check_model_outputs, encode_error, encode_result
from simfleet.emulator.http.routing import RouteMatch, Router
from simfleet.emulator.http.sigv4 import SigV4Verifier

logger = logging.getLogger("simfleet.emulator.http")

# CreateJob's document may be 32 KB (spec §7), several times that once JSON-escaped; 1 MiB
# leaves room for any control-plane request and bounds what one client can make us buffer.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
NOT_IMPLEMENTED = "NotImplementedException"
REQUEST_ID_HEADER = "x-amzn-RequestId"
_INTERNAL = AwsError(
    "InternalFailureException", "The emulator failed to process the request; see its log.", 500
)


@functools.cache
def service_model(name: str) -> Any:
    """botocore's service model for `name` ("iot", "iot-jobs-data"), loaded once."""
    return botocore.session.get_session().get_service_model(name)


class AuthorizeCall(Protocol):
    def __call__(self, call: ApiCall, /) -> None:
        """Return if `call.caller` may make this call; raise AwsError (403) if not."""
        ...


@dataclass(frozen=True, kw_only=True)
class _Method:
    function: Callable[..., object]
    accepts: frozenset[str] | None  # None: the method takes **kwargs
    required: frozenset[str]


def _describe(function: Callable[..., object]) -> _Method:
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        accepts = None
    else:
        accepts = frozenset(
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
    required = frozenset(
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )
    return _Method(function=function, accepts=accepts, required=required)


def _log_failure(operation: str, error: Exception) -> None:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    message = str(error).replace("\n", "\\n")
    logger.error("%s failed: %s: %s%s", operation, type(error).__name__, message, where)


class RestJsonApi:
    """Answers requests for the operations of one rest-json service model, signed by SigV4."""

    def __init__(
        self,
        model: Any,
        target: object,
        verifier: SigV4Verifier,
        *,
        counters: RequestCounters | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        authorize: AuthorizeCall | None = None,
    ) -> None:
        if model.protocol != "rest-json":
            raise UnsupportedModelError(f"{model.service_name}: protocol {model.protocol!r}")
        for name in model.operation_names:
            operation = model.operation_model(name)
            check_model_inputs(operation)
            check_model_outputs(operation)
        self._model = model
        self._router = Router(model)
        self._target = target
        self._verifier = verifier
        self._counters = counters if counters is not None else RequestCounters()
        self._max_body_bytes = max_body_bytes
        self._authorize = authorize
        self._methods: dict[str, _Method | None] = {}

    @property
    def counters(self) -> RequestCounters:
        return self._counters

    @property
    def max_body_bytes(self) -> int:
        return self._max_body_bytes

    def handle(self, request: ApiRequest) -> ApiResponse:
        """The answer to one request; never raises."""
        operation = UNROUTED
        caller: Caller | None = None
        outcome = OK
        try:
            query = parse_query(request.raw_query)
            match = self._router.match(request.method, request.raw_path, query)
            if match is not None:
                operation = match.operation.name
            if request.oversized:
                raise invalid_request(
                    f"The request body is larger than {self._max_body_bytes} bytes."
                )
            caller = self._verifier.verify(request)
            if match is None:
                raise AwsError(
                    "UnknownOperationException",
                    f"No {self._model.service_name} operation matches "
                    f"{request.method} {request.raw_path}.",
                    404,
                )
            encoded = self._call(match, request, query, caller)
        except AwsError as error:
            encoded, outcome = encode_error(error), error.code
        except Exception as error:  # a bug, ours or the target's: answer it, keep serving
            _log_failure(operation, error)
            encoded, outcome = encode_error(_INTERNAL), _INTERNAL.code
        self._counters.record(operation, outcome)
        return ApiResponse(
            status=encoded.status,
            headers={**encoded.headers, REQUEST_ID_HEADER: str(uuid.uuid4())},
            body=encoded.body,
            operation=None if operation == UNROUTED else operation,
            outcome=outcome,
            caller=caller,
        )

    def _call(
        self, match: RouteMatch, request: ApiRequest, query: QueryPairs, caller: Caller
    ) -> Encoded:
        operation = match.operation
        kwargs = operation_kwargs(match, request, query)
        if self._authorize is not None:
            self._authorize(
                ApiCall(
                    caller=caller,
                    service=self._model.service_name,
                    operation=operation.name,
                    arguments=MappingProxyType(kwargs),
                    source_ip=request.source_ip,
                )
            )
        method = self._method(operation.name)
        if method.accepts is not None:
            unexpected = set(kwargs) - method.accepts
            if unexpected:
                raise AwsError(
                    NOT_IMPLEMENTED,
                    f"{operation.name}: the emulator does not implement "
                    f"{', '.join(sorted(unexpected))}.",
                    501,
                )
        missing = method.required - set(kwargs)
        if missing:
            raise invalid_request(f"{operation.name} requires {', '.join(sorted(missing))}.")
        result = method.function(**kwargs)
        return encode_result(operation, result)

    def _method(self, operation: str) -> _Method:
        if operation not in self._methods:
            function = getattr(self._target, botocore.xform_name(operation), None)
            self._methods[operation] = _describe(function) if callable(function) else None
        method = self._methods[operation]
        if method is None:
            raise AwsError(
                NOT_IMPLEMENTED,
                f"The emulator does not implement {self._model.service_name} {operation}.",
                501,
            )
        return method


def control_plane_api(
    target: object,
    *,
    credentials: Mapping[str, str],
    region: str,
    clock: Clock,
    counters: RequestCounters | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    authorize: AuthorizeCall | None = None,
) -> RestJsonApi:
    """The AWS IoT control plane (`iot`, SigV4 service `iot`) in front of `target`.

    `authorize` judges each signed call before the target sees it (IAM policies:
    `simfleet.emulator.iam.IamAuthorizer.authorize_call`); None allows every known key."""
    model = service_model("iot")
    verifier = SigV4Verifier(credentials, region=region, service=model.signing_name, clock=clock)
    return RestJsonApi(
        model,
        target,
        verifier,
        counters=counters,
        max_body_bytes=max_body_bytes,
        authorize=authorize,
    )
