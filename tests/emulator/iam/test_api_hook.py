"""The authorization step of RestJsonApi, without sockets: between SigV4 and the target, with
the call's arguments, source address and AWS's denial answer, for `iot` and `iot-jobs-data`."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import (
    ApiCall,
    ApiRequest,
    Caller,
    RestJsonApi,
    SigV4Verifier,
    control_plane_api,
    service_model,
)
from simfleet.emulator.iam import IamAuthorizer, Principals, administrator
from tests.emulator.http.samples import ENDPOINT, botocore_request, signed
from tests.emulator.iam.helpers import ACCOUNT, REGION, arn, policy, principal, statement, user_arn

ADMIN_KEY = "AKIDIAMADMIN00000000"
OPERATOR_KEY = "AKIDIAMOPERATOR00000"
AUDITOR_KEY = "AKIDIAMAUDITOR000000"
PRINCIPALS = Principals.of(
    administrator(ADMIN_KEY, "admin-secret"),
    principal(
        "operator",
        OPERATOR_KEY,
        policy(
            statement(action=["iot:CreateJob", "iot:DescribeJob"]),
            statement(
                action="iotjobsdata:UpdateJobExecution",
                resource=arn("thing", "t1"),
                Condition={"StringLike": {"iot:JobId": "rollout-*"}},
            ),
        ),
        secret="operator-secret",
    ),
    principal(
        "auditor",
        AUDITOR_KEY,
        policy(
            statement(action="iot:*"),
            statement("Deny", action="iot:*", NotResource=arn("job", "public-*"), resource=None),
            statement(
                "Deny", Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, resource="*"
            ),
        ),
        secret="auditor-secret",
    ),
)


class Jobs:
    """A control-plane target that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def describe_job(self, *, jobId: str) -> dict[str, Any]:
        self.calls.append(f"describe {jobId}")
        return {"job": {"jobId": jobId}}

    def cancel_job(self, *, jobId: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"cancel {jobId}")
        return {"jobId": jobId}

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("list")
        return {"jobs": []}


class JobsData:
    """An iot-jobs-data target that records what reaches it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def update_job_execution(self, *, thingName: str, jobId: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"update {thingName} {jobId}")
        return {}


def _request(
    service: str, operation: str, params: dict[str, Any], key_id: str, *, source_ip: str | None
) -> ApiRequest:
    known = PRINCIPALS.by_access_key(key_id)
    assert known is not None
    model = service_model(service)
    request = signed(
        botocore_request(model.operation_model(operation), params),
        key_id=key_id,
        secret=known.secret_access_key,
        service=model.signing_name,
        region=REGION,
    )
    return dataclasses.replace(request, source_ip=source_ip)


def _control_plane(target: object) -> tuple[RestJsonApi, IamAuthorizer]:
    iam = IamAuthorizer(PRINCIPALS, region=REGION, account_id=ACCOUNT)
    api = control_plane_api(
        target,
        credentials=PRINCIPALS.credentials(),
        region=REGION,
        clock=ManualClock(time.time()),
        authorize=iam.authorize_call,
    )
    return api, iam


def _call(
    api: RestJsonApi, operation: str, params: dict[str, Any], key_id: str, *,
    service: str = "iot", source_ip: str | None = "127.0.0.1",
) -> tuple[int, str | None, str]:  # fmt: skip
    answer = api.handle(_request(service, operation, params, key_id, source_ip=source_ip))
    message = json.loads(answer.body).get("message", "") if answer.body else ""
    return answer.status, answer.headers.get("x-amzn-ErrorType"), message


def test_a_denied_call_never_reaches_the_target() -> None:
    target = Jobs()
    api, iam = _control_plane(target)
    assert _call(api, "DescribeJob", {"jobId": "j1"}, OPERATOR_KEY)[0] == 200
    assert _call(api, "CancelJob", {"jobId": "j1"}, OPERATOR_KEY) == (
        403,
        "AccessDeniedException",
        f"User: {user_arn('operator')} is not authorized to perform: iot:CancelJob on resource: "
        f"{arn('job', 'j1')} because no identity-based policy allows the iot:CancelJob action",
    )
    assert target.calls == ["describe j1"]
    assert iam.denials.snapshot() == {"iot:CancelJob": 1}
    assert api.counters.snapshot() == {
        "CancelJob": {"AccessDeniedException": 1},
        "DescribeJob": {"ok": 1},
    }


def test_a_list_operation_is_authorized_on_star() -> None:
    target = Jobs()
    api, _ = _control_plane(target)
    status, code, message = _call(api, "ListJobs", {}, OPERATOR_KEY)
    assert (status, code) == (403, "AccessDeniedException")
    assert "iot:ListJobs on resource: * because" in message
    assert _call(api, "ListJobs", {}, ADMIN_KEY)[0] == 200
    assert target.calls == ["list"]


def test_an_explicit_deny_says_so() -> None:
    target = Jobs()
    api, iam = _control_plane(target)
    assert _call(api, "CancelJob", {"jobId": "public-1"}, AUDITOR_KEY)[0] == 200
    status, code, message = _call(api, "CancelJob", {"jobId": "private-1"}, AUDITOR_KEY)
    assert (status, code) == (403, "AccessDeniedException")
    assert message.endswith(
        f"iot:CancelJob on resource: {arn('job', 'private-1')} "
        "with an explicit deny in an identity-based policy"
    )
    assert target.calls == ["cancel public-1"]
    assert iam.denials.count("iot:CancelJob") == 1


def test_the_source_address_reaches_the_conditions() -> None:
    target = Jobs()
    api, _ = _control_plane(target)
    params = {"jobId": "public-1"}
    assert _call(api, "DescribeJob", params, AUDITOR_KEY, source_ip="127.0.0.2")[0] == 200
    assert _call(api, "DescribeJob", params, AUDITOR_KEY, source_ip="192.0.2.7")[0] == 403
    # No address known: NotIpAddress holds on an absent key (IAM's rule), so the Deny applies.
    assert _call(api, "DescribeJob", params, AUDITOR_KEY, source_ip=None)[0] == 403
    assert target.calls == ["describe public-1"]


def test_authorization_comes_after_sigv4_and_input_checks() -> None:
    target = Jobs()
    api, iam = _control_plane(target)
    unsigned = ApiRequest(method="PUT", target="/jobs/j1/cancel")
    assert api.handle(unsigned).outcome == "MissingAuthenticationTokenException"
    not_json = signed(
        AWSRequest(method="PUT", url=f"{ENDPOINT}/jobs/j1/cancel", data=b"{not json"),
        key_id=OPERATOR_KEY,
        secret="operator-secret",
        service="iot",
        region=REGION,
    )
    assert api.handle(not_json).outcome == "InvalidRequestException"
    assert iam.denials.total == 0


def test_the_hook_receives_the_call() -> None:
    seen: list[ApiCall] = []
    api = control_plane_api(
        Jobs(),
        credentials=PRINCIPALS.credentials(),
        region=REGION,
        clock=ManualClock(time.time()),
        authorize=seen.append,
    )
    _call(api, "CancelJob", {"jobId": "j1", "force": True}, OPERATOR_KEY, source_ip="::1")
    assert seen == [
        ApiCall(
            caller=Caller(access_key_id=OPERATOR_KEY),
            service="iot",
            operation="CancelJob",
            arguments={"jobId": "j1", "force": True},
            source_ip="::1",
        )
    ]


def test_jobs_data_calls_carry_the_job_id() -> None:
    model = service_model("iot-jobs-data")
    iam = IamAuthorizer(PRINCIPALS, region=REGION, account_id=ACCOUNT)
    verifier = SigV4Verifier(
        PRINCIPALS.credentials(),
        region=REGION,
        service=model.signing_name,
        clock=ManualClock(time.time()),
    )
    target = JobsData()
    api = RestJsonApi(model, target, verifier, authorize=iam.authorize_call)

    def update(thing: str, job_id: str) -> tuple[int, str | None, str]:
        params = {"thingName": thing, "jobId": job_id, "status": "SUCCEEDED"}
        return _call(api, "UpdateJobExecution", params, OPERATOR_KEY, service="iot-jobs-data")

    assert update("t1", "rollout-3")[0] == 200
    assert update("t1", "hotfix-1")[:2] == (403, "AccessDeniedException")
    assert update("t2", "rollout-3")[2].endswith(
        f"iotjobsdata:UpdateJobExecution on resource: {arn('thing', 't2')} because no "
        "identity-based policy allows the iotjobsdata:UpdateJobExecution action"
    )
    assert target.calls == ["update t1 rollout-3"]
    assert iam.denials.snapshot() == {"iotjobsdata:UpdateJobExecution": 2}
