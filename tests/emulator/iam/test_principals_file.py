"""The principals file: a good one loads into frozen values, a bad one is refused with a
message naming the file, the principal and the statement at fault."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from simfleet.emulator.iam import (
    ALLOW_ALL,
    Effect,
    PrincipalError,
    Principals,
    PrincipalsFileError,
    Version,
    administrator,
    load_principals,
)
from tests.emulator.iam.helpers import policy, principal, statement

OPERATOR = {
    "name": "operator",
    "accessKeyId": "AKIAOPERATOR00000001",
    "secretAccessKey": "operator-secret",
    "policies": [
        policy(
            statement(action=["iot:CreateJob", "IOT:DescribeJob"], Sid="jobs"),
            statement(
                "Deny",
                action=None,
                NotAction="iot:Describe*",
                resource="arn:aws:iot:*:*:job/secret-*",
                Condition={"StringEquals": {"AWS:UserName": ["a", True]}},
            ),
        )
    ],
}


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "principals.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _with(**changes: Any) -> dict[str, Any]:
    return {"principals": [{**OPERATOR, **changes}]}


def _statement(**elements: Any) -> dict[str, Any]:
    return _with(policies=[policy(statement(**elements))])


def test_a_good_file_loads(tmp_path: Path) -> None:
    no_policies = {"name": "nobody", "accessKeyId": "AKIANOBODY0000000001", "secretAccessKey": "s"}
    principals = load_principals(_write(tmp_path, {"principals": [OPERATOR, no_policies]}))
    assert [p.name for p in principals.members] == ["operator", "nobody"]
    assert principals.credentials() == {
        "AKIAOPERATOR00000001": "operator-secret",
        "AKIANOBODY0000000001": "s",
    }
    operator = principals.by_access_key("AKIAOPERATOR00000001")
    assert operator is not None
    assert principals.by_access_key("AKIAUNKNOWN000000000") is None
    (document,) = operator.policies
    allow, deny = document.statements
    assert document.version is Version.V2012
    assert (allow.effect, allow.actions, allow.sid) == (
        Effect.ALLOW,
        ("iot:createjob", "iot:describejob"),
        "jobs",
    )
    assert (deny.effect, deny.not_action, deny.actions) == (Effect.DENY, True, ("iot:describe*",))
    (condition,) = deny.conditions
    assert (condition.key, condition.values) == ("aws:username", ("a", "true"))
    assert "operator-secret" not in repr(operator)
    with pytest.raises(dataclasses.FrozenInstanceError):
        operator.name = "other"  # type: ignore[misc]


def test_administrator_is_allowed_everything_and_joins_a_file(tmp_path: Path) -> None:
    admin = administrator("AKIASIMFLEET0000ABCD", "ready-secret")
    assert (admin.name, admin.policies) == ("admin", (ALLOW_ALL,))
    merged = load_principals(_write(tmp_path, {"principals": [OPERATOR]})).with_principals([admin])
    assert [p.name for p in merged.members] == ["operator", "admin"]
    with pytest.raises(PrincipalError, match="two principals are named 'admin'"):
        merged.with_principals([administrator("AKIASIMFLEET0000FFFF", "x")])
    with pytest.raises(PrincipalError, match="accessKeyId 'AKIASIMFLEET0000ABCD'"):
        Principals.of(admin, administrator("AKIASIMFLEET0000ABCD", "x", name="again"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("{not json", "not JSON", id="not-json"),
        pytest.param([], 'must be an object {"principals": [...]}', id="not-an-object"),
        pytest.param({"principals": [], "extra": 1}, '{"principals": [...]}', id="extra-key"),
        pytest.param({"principals": {}}, "principals must be a list", id="principals-not-list"),
        pytest.param({"principals": [7]}, "principal 1: must be an object", id="principal-int"),
        pytest.param(
            {"principals": [{"name": "x"}]},
            "principal 1 ('x'): missing accessKeyId, secretAccessKey",
            id="missing-keys",
        ),
        pytest.param(
            _with(role="admin"), "principal 1 ('operator'): unknown key(s) role", id="unknown-key"
        ),
        pytest.param(_with(name="a b"), "principal 1 ('a b'): name 'a b' must be", id="bad-name"),
        pytest.param(
            _with(accessKeyId="AKIA/1"), "accessKeyId 'AKIA/1' must be 16-128", id="bad-key-id"
        ),
        pytest.param(_with(secretAccessKey=""), "secretAccessKey must not", id="empty-secret"),
        pytest.param(
            _with(secretAccessKey=5),
            "name, accessKeyId and secretAccessKey are strings",
            id="secret-not-string",
        ),
        pytest.param(
            {"principals": [OPERATOR, {**OPERATOR, "accessKeyId": "AKIAOTHER00000000001"}]},
            "two principals are named 'operator'",
            id="duplicate-name",
        ),
        pytest.param(
            {"principals": [OPERATOR, {**OPERATOR, "name": "twin"}]},
            "two principals have accessKeyId 'AKIAOPERATOR00000001'",
            id="duplicate-key",
        ),
        pytest.param(_with(policies={}), "policies must be a list", id="policies-not-list"),
        pytest.param(
            _with(policies=["x"]),
            "principal 1 ('operator'): policy 1: a policy must be a JSON object, not str",
            id="policy-not-object",
        ),
        pytest.param(
            _with(policies=[{"Version": "2012-10-17", "Statement": [], "Id": "x"}]),
            "policy 1: Statement must be an object or a non-empty list",
            id="empty-statement-list",
        ),
        pytest.param(
            _with(policies=[{"Version": "2020-01-01", "Statement": statement()}]),
            "Version must be 2012-10-17 or 2008-10-17, not '2020-01-01'",
            id="unknown-version",
        ),
        pytest.param(
            _with(policies=[{"Statement": statement(), "Extra": 1}]),
            "unknown policy element(s): Extra",
            id="unknown-policy-element",
        ),
        pytest.param(
            _with(policies=[policy(statement(), statement(effect="allow", Sid="second"))]),
            'policy 1: statement 2 (Sid \'second\'): Effect must be "Allow" or "Deny", '
            "not 'allow'",
            id="effect-case",
        ),
        pytest.param(
            _statement(NotAction="iot:CreateJob"),
            "statement 1: exactly one of Action and NotAction is required",
            id="action-and-not-action",
        ),
        pytest.param(
            _statement(action=None),
            "statement 1: exactly one of Action and NotAction is required",
            id="no-action",
        ),
        pytest.param(
            _statement(resource=None),
            "exactly one of Resource and NotResource is required",
            id="no-resource",
        ),
        pytest.param(
            _statement(action="CreateJob"),
            "action 'CreateJob' must be * or service:name",
            id="action-without-service",
        ),
        pytest.param(
            _statement(action=["iot:CreateJob", 3]),
            "Action must be a non-empty string or list of them",
            id="action-not-string",
        ),
        pytest.param(
            _statement(resource="job/1"), "resource 'job/1' must be * or an ARN", id="not-an-arn"
        ),
        pytest.param(
            _statement(Principal={"AWS": "*"}),
            "an identity-based policy has no Principal",
            id="principal-element",
        ),
        pytest.param(_statement(Sid=3), "Sid must be a string", id="sid-not-string"),
        pytest.param(
            _statement(Effect="Allow", Resources="*"),
            "unknown element(s): Resources",
            id="unknown-statement-element",
        ),
        pytest.param(
            _statement(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
            "does not evaluate condition operator 'NumericLessThan'",
            id="unsupported-operator",
        ),
        pytest.param(
            _statement(Condition={"StringEquals": {}}),
            "Condition 'StringEquals' must be a non-empty object",
            id="empty-condition-block",
        ),
        pytest.param(
            _statement(Condition={"StringEquals": {"aws:username": []}}),
            "has no value",
            id="condition-without-value",
        ),
        pytest.param(
            _statement(Condition={"StringEquals": {"aws:username": {"a": 1}}}),
            "values must be strings, numbers or booleans",
            id="condition-value-object",
        ),
        pytest.param(
            _statement(Condition={"Null": {"iot:JobId": ["true", "false"]}}),
            "Null takes one value",
            id="null-two-values",
        ),
        pytest.param(
            _statement(Condition={"Bool": {"aws:SecureTransport": "yes"}}),
            "Bool takes true or false",
            id="bool-not-boolean",
        ),
        pytest.param(
            _statement(Condition={"IpAddress": {"aws:SourceIp": "localhost"}}),
            "'localhost' is not an IP address or CIDR block",
            id="ip-not-an-address",
        ),
        pytest.param(
            _statement(resource="arn:aws:iot:*:*:thing/${aws:username, default}"),
            "malformed policy variable '${aws:username, default}'",
            id="unquoted-default",
        ),
    ],
)
def test_a_bad_file_is_refused(tmp_path: Path, content: Any, expected: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(PrincipalsFileError) as excinfo:
        load_principals(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_an_unclosed_variable_is_literal_text(tmp_path: Path) -> None:
    path = _write(tmp_path, _statement(resource="arn:aws:iot:*:*:thing/${aws:username"))
    (operator,) = load_principals(path).members
    assert operator.policies[0].statements[0].resources == ("arn:aws:iot:*:*:thing/${aws:username",)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(PrincipalsFileError, match=r"absent\.json: cannot read"):
        load_principals(path)


def test_principal_values_are_checked_outside_files_too() -> None:
    with pytest.raises(PrincipalError, match="must be 16-128"):
        principal("operator", "SHORT")
    assert isinstance(PrincipalsFileError("x"), ValueError)
