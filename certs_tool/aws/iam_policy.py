"""`operator_policy`: the least-privilege IAM policy for whoever runs a simfleet load test on AWS.

It allows what `certs-tool register` / `cleanup` / `endpoint` call, and what the load test's
operator does with jobs (create, describe, cancel and delete them, list their executions), on
resources whose names start with the fleet's prefix. Resource types per action follow
iam_lint.IAM_ACTION_RESOURCES, and the result lints clean by construction (a test pins it).

What cannot be narrowed, and why (each statement says so in its Sid):
- Registering certificates and a CA, GetRegistrationCode, DescribeEndpoint, and attaching or
  detaching a thing's principal have no resource type in IAM: only Resource "*" grants them.
- Certificates are cert/<certificateId>, a SHA-256 no name prefix selects, and they take no
  tags: the certificate statement is on cert/* (the CA's on its own id when it is known).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from certs_tool.aws.iam_lint import IAM_VERSION
from certs_tool.errors import InvalidInputError
from certs_tool.policy.lint import ACCOUNT_RE, REGION_RE

DEFAULT_PREFIX = "sim"  # covers certs-tool's defaults: things sim-*, fleets and policies simfleet-*
# Characters valid in thing, thing group, policy and job names alike.
PREFIX_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True, kw_only=True)
class OperatorScope:
    prefix: str = DEFAULT_PREFIX
    region: str = "*"
    account: str = "*"
    partition: str = "aws"
    ca_certificate_id: str | None = None  # the fleet CA's id, to name it instead of cacert/*

    def __post_init__(self) -> None:
        if not PREFIX_RE.fullmatch(self.prefix):
            raise InvalidInputError(
                f"invalid prefix {self.prefix!r}: use 1-64 characters of [a-zA-Z0-9_-], "
                "valid in thing, group, policy and job names alike"
            )
        if self.region != "*" and not REGION_RE.fullmatch(self.region):
            raise InvalidInputError(f"invalid region {self.region!r} (like eu-west-1, or *)")
        if self.account != "*" and not ACCOUNT_RE.fullmatch(self.account):
            raise InvalidInputError(f"invalid account {self.account!r} (12 digits, or *)")

    def arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:iot:{self.region}:{self.account}:{kind}/{name}"

    def named(self, kind: str) -> str:
        return self.arn(kind, f"{self.prefix}*")


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(f"iot:{a}" for a in actions),
        "Resource": resources[0] if len(resources) == 1 else resources,
    }


def operator_policy(scope: OperatorScope) -> dict[str, Any]:
    """The policy document (see the module docstring)."""
    things, groups = scope.named("thing"), scope.named("thinggroup")
    policies, jobs = scope.named("policy"), scope.named("job")
    ca = scope.arn("cacert", scope.ca_certificate_id or "*")
    return {
        "Version": IAM_VERSION,
        "Statement": [
            _statement(
                "NoResourceTypeInIamSoStar",
                [
                    "AttachThingPrincipal",
                    "DescribeEndpoint",
                    "DetachThingPrincipal",
                    "GetRegistrationCode",
                    "ListAttachedPolicies",
                    "ListPrincipalThings",
                    "RegisterCACertificate",
                    "RegisterCertificate",
                    "RegisterCertificateWithoutCA",
                ],
                ["*"],
            ),
            _statement(
                "CertificatesAreNamedBySha256SoAllCerts",
                [
                    "AttachPolicy",
                    "DeleteCertificate",
                    "DescribeCertificate",
                    "DetachPolicy",
                    "UpdateCertificate",
                ],
                [scope.arn("cert", "*")],
            ),
            _statement(
                "FleetCa", ["DeleteCACertificate", "TagResource", "UpdateCACertificate"], [ca]
            ),
            _statement(
                "FleetPolicies", ["CreatePolicy", "DeletePolicy", "TagResource"], [policies]
            ),
            _statement("FleetThings", ["CreateThing", "DeleteThing"], [things]),
            _statement(
                "FleetThingGroup",
                [
                    "AddThingToThingGroup",
                    "CreateThingGroup",
                    "DeleteThingGroup",
                    "DescribeThingGroup",
                    "TagResource",
                ],
                [groups, things],
            ),
            _statement("CreateTestJobs", ["CreateJob"], [jobs, things, groups]),
            _statement(
                "TestJobs",
                ["CancelJob", "DeleteJob", "DescribeJob", "ListJobExecutionsForJob", "TagResource"],
                [jobs],
            ),
        ],
    }


def operator_policy_json(scope: OperatorScope) -> str:
    return json.dumps(operator_policy(scope), indent=2) + "\n"
