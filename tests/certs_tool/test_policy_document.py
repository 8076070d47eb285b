"""The policy model: what parse_policy refuses (naming the statement), and what it keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from certs_tool.errors import InvalidInputError
from certs_tool.policy import (
    POLICY_VERSION,
    Condition,
    Effect,
    PolicyDocument,
    Statement,
    parse_policy,
)

GOOD = {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}


def document(*statements: Any, **top: Any) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": list(statements), **top})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("{", "not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe", "not valid JSON", id="not-utf8"),
        pytest.param("[]", "must be a JSON object", id="not-an-object"),
        pytest.param(
            document(GOOD, Principal="*"), "unknown top-level keys: Principal", id="top-key"
        ),
        pytest.param(document(GOOD, Version="2013-01-01"), "Version must be", id="bad-version"),
        pytest.param(
            json.dumps({"Version": POLICY_VERSION}), "non-empty Statement", id="no-statement"
        ),
        pytest.param(document(), "non-empty Statement", id="empty-statement"),
        pytest.param(
            document(GOOD, "Allow"), r"Statement\[2\]: must be a JSON object", id="statement-string"
        ),
        pytest.param(
            document(GOOD, {**GOOD, "Effect": "allow"}),
            r"Statement\[2\]: Effect must be 'Allow' or 'Deny', not 'allow'",
            id="effect-case",
        ),
        pytest.param(
            document({**GOOD, "Effect": None}), r"Statement\[1\]: Effect", id="effect-missing"
        ),
        pytest.param(
            document({"Effect": "Allow", "Resource": "*"}),
            r"Statement\[1\]: Action must be",
            id="action-missing",
        ),
        pytest.param(
            document({**GOOD, "Action": []}), r"Statement\[1\]: Action must be", id="action-empty"
        ),
        pytest.param(
            document({**GOOD, "Resource": ["*", 3]}),
            r"Statement\[1\]: Resource must be",
            id="resource-number",
        ),
        pytest.param(
            document({**GOOD, "NotAction": "iot:Publish"}),
            r"Statement\[1\]: unsupported keys: NotAction",
            id="not-action",
        ),
        pytest.param(
            document({**GOOD, "Sid": 1}), r"Statement\[1\]: Sid must be a string", id="sid-number"
        ),
        pytest.param(
            document({**GOOD, "Condition": []}),
            "Condition must be a JSON object",
            id="condition-list",
        ),
        pytest.param(
            document({**GOOD, "Condition": {"Bool": "true"}}),
            "must map keys to values",
            id="condition-flat",
        ),
        pytest.param(
            document({**GOOD, "Condition": {"Bool": {"k": 1}}}),
            "Condition 'Bool': k must be",
            id="condition-number",
        ),
        pytest.param(
            json.dumps({"Version": [], "Statement": [GOOD]}), "Version must be", id="version-list"
        ),
    ],
)
def test_a_malformed_policy_is_refused_with_a_message(source: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_policy(source)


def test_a_boolean_condition_value_is_kept_as_the_text_aws_compares() -> None:
    parsed = parse_policy(
        document({**GOOD, "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": True}}})
    )
    (statement,) = parsed.statements
    assert statement.conditions == (
        Condition(operator="Bool", key="iot:Connection.Thing.IsAttached", values=("true",)),
    )


def test_a_single_statement_object_is_accepted_as_aws_does() -> None:
    parsed = parse_policy(json.dumps({"Version": POLICY_VERSION, "Statement": GOOD}))
    assert parsed == PolicyDocument(
        statements=(Statement(effect=Effect.ALLOW, actions=("iot:Connect",), resources=("*",)),)
    )


def test_a_full_document_round_trips() -> None:
    original = PolicyDocument(
        statements=(
            Statement(
                sid="connect",
                effect=Effect.ALLOW,
                actions=("iot:Connect",),
                resources=("arn:aws:iot:*:*:client/a", "arn:aws:iot:*:*:client/b"),
                conditions=(
                    Condition(
                        operator="Bool", key="iot:Connection.Thing.IsAttached", values=("true",)
                    ),
                    Condition(
                        operator="IpAddress",
                        key="aws:SourceIp",
                        values=("192.0.2.0/24", "198.51.100.0/24"),
                    ),
                ),
            ),
            Statement(effect=Effect.DENY, actions=("iot:Publish", "iot:Receive"), resources=("*",)),
        )
    )
    assert parse_policy(original.dumps()) == original
    assert parse_policy(original.to_json()) == original
