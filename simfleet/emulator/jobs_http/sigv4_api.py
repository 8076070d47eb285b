"""The Jobs HTTPS API for SigV4 callers (spec §2, AWS's 443): what an unmodified
`boto3.client("iot-jobs-data", endpoint_url=...)` calls.

`RestJsonApi` does the HTTP (routing by botocore's model, SigV4, arguments, output shapes,
errors); `JobsDataTarget` is its target: each snake_case method authorizes the caller, turns
the model's arguments into the same `JobsRequest` a device's call decodes to (validated by the
same `request_from_members`), asks the Jobs core, and returns the HTTPS body members
(`jobDocument` a JSON string, `approximateSecondsBeforeTimedOut`, no timestamp or clientToken).

Authorization is the `Authorize` seam: `authorize(caller, "iotjobsdata:<Op>",
"arn:aws:iot:{region}:{account}:thing/{name}")`, every caller allowed until IAM policies are
evaluated (issue #4, item 4); a refusal is 403 AccessDeniedException. `RestJsonApi` does not
pass the caller to its target, so the verifier remembers who signed the request being handled:
`handle` is synchronous from signature check to target call, and one request is handled at a
time on the event loop.

StartCommandExecution (in the same model, not a Jobs operation) answers 501, as `RestJsonApi`
answers any operation its target lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.emulator.http import (
    ApiRequest,
    ApiResponse,
    Caller,
    RequestCounters,
    RestJsonApi,
    SigV4Verifier,
    service_model,
)
from simfleet.emulator.jobs_http.errors import iam_denied
from simfleet.emulator.jobs_http.ports import Authorize, JobsHandler
from simfleet.emulator.policy import DenialCounter, JobsApi
from simfleet.jobs import NEXT_JOB_ID, JobsError, Operation
from simfleet.jobs.requests import request_from_members
from simfleet.jobs.responses import message_members
from simfleet.jobs.topics import is_valid_job_id, is_valid_thing_name

SERVICE = "iot-jobs-data"


class _RememberingVerifier(SigV4Verifier):
    """A SigV4Verifier that keeps the caller of the request being handled, for the target."""

    caller: Caller | None = None

    def verify(self, request: ApiRequest) -> Caller:
        self.caller = super().verify(request)
        return self.caller


class JobsDataTarget:
    """The four iot-jobs-data operations as `RestJsonApi` calls them (model member names)."""

    def __init__(
        self,
        jobs: JobsHandler,
        *,
        callers: _RememberingVerifier,
        authorize: Authorize,
        arn_prefix: str,
        denials: DenialCounter,
    ) -> None:
        self._jobs = jobs
        self._callers = callers
        self._authorize = authorize
        self._arn_prefix = arn_prefix
        self._denials = denials

    def get_pending_job_executions(self, *, thingName: str) -> dict[str, Any]:
        return self._call(JobsApi.GET_PENDING_JOB_EXECUTIONS, thingName, None, {})

    def start_next_pending_job_execution(
        self,
        *,
        thingName: str,
        statusDetails: Mapping[str, str] | None = None,
        stepTimeoutInMinutes: int | None = None,
    ) -> dict[str, Any]:
        members = {"statusDetails": statusDetails, "stepTimeoutInMinutes": stepTimeoutInMinutes}
        return self._call(JobsApi.START_NEXT_PENDING_JOB_EXECUTION, thingName, None, members)

    def describe_job_execution(
        self,
        *,
        jobId: str,
        thingName: str,
        includeJobDocument: bool | None = None,
        executionNumber: int | None = None,
    ) -> dict[str, Any]:
        members = {"includeJobDocument": includeJobDocument, "executionNumber": executionNumber}
        return self._call(JobsApi.DESCRIBE_JOB_EXECUTION, thingName, jobId, members)

    def update_job_execution(
        self,
        *,
        jobId: str,
        thingName: str,
        status: str,
        statusDetails: Mapping[str, str] | None = None,
        stepTimeoutInMinutes: int | None = None,
        expectedVersion: int | None = None,
        includeJobExecutionState: bool | None = None,
        includeJobDocument: bool | None = None,
        executionNumber: int | None = None,
    ) -> dict[str, Any]:
        members = {
            "status": status,
            "statusDetails": statusDetails,
            "stepTimeoutInMinutes": stepTimeoutInMinutes,
            "expectedVersion": expectedVersion,
            "includeJobExecutionState": includeJobExecutionState,
            "includeJobDocument": includeJobDocument,
            "executionNumber": executionNumber,
        }
        return self._call(JobsApi.UPDATE_JOB_EXECUTION, thingName, jobId, members)

    def _call(
        self, api: JobsApi, thing_name: str, job_id: str | None, members: Mapping[str, object]
    ) -> dict[str, Any]:
        caller = self._callers.caller
        if caller is None:  # RestJsonApi verifies before it calls; anything else is a bug
            raise RuntimeError("a Jobs operation was called without a verified caller")
        action = f"iotjobsdata:{api.value}"
        resource = f"{self._arn_prefix}thing/{thing_name}"
        if not self._authorize(caller, action, resource):
            self._denials.record(action)
            raise iam_denied(
                f"User: {caller.access_key_id} is not authorized to perform: {action} on "
                f"resource: {resource}"
            )
        # The checks decode_https_request makes on the path (spec §2, §3, §5).
        if not is_valid_thing_name(thing_name):
            raise invalid_request(f"invalid thing name {thing_name!r}")
        operation = _OPERATIONS[api]
        if job_id is not None and not (
            is_valid_job_id(job_id) or (job_id == NEXT_JOB_ID and operation is Operation.DESCRIBE)
        ):
            raise invalid_request(f"invalid job id {job_id!r}")
        present = {name: value for name, value in members.items() if value is not None}
        try:
            request = request_from_members(operation, job_id, present, with_client_token=False)
            accepted = self._jobs.handle_request(thing_name, request)
        except JobsError as error:
            https = error.code.https
            raise AwsError(https.error_type, error.message, https.status) from None
        return message_members(accepted, https=True)


_OPERATIONS = {
    JobsApi.GET_PENDING_JOB_EXECUTIONS: Operation.GET_PENDING,
    JobsApi.START_NEXT_PENDING_JOB_EXECUTION: Operation.START_NEXT,
    JobsApi.DESCRIBE_JOB_EXECUTION: Operation.DESCRIBE,
    JobsApi.UPDATE_JOB_EXECUTION: Operation.UPDATE,
}


class SigV4JobsApi:
    """`handle(ApiRequest) -> ApiResponse` for callers without a client certificate."""

    def __init__(
        self,
        jobs: JobsHandler,
        *,
        credentials: Mapping[str, str],
        region: str,
        arn_prefix: str,
        clock: Clock,
        authorize: Authorize,
        counters: RequestCounters,
        denials: DenialCounter,
        max_body_bytes: int,
    ) -> None:
        model = service_model(SERVICE)
        self._verifier = _RememberingVerifier(
            credentials, region=region, service=model.signing_name, clock=clock
        )
        target = JobsDataTarget(
            jobs,
            callers=self._verifier,
            authorize=authorize,
            arn_prefix=arn_prefix,
            denials=denials,
        )
        self._api = RestJsonApi(
            model, target, self._verifier, counters=counters, max_body_bytes=max_body_bytes
        )

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._api.handle(request)
        finally:
            self._verifier.caller = None
