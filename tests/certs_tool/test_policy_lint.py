"""The policy linter: each mistake of spec §4 gives its finding, clean documents give none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool.policy import (
    ACTION_RESOURCE_TYPES,
    MAX_POLICY_LENGTH,
    RULES,
    Finding,
    Severity,
    lint_policy,
    policy_length,
)

BROKEN = Path(__file__).parent / "data" / "policies" / "broken"
ARN = "arn:aws:iot:us-east-1:123456789012:"
THING = "${iot:Connection.Thing.ThingName}"
ATTACHED = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def stmt(
    action: str | list[str],
    resource: str | list[str],
    *,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if condition is not None:
        out["Condition"] = condition
    return out


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return json.dumps(document, indent=2)


CONNECT = stmt("iot:Connect", f"{ARN}client/{THING}", condition=ATTACHED)
RECEIVE = stmt("iot:Receive", f"{ARN}topic/d/{THING}/in")


def sized(length: int) -> str:
    """A clean policy of exactly `length` characters without whitespace, padded with spaces."""
    base = policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/"))
    padding = length - policy_length(base)
    text = policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/" + "x" * padding))
    return text.replace("\n", "\n    ")  # whitespace AWS does not count


CLEAN = [
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/{THING}/out")), id="connect-publish"
    ),
    pytest.param(
        policy(
            stmt(
                ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"],
                [f"{ARN}client/sensor-1", f"{ARN}topic/s/1", f"{ARN}topicfilter/s/1"],
            )
        ),
        id="one-statement-several-types",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt("iot:Subscribe", f"{ARN}topicfilter/d/{THING}/#")),
        id="literal-hash-filter",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:*", "*", effect="Deny"), stmt("iot:Publish", f"{ARN}topic/a")),
        id="deny-everything-is-fine",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/${{iot:ClientId}}")),
        id="clientid-with-isattached",
    ),
    pytest.param(
        policy(stmt("iot:Connect", f"{ARN}client/{THING}"), stmt("iot:Publish", f"{ARN}topic/x")),
        id="thing-variable-connect",
    ),
    pytest.param(
        policy(
            stmt(
                ["greengrass:GetComponentVersionArtifact", "greengrass:ResolveComponentCandidates"],
                "arn:aws:greengrass:us-east-1:123456789012:components:*",
            )
        ),
        id="greengrass",
    ),
    pytest.param(
        policy(stmt("iot:AssumeRoleWithCertificate", f"{ARN}rolealias/uploader")),
        id="role-alias",
    ),
    pytest.param(
        policy(stmt("iot:UpdateThingShadow", f"{ARN}thing/{THING}/settings")),
        id="named-shadow",
    ),
    pytest.param(policy(stmt("iot:ListRetainedMessages", "*")), id="list-retained-on-star"),
    pytest.param(
        policy(
            stmt(
                "iotjobsdata:UpdateJobExecution",
                f"{ARN}thing/${{iot:Certificate.Subject.CommonName}}",
                condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
            )
        ),
        id="https-jobs-certificate-variable",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/$aws/rules/ingest/a/b/c/d/e/f/g")),
        id="basic-ingest-slashes",
    ),
    pytest.param(sized(MAX_POLICY_LENGTH), id="exactly-2048"),
    pytest.param(
        policy(stmt("iot:Publish", "arn:aws-cn:iot:cn-north-1:*:topic/a*"), CONNECT),
        id="china-partition",
    ),
]


@pytest.mark.parametrize("text", CLEAN)
def test_a_clean_policy_has_no_findings(text: str) -> None:
    assert lint_policy(text) == []


# (policy text, the codes it produces and no other, the statement every finding names)
BAD = [
    pytest.param("{", {"invalid-json"}, None, id="invalid-json"),
    pytest.param(b'{"Version": "\xff"}', {"invalid-json"}, None, id="invalid-utf8"),
    pytest.param('["iot:Connect"]', {"invalid-structure"}, None, id="not-an-object"),
    pytest.param(
        policy(CONNECT, {"Effect": "Allow", "Resource": "*"}),
        {"invalid-structure"},
        None,
        id="missing-action",
    ),
    pytest.param(sized(MAX_POLICY_LENGTH + 1), {"too-long"}, None, id="too-long"),
    pytest.param(
        policy(CONNECT, stmt(["iot:Publish", "iot:Subcribe"], f"{ARN}topic/a")),
        {"unknown-action"},
        2,
        id="typo-action",
    ),
    pytest.param(
        policy(CONNECT, stmt("s3:GetObject", "arn:aws:s3:::bucket/key")),
        {"unknown-action", "invalid-arn"},
        2,
        id="other-service",
    ),
    pytest.param(
        policy(stmt("iot:Connect", f"arn:aws:us-east-1:123456789012:client/{THING}")),
        {"invalid-arn"},
        1,
        id="arn-without-iot",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", [f"{ARN}topics/a", "topic/a"])),
        {"invalid-arn"},
        2,
        id="bad-type-and-not-an-arn",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", "arn:aws:iot:us-east-1:57EXAMPLE833:topic/a")),
        {"invalid-arn"},
        2,
        id="bad-account",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt("iot:Subscribe", f"{ARN}topic/d/{THING}/in")),
        {"topic-for-subscribe"},
        3,
        id="topic-for-subscribe",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Receive", f"{ARN}topicfilter/d/{THING}/in")),
        {"topicfilter-for-publish-receive"},
        2,
        id="topicfilter-for-receive",
    ),
    pytest.param(
        policy(stmt("iotjobsdata:GetPendingJobExecutions", f"{ARN}topic/$aws/things/t1/jobs")),
        {"jobs-resource-not-thing"},
        1,
        id="jobs-on-topic",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:GetThingShadow", f"{ARN}topic/$aws/things/t1/shadow/get")),
        {"wrong-resource-type"},
        2,
        id="shadow-on-topic",
    ),
    pytest.param(
        policy(stmt("iot:ListRetainedMessages", f"{ARN}topic/a")),
        {"wrong-resource-type"},
        1,
        id="list-retained-needs-star",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt(["iot:Subscribe"], [f"{ARN}topicfilter/a", f"{ARN}topic/b"])),
        {"topic-for-subscribe"},
        3,
        id="one-topic-among-filters",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/{THING}/+/status")),
        {"mqtt-wildcard"},
        2,
        id="plus-in-topic",
    ),
    pytest.param(
        policy(CONNECT, stmt(["iot:Publish", "iot:Receive"], f"{ARN}topic/d/#")),
        {"mqtt-wildcard"},
        2,
        id="hash-in-topic",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt("iot:Subscribe", f"{ARN}topicfilter/d/#/x")),
        {"invalid-topic"},
        3,
        id="hash-not-last",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt("iot:Subscribe", f"{ARN}topicfilter/d/a+")),
        {"invalid-topic"},
        3,
        id="plus-inside-level",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/1/2/3/4/5/6/7/8/9")),
        {"invalid-topic"},
        2,
        id="eight-slashes",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/a\u0000b")),
        {"invalid-topic"},
        2,
        id="nul-in-topic",
    ),
    pytest.param(
        policy(stmt("iotjobsdata:DescribeJobExecution", f"{ARN}thing/{THING}")),
        {"thing-variable-over-https"},
        1,
        id="thing-variable-over-https",
    ),
    pytest.param(
        policy(stmt("iot:*", "*")),
        {"action-wildcard", "client-wildcard", "resource-wildcard"},
        1,
        id="iot-star",
    ),
    pytest.param(
        policy(CONNECT, stmt("*", f"{ARN}topic/a")),
        {"action-wildcard"},
        2,
        id="star-action",
    ),
    pytest.param(
        policy(stmt("iot:Connect", f"{ARN}client/*"), RECEIVE),
        {"client-wildcard"},
        1,
        id="client-star",
    ),
    pytest.param(
        policy(stmt("iot:Connect", f"{ARN}client/${{iot:ClientId}}"), RECEIVE),
        {"client-wildcard"},
        1,
        id="client-is-clientid",
    ),
    pytest.param(
        policy(stmt("iot:Connect", f"{ARN}client/sensor-*"), RECEIVE),
        {"client-wildcard-prefix"},
        1,
        id="client-prefix",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:*Shadow", f"{ARN}thing/{THING}")),
        {"partial-action-wildcard"},
        2,
        id="partial-action-wildcard",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Foo*", f"{ARN}thing/{THING}")),
        {"unknown-action"},
        2,
        id="pattern-matching-nothing",
    ),
    pytest.param(
        policy(CONNECT, RECEIVE, stmt("iot:Publish", f"{ARN}topic/*")),
        {"resource-wildcard"},
        3,
        id="every-topic",
    ),
    pytest.param(
        policy(CONNECT, stmt("IOT:publish", f"{ARN}topic/a")),
        {"action-case"},
        2,
        id="action-case",
    ),
    pytest.param(
        policy(stmt("iot:UpdateJobExecution", f"{ARN}thing/t1")),
        {"legacy-jobs-action"},
        1,
        id="legacy-jobs-action",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Subscribe", f"{ARN}topicfilter/d/{THING}/in")),
        {"missing-receive"},
        2,
        id="missing-receive",
    ),
    pytest.param(
        policy(stmt("iot:Publish", f"{ARN}topic/a"), RECEIVE),
        {"missing-connect"},
        1,
        id="missing-connect",
    ),
    pytest.param(
        policy(
            stmt("iot:Publish", f"{ARN}topic/d/${{iot:ClientId}}"),
            stmt("iot:Connect", f"{ARN}client/c1"),
        ),
        {"clientid-without-isattached"},
        1,
        id="clientid-without-isattached",
    ),
    pytest.param(
        policy(CONNECT, stmt("iot:Publish", f"{ARN}topic/d/${{iot:clientId}}")),
        {"unknown-variable"},
        2,
        id="variable-case",
    ),
    pytest.param(
        policy(CONNECT, version=None),
        {"old-version"},
        None,
        id="no-version-with-variables",
    ),
    pytest.param(
        policy(CONNECT, version="2008-10-17"),
        {"old-version"},
        None,
        id="2008-version-with-variables",
    ),
]


@pytest.mark.parametrize(("text", "codes", "statement"), BAD)
def test_each_mistake_gives_its_finding(
    text: str | bytes, codes: set[str], statement: int | None
) -> None:
    findings = lint_policy(text)
    assert {f.code for f in findings} == codes
    for finding in findings:
        assert finding.statement == statement
        assert finding.severity is RULES[finding.code]
        if statement is not None:
            assert finding.message.startswith(f"statement {statement}: ")


def test_every_rule_is_exercised() -> None:
    exercised: set[str] = set()
    for case in BAD:
        codes = case.values[1]
        assert isinstance(codes, set)
        exercised |= codes
    assert exercised == set(RULES)


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        # topic/ on a Subscribe, and the HTTPS Jobs actions on a topic/ ARN.
        pytest.param(
            "basic-jobs-example.json",
            {"topic-for-subscribe", "jobs-resource-not-thing"},
            id="basic-jobs-example",
        ),
        # Subscribe on topic/ ARNs only, and neither Connect nor Receive.
        pytest.param(
            "iot-data-plane-jobs-mqtt.json",
            {"topic-for-subscribe", "missing-receive", "missing-connect"},
            id="iot-data-plane-jobs",
        ),
        # `arn:aws:<region>:` without `iot` on the Connect grant.
        pytest.param("device-client-readme.json", {"invalid-arn"}, id="device-client-readme"),
    ],
)
def test_the_broken_published_examples_of_spec_section_4(path: str, codes: set[str]) -> None:
    findings = lint_policy((BROKEN / path).read_bytes())
    assert {f.code for f in findings} == codes
    assert all(f.severity is RULES[f.code] for f in findings)


def test_messages_name_the_statement_and_the_offending_value() -> None:
    bad = f"{ARN}topic/d/{THING}/in"
    (finding,) = lint_policy(policy(CONNECT, RECEIVE, stmt("iot:Subscribe", bad)))
    assert finding == Finding(
        severity=Severity.ERROR,
        code="topic-for-subscribe",
        message=f"statement 3: iot:Subscribe on {bad} grants nothing: "
        "it is checked only against topicfilter/ ARNs",
        statement=3,
    )
    assert str(finding) == f"error: {finding.message} [topic-for-subscribe]"
    assert "\n" not in finding.message


def test_a_typo_gets_a_suggestion() -> None:
    (finding,) = lint_policy(policy(CONNECT, stmt("iot:Recieve", f"{ARN}topic/a")))
    assert finding.code == "unknown-action"
    assert "iot:Recieve" in finding.message
    assert "did you mean iot:Receive?" in finding.message


def test_a_mistake_repeated_in_one_statement_is_reported_once() -> None:
    findings = lint_policy(policy(CONNECT, stmt(["iot:Bogus", "iot:Bogus"], f"{ARN}topic/a")))
    assert [f.code for f in findings] == ["unknown-action"]


def test_actions_match_whatever_their_case() -> None:
    text = policy(stmt("IOT:CONNECT", f"{ARN}client/{THING}", condition=ATTACHED), RECEIVE)
    assert [f.code for f in lint_policy(text)] == ["action-case"]


def test_policy_length_ignores_whitespace() -> None:
    assert policy_length('{ "a" :\n\t"b c" }') == len('{"a":"bc"}')
    assert policy_length(sized(MAX_POLICY_LENGTH)) == MAX_POLICY_LENGTH


def test_every_action_names_a_resource_type_the_linter_knows() -> None:
    kinds = set(ACTION_RESOURCE_TYPES.values())
    assert kinds == {"client", "topic", "topicfilter", "thing", "rolealias", "*"}
    for action, kind in ACTION_RESOURCE_TYPES.items():
        resource = "*" if kind == "*" else f"{ARN}{kind}/x"
        findings = lint_policy(policy(stmt(action, resource)))
        assert not {"unknown-action", "invalid-arn", "wrong-resource-type"} & {
            f.code for f in findings
        }, action


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["Version", "Statement", "Effect", "Action", "Resource", "Condition", "x"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
actions = st.sampled_from(
    [*ACTION_RESOURCE_TYPES, "iot:*", "*", "iot:Get*", "greengrass:Discover"]
) | st.text(max_size=20)
resources = st.sampled_from(["*", f"{ARN}*"]) | st.builds(
    lambda kind, name: f"{ARN}{kind}/{name}",
    st.sampled_from(["client", "topic", "topicfilter", "thing", "rolealias", "cert", "*"]),
    st.text(alphabet="ab/+#*?${}:.", max_size=20),
)
statements = st.builds(
    stmt,
    st.lists(actions, min_size=1, max_size=4),
    st.lists(resources, min_size=1, max_size=4),
    effect=st.sampled_from(["Allow", "Deny"]),
    condition=st.none() | st.just(ATTACHED),
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60) | json_values.map(json.dumps))
def test_any_text_gives_findings_never_an_exception(text: str) -> None:
    for finding in lint_policy(text):
        assert finding.severity is RULES[finding.code]


@settings(max_examples=200, deadline=None)
@given(st.lists(statements, min_size=1, max_size=4))
def test_any_policy_gives_findings_with_their_rule_severity(parts: list[dict[str, Any]]) -> None:
    findings = lint_policy(policy(*parts))
    assert len(findings) == len(set(findings))
    for finding in findings:
        assert finding.severity is RULES[finding.code]
        assert finding.statement is None or 1 <= finding.statement <= len(parts)
