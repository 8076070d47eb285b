"""IAM's decision for one caller, action and resource: Allow/Deny, explicit Deny wins, denied
by default, NotAction/NotResource, wildcards, case, policy variables, and the older `iot:`
names of the Jobs data plane."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.http import Caller
from simfleet.emulator.iam import Decision
from tests.emulator.iam.helpers import arn, authorizer, policy, statement

ALLOW = Decision.ALLOW
EXPLICIT = Decision.EXPLICIT_DENY
IMPLICIT = Decision.IMPLICIT_DENY
JOB = arn("job", "job-1")


@pytest.mark.parametrize(
    ("documents", "action", "resource", "expected"),
    [
        pytest.param(
            [policy(statement(action="iot:CancelJob", resource=JOB))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="allow-exact",
        ),
        pytest.param([], "iot:CancelJob", JOB, IMPLICIT, id="no-policy-denies"),
        pytest.param(
            [policy(statement(action="iot:CreateJob"))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="other-action-denied-by-default",
        ),
        pytest.param(
            [policy(statement(), statement("Deny", action="iot:CancelJob"))],
            "iot:CancelJob",
            JOB,
            EXPLICIT,
            id="deny-wins-in-one-policy",
        ),
        pytest.param(
            [policy(statement("Deny", resource=JOB)), policy(statement())],
            "iot:CancelJob",
            JOB,
            EXPLICIT,
            id="deny-wins-across-policies",
        ),
        pytest.param(
            [policy(statement(), statement("Deny", action="iot:DeleteJob"))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="deny-of-another-action",
        ),
        pytest.param(
            [policy(statement(action="iot:*"))], "iot:CancelJob", JOB, ALLOW, id="service-star"
        ),
        pytest.param(
            [policy(statement(action="iot:Cancel*"))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="action-prefix-star",
        ),
        pytest.param(
            [policy(statement(action="iot:CancelJo?"))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="action-question-mark",
        ),
        pytest.param(
            [policy(statement(action="iot:Cancel?"))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="question-mark-is-one-character",
        ),
        pytest.param(
            [policy(statement(action="IOT:canceljob"))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="action-case-insensitive",
        ),
        pytest.param(
            [policy(statement(action="iotjobsdata:*"))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="other-service-prefix",
        ),
        pytest.param(
            [policy(statement(action=None, NotAction="iot:CancelJob"))],
            "iot:CreateJob",
            JOB,
            ALLOW,
            id="not-action-allows-the-rest",
        ),
        pytest.param(
            [policy(statement(action=None, NotAction="iot:CancelJob"))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="not-action-excludes-its-list",
        ),
        pytest.param(
            [policy(statement(), statement("Deny", action=None, NotAction="iot:Describe*"))],
            "iot:CreateJob",
            JOB,
            EXPLICIT,
            id="deny-not-action-denies-the-rest",
        ),
        pytest.param(
            [policy(statement(), statement("Deny", action=None, NotAction="iot:Describe*"))],
            "iot:DescribeJob",
            JOB,
            ALLOW,
            id="deny-not-action-spares-its-list",
        ),
        pytest.param(
            [policy(statement(resource=arn("job", "*")))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="resource-star",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "*")))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="resource-of-another-kind",
        ),
        pytest.param(
            [policy(statement(resource="arn:aws:iot:*"))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="star-spans-colons-and-slashes",
        ),
        pytest.param(
            [policy(statement(resource=arn("job", "JOB-1")))],
            "iot:CancelJob",
            JOB,
            IMPLICIT,
            id="resource-case-sensitive",
        ),
        pytest.param(
            [policy(statement(resource=arn("job", "job-?")))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="resource-question-mark",
        ),
        pytest.param(
            [policy(statement(resource=arn("job", "job-?")))],
            "iot:CancelJob",
            arn("job", "job-10"),
            IMPLICIT,
            id="resource-question-mark-one-character",
        ),
        pytest.param(
            [policy(statement(resource=None, NotResource=arn("job", "secret-*")))],
            "iot:CancelJob",
            JOB,
            ALLOW,
            id="not-resource-allows-the-rest",
        ),
        pytest.param(
            [policy(statement(resource=None, NotResource=arn("job", "secret-*")))],
            "iot:CancelJob",
            arn("job", "secret-1"),
            IMPLICIT,
            id="not-resource-excludes-its-list",
        ),
        pytest.param(
            [policy(statement(action="iot:UpdateJobExecution"))],
            "iotjobsdata:UpdateJobExecution",
            arn("thing", "t1"),
            ALLOW,
            id="older-iot-name-grants-jobs-data",
        ),
        pytest.param(
            [policy(statement(), statement("Deny", action="iot:UpdateJobExecution"))],
            "iotjobsdata:UpdateJobExecution",
            arn("thing", "t1"),
            EXPLICIT,
            id="older-iot-name-denies-jobs-data",
        ),
        pytest.param(
            [policy(statement(action=None, NotAction="iot:UpdateJobExecution"))],
            "iotjobsdata:UpdateJobExecution",
            arn("thing", "t1"),
            IMPLICIT,
            id="not-action-of-either-name-excludes",
        ),
        pytest.param(
            [policy(statement(action="iotjobsdata:UpdateJobExecution"))],
            "iot:UpdateJobExecution",
            arn("thing", "t1"),
            IMPLICIT,
            id="jobs-data-name-does-not-grant-control-plane",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "${aws:username}")))],
            "iot:DescribeThing",
            arn("thing", "operator"),
            ALLOW,
            id="variable-resolves",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "${AWS:UserName}")))],
            "iot:DescribeThing",
            arn("thing", "other"),
            IMPLICIT,
            id="variable-names-only-its-value",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "${aws:username}")), version="2008-10-17")],
            "iot:DescribeThing",
            arn("thing", "operator"),
            IMPLICIT,
            id="no-variables-in-version-2008",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "${aws:SourceIp}")))],
            "iot:DescribeThing",
            arn("thing", "${aws:SourceIp}"),
            IMPLICIT,
            id="variable-without-value-voids-statement",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "${aws:SourceIp, 'it''s'}")))],
            "iot:DescribeThing",
            arn("thing", "it's"),
            ALLOW,
            id="variable-default-value",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "a${*}b")))],
            "iot:DescribeThing",
            arn("thing", "axxb"),
            IMPLICIT,
            id="escaped-star-is-literal",
        ),
        pytest.param(
            [policy(statement(resource=arn("thing", "a${*}b")))],
            "iot:DescribeThing",
            arn("thing", "a*b"),
            ALLOW,
            id="escaped-star-matches-a-star",
        ),
    ],
)
def test_decision(
    documents: list[dict[str, Any]], action: str, resource: str, expected: Decision
) -> None:
    iam, caller = authorizer(*documents)
    assert iam.decide(caller, action, resource) is expected
    assert iam.authorize(caller, action, resource) is (expected is ALLOW)


def test_an_unknown_access_key_is_denied() -> None:
    iam, _ = authorizer(policy(statement()))
    stranger = Caller(access_key_id="AKIDNOBODY0000000000")
    assert iam.decide(stranger, "iot:ListJobs", "*") is IMPLICIT


_ACTIONS = ["iot:CancelJob", "iot:CreateJob", "iot:DescribeJob", "iot:DescribeThing"]
_ACTION_PATTERNS = ["*", "iot:*", "iot:Describe*", "IOT:CANCELJOB", "iot:CreateJo?", "iotx:*"]
_RESOURCES = [arn("job", "j1"), arn("job", "j22"), arn("thing", "t1"), "*"]
_RESOURCE_PATTERNS = ["*", arn("job", "*"), arn("job", "j?"), arn("thing", "t1"), "arn:aws:iot:*"]
_statements = st.lists(
    st.tuples(
        st.sampled_from(["Allow", "Deny"]),
        st.booleans(),  # NotAction
        st.lists(st.sampled_from(_ACTION_PATTERNS), min_size=1, max_size=2),
        st.booleans(),  # NotResource
        st.lists(st.sampled_from(_RESOURCE_PATTERNS), min_size=1, max_size=2),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    statements=_statements,
    action=st.sampled_from(_ACTIONS),
    resource=st.sampled_from(_RESOURCES),
)
def test_decision_matches_a_reference_model(
    statements: list[tuple[str, bool, list[str], bool, list[str]]], action: str, resource: str
) -> None:
    # An independent oracle: fnmatch globs (no `[` in the patterns), actions case-folded.
    def applies(not_action: bool, actions: list[str], not_resource: bool, rs: list[str]) -> bool:
        action_listed = any(fnmatchcase(action.lower(), p.lower()) for p in actions)
        resource_listed = any(fnmatchcase(resource, p) for p in rs)
        return action_listed != not_action and resource_listed != not_resource

    applying = [effect for effect, na, acts, nr, rs in statements if applies(na, acts, nr, rs)]
    expected = EXPLICIT if "Deny" in applying else ALLOW if applying else IMPLICIT
    documents = (
        [
            policy(
                *(
                    statement(
                        effect,
                        action=None,
                        resource=None,
                        **{"NotAction" if not_action else "Action": actions},
                        **{"NotResource" if not_resource else "Resource": rs},
                    )
                    for effect, not_action, actions, not_resource, rs in statements
                )
            )
        ]
        if statements
        else []
    )
    iam, caller = authorizer(*documents)
    assert iam.decide(caller, action, resource) is expected
