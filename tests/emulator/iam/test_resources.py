"""What IAM checks for each call: one table per service, covering every operation the
ControlPlane implements, with member names that exist in botocore's models."""

from __future__ import annotations

from typing import Any

import pytest

from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import service_model
from simfleet.emulator.iam import requested_call
from simfleet.emulator.iam.resources import CONTROL_PLANE, JOBS_DATA_PLANE, Arns, Named
from simfleet.emulator.registry_control import REGISTRATION_OPERATIONS
from tests.emulator.iam.helpers import ARN, arn

JOBS_DATA_OPERATIONS = {
    "DescribeJobExecution",
    "GetPendingJobExecutions",
    "StartNextPendingJobExecution",
    "UpdateJobExecution",
}


def test_the_control_plane_table_covers_the_control_plane() -> None:
    assert set(CONTROL_PLANE) == set(ControlPlane.OPERATIONS) | set(REGISTRATION_OPERATIONS)
    assert set(JOBS_DATA_PLANE) == JOBS_DATA_OPERATIONS


@pytest.mark.parametrize(
    ("service", "table"),
    [
        pytest.param("iot", CONTROL_PLANE, id="iot"),
        pytest.param("iot-jobs-data", JOBS_DATA_PLANE, id="iot-jobs-data"),
    ],
)
def test_every_member_named_is_in_the_model(service: str, table: Any) -> None:
    model = service_model(service)
    for operation, rule in table.items():
        members = set(model.operation_model(operation).input_shape.members)
        for reference in rule.resources:
            named = {reference.member}
            if isinstance(reference, Named) and reference.arn_member is not None:
                named.add(reference.arn_member)
            assert named <= members, (operation, named - members)
            assert isinstance(reference, (Named, Arns))


@pytest.mark.parametrize(
    ("call", "action", "resources", "context"),
    [
        pytest.param(
            ("iot", "CancelJob", {"jobId": "j1", "force": True}), "iot:CancelJob",
            (arn("job", "j1"),), {}, id="cancel-job",
        ),
        pytest.param(
            ("iot", "CancelJobExecution", {"jobId": "j1", "thingName": "t1"}),
            "iot:CancelJobExecution", (arn("job", "j1"), arn("thing", "t1")), {},
            id="cancel-job-execution",
        ),
        pytest.param(
            ("iot", "CreateJob",
             {"jobId": "j1", "targets": [arn("thing", "t1"), arn("thinggroup", "g1")],
              "document": "{}"}),
            "iot:CreateJob", (arn("job", "j1"), arn("thing", "t1"), arn("thinggroup", "g1")), {},
            id="create-job-and-its-targets",
        ),
        pytest.param(
            ("iot", "AddThingToThingGroup",
             {"thingName": "t1", "thingGroupArn": arn("thinggroup", "g1")}),
            "iot:AddThingToThingGroup", (arn("thing", "t1"), arn("thinggroup", "g1")), {},
            id="name-or-arn",
        ),
        pytest.param(
            ("iot", "DescribeCertificate", {"certificateId": "ab12"}), "iot:DescribeCertificate",
            (arn("cert", "ab12"),), {}, id="certificate",
        ),
        pytest.param(
            ("iot", "DescribeThingGroup", {"thingGroupName": "g1"}), "iot:DescribeThingGroup",
            (arn("thinggroup", "g1"),), {}, id="thing-group",
        ),
        pytest.param(
            ("iot", "ListJobs", {}), "iot:ListJobs", ("*",), {}, id="list-on-star"),
        pytest.param(
            ("iot", "ListThings", {}), "iot:ListThings", ("*",), {}, id="list-things"),
        pytest.param(
            ("iot", "SearchIndex", {"queryString": "x"}), "iot:SearchIndex", ("*",), {},
            id="unknown-operation-on-star",
        ),
        pytest.param(
            ("iot", "DeletePolicy", {"policyName": "p"}), "iot:DeletePolicy",
            (arn("policy", "p"),), {}, id="delete-policy",
        ),
        pytest.param(
            ("iot", "AttachPolicy", {"policyName": "p", "target": arn("cert", "c1")}),
            "iot:AttachPolicy", (arn("cert", "c1"),), {}, id="attach-policy-on-its-target",
        ),
        pytest.param(
            ("iot", "RegisterCertificate", {"certificatePem": "..."}),
            "iot:RegisterCertificate", ("*",), {}, id="register-certificate-on-star",
        ),
        pytest.param(
            ("iot", "AddThingToThingGroup", {}), "iot:AddThingToThingGroup", ("*",), {},
            id="missing-members-leave-star",
        ),
        pytest.param(
            ("iot-jobs-data", "UpdateJobExecution",
             {"thingName": "t1", "jobId": "j1", "status": "SUCCEEDED"}),
            "iotjobsdata:UpdateJobExecution", (arn("thing", "t1"),), {"iot:jobid": "j1"},
            id="jobs-data-update-has-job-id",
        ),
        pytest.param(
            ("iot-jobs-data", "DescribeJobExecution", {"thingName": "t1", "jobId": "$next"}),
            "iotjobsdata:DescribeJobExecution", (arn("thing", "t1"),), {"iot:jobid": "$next"},
            id="jobs-data-describe-has-job-id",
        ),
        pytest.param(
            ("iot-jobs-data", "GetPendingJobExecutions", {"thingName": "t1"}),
            "iotjobsdata:GetPendingJobExecutions", (arn("thing", "t1"),), {},
            id="jobs-data-get-pending-has-none",
        ),
        pytest.param(
            ("iot", "DescribeJobExecution", {"thingName": "t1", "jobId": "j1"}),
            "iot:DescribeJobExecution", (arn("job", "j1"), arn("thing", "t1")), {},
            id="control-plane-describe-has-no-job-id-key",
        ),
    ],
)  # fmt: skip
def test_requested_call(
    call: tuple[str, str, dict[str, Any]],
    action: str,
    resources: tuple[str, ...],
    context: dict[str, str],
) -> None:
    service, operation, arguments = call
    requested = requested_call(service, operation, arguments, arn_prefix=ARN)
    assert (requested.action, requested.resources, dict(requested.context)) == (
        action,
        resources,
        context,
    )
