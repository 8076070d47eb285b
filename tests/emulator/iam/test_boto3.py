"""IAM over the network: real TLS, unmodified boto3 clients, a real ControlPlane and Jobs
HTTPS API. An operator allowed CreateJob but not CancelJob gets AccessDeniedException on the
latter and nothing is canceled (issue #4, "Tests"); the administrator may do both; an unknown
key is still UnrecognizedClientException; a service allowed `iotjobsdata:*` on one thing is
refused on another."""

from __future__ import annotations

import json

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.emulator.iam.conftest import ADMIN_KEY, OPERATOR_KEY, SERVICE_KEY
from tests.emulator.iam.helpers import Served, arn, user_arn

DOCUMENT = json.dumps({"operation": "reboot"})


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_operator_may_create_a_job_but_not_cancel_it(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    operator = served.client(boto_session, "iot", OPERATOR_KEY)
    created = operator.create_job(
        jobId="op-job", targets=[arn("thing", things[1])], document=DOCUMENT
    )
    assert created["jobArn"] == arn("job", "op-job")

    with pytest.raises(ClientError) as excinfo:
        operator.cancel_job(jobId="op-job", force=True)
    assert _error(excinfo) == (
        "AccessDeniedException",
        403,
        f"User: {user_arn('operator')} is not authorized to perform: iot:CancelJob on "
        f"resource: {arn('job', 'op-job')} because no identity-based policy allows the "
        "iot:CancelJob action",
    )
    # Nothing was canceled: the job and its execution are as CreateJob left them.
    assert operator.describe_job(jobId="op-job")["job"]["status"] == "IN_PROGRESS"
    admin = served.client(boto_session, "iot", ADMIN_KEY)
    execution = admin.describe_job_execution(jobId="op-job", thingName=things[1])
    assert execution["execution"]["status"] == "QUEUED"
    assert served.iam.denials.snapshot() == {"iot:CancelJob": 1}
    assert served.api.counters.count("CancelJob", "AccessDeniedException") == 1


def test_the_operator_is_refused_what_it_was_not_given(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    operator = served.client(boto_session, "iot", OPERATOR_KEY)
    with pytest.raises(ClientError) as excinfo:
        operator.list_jobs()
    assert _error(excinfo)[:2] == ("AccessDeniedException", 403)
    assert "iot:ListJobs on resource: * " in _error(excinfo)[2]


def test_the_administrator_may_create_and_cancel(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    admin = served.client(boto_session, "iot", ADMIN_KEY)
    admin.create_job(jobId="admin-job", targets=[arn("thing", things[2])], document=DOCUMENT)
    admin.cancel_job(jobId="admin-job")
    assert admin.describe_job(jobId="admin-job")["job"]["status"] == "CANCELED"
    assert served.iam.denials.total == 0


def test_an_unknown_key_is_still_unrecognized(
    served: Served, boto_session: boto3.session.Session
) -> None:
    stranger = served.client(boto_session, "iot", "AKIASIMFLEETNOBODY00")
    with pytest.raises(ClientError) as excinfo:
        stranger.list_jobs()
    assert _error(excinfo)[:2] == ("UnrecognizedClientException", 403)
    assert served.iam.denials.total == 0


def test_a_service_allowed_one_thing_is_refused_another(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    mine, other = things[0], things[3]
    admin = served.client(boto_session, "iot", ADMIN_KEY)
    admin.create_job(
        jobId="data-job", targets=[arn("thing", mine), arn("thing", other)], document=DOCUMENT
    )
    service = served.client(boto_session, "iot-jobs-data", SERVICE_KEY)

    pending = service.get_pending_job_executions(thingName=mine)
    assert [summary["jobId"] for summary in pending["queuedJobs"]] == ["data-job"]
    started = service.start_next_pending_job_execution(thingName=mine)
    assert started["execution"]["status"] == "IN_PROGRESS"

    with pytest.raises(ClientError) as excinfo:
        service.get_pending_job_executions(thingName=other)
    assert _error(excinfo)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as excinfo:
        service.update_job_execution(thingName=other, jobId="data-job", status="SUCCEEDED")
    assert _error(excinfo)[:2] == ("AccessDeniedException", 403)
    # The other thing's execution is untouched.
    execution = admin.describe_job_execution(jobId="data-job", thingName=other)
    assert execution["execution"]["status"] == "QUEUED"
    assert served.jobs_server.counters.iam_denials.snapshot() == {
        "iotjobsdata:GetPendingJobExecutions": 1,
        "iotjobsdata:UpdateJobExecution": 1,
    }

    # The administrator's key works on the Jobs data plane too, for every thing.
    admin_data = served.client(boto_session, "iot-jobs-data", ADMIN_KEY)
    assert admin_data.get_pending_job_executions(thingName=other)["queuedJobs"]
