"""The operator's IAM policy lints clean, and the IAM linter flags what is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool.aws import IAM_RULES, OperatorScope, lint_iam_policy, operator_policy
from certs_tool.aws.iam_lint import IAM_ACTION_RESOURCES
from certs_tool.errors import InvalidInputError
from certs_tool.policy import Severity

ARN = "arn:aws:iot:eu-west-1:111122223333"


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version:
        document["Version"] = version
    return json.dumps(document)


def allow(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(alphabet="abcXYZ019_-", min_size=1, max_size=64),
    region=st.sampled_from(["*", "eu-west-1", "us-gov-west-1", "ap-southeast-2"]),
    account=st.sampled_from(["*", "111122223333"]),
    ca=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_the_operator_policy_lints_clean(
    prefix: str, region: str, account: str, ca: str | None
) -> None:
    scope = OperatorScope(prefix=prefix, region=region, account=account, ca_certificate_id=ca)
    document = operator_policy(scope)
    assert lint_iam_policy(json.dumps(document)) == []
    for statement in document["Statement"]:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            # Every ARN is this fleet's by name, except certificates (see iam_policy.py).
            assert (
                resource == "*"
                or resource.endswith(f"/{prefix}*")
                or ":cert/" in resource
                or ":cacert/" in resource
            )


def test_the_operator_policy_covers_what_certs_tool_calls() -> None:
    from tests.certs_tool.aws.helpers import FAST_RATES

    granted = {a for s in operator_policy(OperatorScope())["Statement"] for a in s["Action"]}
    called = {f"iot:{api}" for api in (*FAST_RATES, "DescribeEndpoint")}
    # What the Locust Operator calls: the run group's ARN, then the test's jobs.
    jobs = {
        f"iot:{a}"
        for a in (
            "DescribeThingGroup",
            "CreateJob",
            "DescribeJob",
            "CancelJob",
            "DeleteJob",
            "ListJobExecutionsForJob",
        )
    }
    assert called | jobs <= granted
    assert granted <= set(IAM_ACTION_RESOURCES)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        pytest.param("{", ["invalid-json"], id="not-json"),
        pytest.param('{"Version": "2012-10-17"}', ["invalid-structure"], id="no-statement"),
        pytest.param(policy({"Effect": "Maybe", "Action": "iot:CreateThing", "Resource": "*"}),
                     ["invalid-structure"], id="bad-effect"),
        pytest.param(policy(allow("iot:*", "*")), ["action-wildcard"], id="iot-star"),
        pytest.param(policy(allow("*", "*")), ["action-wildcard"], id="star"),
        pytest.param(policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
                     ["not-action"], id="not-action"),
        pytest.param(policy({"Effect": "Allow", "Action": "iot:DeleteThing", "NotResource": "*"}),
                     ["not-resource"], id="not-resource"),
        pytest.param(policy(allow("iot:DeleteThing", "*")), ["resource-wildcard"],
                     id="star-resource"),
        pytest.param(policy(allow("iot:RegisterCertificate", f"{ARN}:cert/*")),
                     ["needs-star", "unused-resource"], id="scoped-unscopable"),
        pytest.param(policy(allow("iot:DeleteThing", f"{ARN}:policy/sim*")),
                     ["wrong-resource-type", "unused-resource"], id="wrong-type"),
        pytest.param(policy(allow("iot:DeleteThing", "arn:aws:eu-west-1:111122223333:thing/x")),
                     ["invalid-arn", "wrong-resource-type"], id="arn-without-service"),
        pytest.param(policy(allow("iot:Delete*", f"{ARN}:thing/sim*")),
                     ["partial-action-wildcard"], id="partial-wildcard"),
        pytest.param(policy(allow("iot:DeleteThing", f"{ARN}:thing/*")), ["every-name"],
                     id="every-thing"),
        pytest.param(policy(allow("iot:DeleteThing", [f"{ARN}:thing/sim*", f"{ARN}:job/sim*"])),
                     ["unused-resource"], id="unused-resource"),
        pytest.param(policy(allow("iot:LaunchRocket", "*")), ["unknown-action"], id="unknown"),
        pytest.param(policy(allow("iot:DeleteCertificate", f"{ARN}:cert/*")), [],
                     id="all-certs-is-fine"),
        pytest.param(policy(allow("iot:DeleteThing", f"{ARN}:thing/sim*"), version=None),
                     ["old-version"], id="no-version"),
        pytest.param(policy({"Effect": "Deny", "Action": "iot:*", "Resource": "*"}), [],
                     id="deny-everything-is-fine"),
    ],
)  # fmt: skip
def test_broken_policies_are_flagged(text: str, codes: list[str]) -> None:
    findings = lint_iam_policy(text)
    assert [f.code for f in findings] == codes
    for finding in findings:
        assert finding.severity is IAM_RULES[finding.code]
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert bool(errors) == any(IAM_RULES[c] is Severity.ERROR for c in codes)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("prefix", "sim*", id="wildcard-prefix"),
        pytest.param("prefix", "", id="empty-prefix"),
        pytest.param("region", "europe", id="region"),
        pytest.param("account", "1234", id="account"),
    ],
)
def test_bad_scopes_are_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidInputError, match=f"invalid {field}"):
        OperatorScope(**{field: value})
