"""Condition blocks with IAM's rules: operators, IfExists, absent keys, set qualifiers,
several keys (AND) and values (OR), and variables in values. The principal is "operator"."""

from __future__ import annotations

from typing import Any

import pytest

from simfleet.emulator.iam import Decision
from tests.emulator.iam.helpers import authorizer, policy, statement, user_arn

ALLOW = Decision.ALLOW
IMPLICIT = Decision.IMPLICIT_DENY
EXPLICIT = Decision.EXPLICIT_DENY
LOCAL = {"aws:SourceIp": "127.0.0.1"}
REMOTE = {"aws:SourceIp": "10.1.2.3"}
JOB = {"iot:JobId": "rollout-7"}


def _allow_if(condition: dict[str, Any]) -> dict[str, Any]:
    return policy(statement(Condition=condition))


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        pytest.param({"StringEquals": {"aws:username": "operator"}}, {}, ALLOW, id="string-equals"),
        pytest.param(
            {"StringEquals": {"aws:username": "Operator"}},
            {},
            IMPLICIT,
            id="string-equals-is-case-sensitive",
        ),
        pytest.param({"StringEquals": {"AWS:UserName": "operator"}}, {}, ALLOW, id="key-any-case"),
        pytest.param(
            {"StringEqualsIgnoreCase": {"aws:username": "OPERATOR"}},
            {},
            ALLOW,
            id="string-equals-ignore-case",
        ),
        pytest.param(
            {"StringNotEquals": {"aws:username": ["a", "b"]}}, {}, ALLOW, id="string-not-equals"
        ),
        pytest.param(
            {"StringNotEquals": {"aws:username": ["a", "operator"]}},
            {},
            IMPLICIT,
            id="string-not-equals-nor-of-values",
        ),
        pytest.param({"StringLike": {"iot:JobId": "rollout-*"}}, JOB, ALLOW, id="string-like"),
        pytest.param(
            {"StringLike": {"iot:JobId": "rollout-?"}}, JOB, ALLOW, id="string-like-question"
        ),
        pytest.param(
            {"StringEquals": {"iot:JobId": "rollout-*"}},
            JOB,
            IMPLICIT,
            id="string-equals-star-is-literal",
        ),
        pytest.param(
            {"StringNotLike": {"iot:JobId": "rollout-*"}}, JOB, IMPLICIT, id="string-not-like"
        ),
        pytest.param(
            {"StringLike": {"iot:JobId": ["other-*", "rollout-*"]}},
            JOB,
            ALLOW,
            id="values-are-ored",
        ),
        pytest.param(
            {"StringEquals": {"aws:username": "operator", "iot:JobId": "other"}},
            JOB,
            IMPLICIT,
            id="keys-are-anded",
        ),
        pytest.param(
            {"StringEquals": {"aws:username": "operator"}, "StringLike": {"iot:JobId": "r*"}},
            JOB,
            ALLOW,
            id="operators-are-anded",
        ),
        pytest.param(
            {"StringEquals": {"iot:JobId": "rollout-7"}},
            {},
            IMPLICIT,
            id="absent-key-fails-a-positive-operator",
        ),
        pytest.param(
            {"StringNotEquals": {"iot:JobId": "rollout-7"}},
            {},
            ALLOW,
            id="absent-key-passes-a-negated-operator",
        ),
        pytest.param(
            {"StringEqualsIfExists": {"iot:JobId": "rollout-7"}},
            {},
            ALLOW,
            id="if-exists-absent",
        ),
        pytest.param(
            {"StringEqualsIfExists": {"iot:JobId": "other"}},
            JOB,
            IMPLICIT,
            id="if-exists-present-and-different",
        ),
        pytest.param({"Null": {"iot:JobId": "true"}}, {}, ALLOW, id="null-true-absent"),
        pytest.param({"Null": {"iot:JobId": "true"}}, JOB, IMPLICIT, id="null-true-present"),
        pytest.param({"Null": {"iot:JobId": "false"}}, JOB, ALLOW, id="null-false-present"),
        pytest.param({"Bool": {"aws:SecureTransport": True}}, {}, ALLOW, id="bool-json-true"),
        pytest.param({"Bool": {"aws:SecureTransport": "false"}}, {}, IMPLICIT, id="bool-false"),
        pytest.param(
            {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, LOCAL, ALLOW, id="ip-in-block"
        ),
        pytest.param(
            {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, REMOTE, IMPLICIT, id="ip-outside"
        ),
        pytest.param(
            {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
            {},
            IMPLICIT,
            id="ip-unknown-source",
        ),
        pytest.param(
            {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}},
            {"aws:SourceIp": "::1"},
            ALLOW,
            id="ip-v6",
        ),
        pytest.param(
            {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, LOCAL, ALLOW, id="not-ip-address"
        ),
        pytest.param(
            {"ForAnyValue:StringEquals": {"iot:JobId": "rollout-7"}},
            {},
            IMPLICIT,
            id="for-any-value-absent",
        ),
        pytest.param(
            {"ForAllValues:StringEquals": {"iot:JobId": "rollout-7"}},
            {},
            ALLOW,
            id="for-all-values-absent",
        ),
        pytest.param(
            {"ForAnyValue:StringLike": {"iot:JobId": "roll*"}},
            JOB,
            ALLOW,
            id="for-any-value-present",
        ),
        pytest.param(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/op*"}},
            {},
            ALLOW,
            id="arn-like",
        ),
        pytest.param(
            {"ArnEquals": {"aws:PrincipalArn": user_arn("operator")}},
            {},
            ALLOW,
            id="arn-equals",
        ),
        pytest.param(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}},
            {},
            IMPLICIT,
            id="arn-like-matches-each-part",
        ),
        pytest.param(
            {
                "StringEquals": {
                    "aws:PrincipalAccount": "111122223333",
                    "aws:RequestedRegion": "eu-west-1",
                }
            },
            {},
            ALLOW,
            id="account-and-region",
        ),
        pytest.param(
            {"StringEquals": {"iot:JobId": "${aws:username}-job"}},
            {"iot:JobId": "operator-job"},
            ALLOW,
            id="variable-in-value",
        ),
        pytest.param(
            {"StringEquals": {"iot:JobId": "${aws:SourceIp}"}},
            {"iot:JobId": "${aws:SourceIp}"},
            IMPLICIT,
            id="unresolved-variable-in-value",
        ),
    ],
)
def test_condition(condition: dict[str, Any], context: dict[str, str], expected: Decision) -> None:
    iam, caller = authorizer(_allow_if(condition))
    assert iam.decide(caller, "iot:DescribeJob", "*", context) is expected


def test_a_conditional_deny_wins_only_when_it_holds() -> None:
    iam, caller = authorizer(
        policy(
            statement(),
            statement("Deny", Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}),
        )
    )
    assert iam.decide(caller, "iot:CancelJob", "*", REMOTE) is EXPLICIT
    assert iam.decide(caller, "iot:CancelJob", "*", LOCAL) is ALLOW
    # IAM's rule for a negated operator on an absent key: it holds, so the Deny applies.
    assert iam.decide(caller, "iot:CancelJob", "*") is EXPLICIT
