"""Condition blocks: IAM semantics on the IoT keys, and fail-closed on what is not supported."""

from __future__ import annotations

import pytest

from certs_tool.policy.document import Condition
from simfleet.emulator.policy import (
    CertificateInfo,
    PrincipalContext,
    Protocol,
    ThingIdentity,
    compile_policies,
)
from simfleet.emulator.policy.conditions import condition_holds
from simfleet.emulator.policy.variables import ContextValues
from tests.emulator.policy.helpers import ACCOUNT, REGION, THING, mqtt_context, policy, statement

CONTEXT = PrincipalContext(
    protocol=Protocol.MQTT,
    region=REGION,
    account_id=ACCOUNT,
    certificate=CertificateInfo(
        certificate_id="ab" * 32,
        subject={"CommonName": (THING,), "Organization": ("Example Corp", "AnyCompany")},
    ),
    client_id=THING,
    attached_things=(ThingIdentity(name=THING, type_name="sensor", attributes={"fleet": "blue"}),),
    source_ip="10.1.2.3",
)

ORG_LIST = "iot:Certificate.Subject.Organization.List"
TITLE_LIST = "iot:Certificate.Subject.Title.List"
TITLE = "iot:Certificate.Subject.Title"  # absent from the certificate


def holds(operator: str, key: str, values: tuple[str, ...], *, when_unsupported: bool) -> bool:
    condition = Condition(operator=operator, key=key, values=values)
    return condition_holds(condition, ContextValues(CONTEXT), when_unsupported=when_unsupported)


@pytest.mark.parametrize(
    ("operator", "key", "values", "expected"),
    [
        pytest.param("Bool", "iot:Connection.Thing.IsAttached", ("true",), True, id="bool-true"),
        pytest.param("Bool", "iot:Connection.Thing.IsAttached", ("false",), False, id="bool-f"),
        pytest.param("Bool", "iot:Connection.Thing.IsAttached", ("TRUE",), True, id="bool-case"),
        pytest.param("StringEquals", "iot:ClientId", (THING,), True, id="equals"),
        pytest.param("StringEquals", "iot:ClientId", ("x", THING), True, id="equals-any-value"),
        pytest.param("StringEquals", "iot:ClientId", ("DEV-001",), False, id="equals-case"),
        pytest.param("StringEquals", "iot:ClientId", ("dev-0*",), False, id="equals-star-literal"),
        pytest.param("StringEquals", "IOT:clientid", (THING,), True, id="key-case-insensitive"),
        pytest.param("StringEqualsIgnoreCase", "iot:ClientId", ("DEV-001",), True, id="eq-ic"),
        pytest.param("StringNotEquals", "iot:ClientId", ("dev-002",), True, id="not-equals"),
        pytest.param("StringNotEquals", "iot:ClientId", ("x", THING), False, id="not-equals-nor"),
        pytest.param("StringNotEqualsIgnoreCase", "iot:ClientId", ("DEV-001",), False, id="ne-ic"),
        pytest.param("StringLike", "iot:ClientId", ("dev-*",), True, id="like-star"),
        pytest.param("StringLike", "iot:ClientId", ("dev-00?",), True, id="like-question"),
        pytest.param("StringLike", "iot:ClientId", ("dev-?",), False, id="like-miss"),
        pytest.param("StringNotLike", "iot:ClientId", ("dev-*",), False, id="not-like-hit"),
        pytest.param("StringNotLike", "iot:ClientId", ("x*",), True, id="not-like-miss"),
        pytest.param(
            "StringEquals",
            "iot:ClientId",
            ("${iot:Certificate.Subject.CommonName}",),
            True,
            id="variable-in-value",
        ),
        pytest.param(
            "StringEquals",
            "iot:ClientId",
            ("${iot:Connection.Thing.ThingName}",),
            True,
            id="thing-variable-in-value",
        ),
        pytest.param(
            "StringEquals", "iot:ClientId", ("${iot:Nope}",), False, id="unresolved-value"
        ),
        pytest.param(
            "StringEquals",
            "iot:Certificate.Subject.Organization",
            ("Example Corp",),
            True,
            id="first-value",
        ),
        pytest.param(
            "StringEquals",
            "iot:Certificate.Subject.Organization",
            ("AnyCompany",),
            False,
            id="second-value-not-first",
        ),
        pytest.param(
            "StringEquals",
            "iot:Certificate.Subject.Organization.1",
            ("AnyCompany",),
            True,
            id="indexed-value",
        ),
        pytest.param(
            "ForAllValues:StringEquals",
            ORG_LIST,
            ("Example Corp", "AnyCompany"),
            True,
            id="for-all-values",
        ),
        pytest.param(
            "ForAllValues:StringEquals", ORG_LIST, ("Example Corp",), False, id="for-all-miss"
        ),
        pytest.param(
            "ForAnyValue:StringEquals", ORG_LIST, ("AnyCompany",), True, id="for-any-value"
        ),
        pytest.param(
            "ForAnyValue:StringNotEquals", ORG_LIST, ("Example Corp",), True, id="for-any-not"
        ),
        pytest.param("ForAllValues:StringNotEquals", ORG_LIST, ("Other",), True, id="for-all-not"),
        pytest.param("ForAllValues:StringEquals", TITLE_LIST, ("x",), True, id="for-all-absent"),
        pytest.param("ForAnyValue:StringEquals", TITLE_LIST, ("x",), False, id="for-any-absent"),
        pytest.param("StringEquals", TITLE, ("x",), False, id="absent-positive"),
        pytest.param("StringNotEquals", TITLE, ("x",), True, id="absent-negated"),
        pytest.param("StringEqualsIfExists", TITLE, ("x",), True, id="if-exists-absent"),
        pytest.param("StringEqualsIfExists", "iot:ClientId", ("x",), False, id="if-exists-present"),
        pytest.param("Null", TITLE, ("true",), True, id="null-absent"),
        pytest.param("Null", "iot:ClientId", ("true",), False, id="null-present"),
        pytest.param("Null", "iot:ClientId", ("false",), True, id="not-null-present"),
        pytest.param("IpAddress", "aws:SourceIp", ("10.0.0.0/8",), True, id="ip-in-cidr"),
        pytest.param("IpAddress", "aws:SourceIp", ("192.168.0.0/16",), False, id="ip-outside"),
        pytest.param(
            "IpAddress", "aws:SourceIp", ("192.168.0.0/16", "10.1.2.3"), True, id="ip-any-value"
        ),
        pytest.param("IpAddress", "aws:SourceIp", ("::1/128",), False, id="ip-other-family"),
        pytest.param("NotIpAddress", "aws:SourceIp", ("10.0.0.0/8",), False, id="not-ip-in"),
        pytest.param("NotIpAddress", "aws:SourceIp", ("192.168.0.0/16",), True, id="not-ip-out"),
        pytest.param(
            "StringEquals", "iot:Connection.Thing.ThingTypeName", ("sensor",), True, id="type"
        ),
        pytest.param(
            "StringEquals",
            "iot:Connection.Thing.Attributes[fleet]",
            ("blue",),
            True,
            id="thing-attribute",
        ),
    ],
)
def test_supported_conditions(
    operator: str, key: str, values: tuple[str, ...], expected: bool
) -> None:
    # The answer must not depend on the fail-closed default: these are all evaluated.
    assert holds(operator, key, values, when_unsupported=False) is expected
    assert holds(operator, key, values, when_unsupported=True) is expected


@pytest.mark.parametrize(
    ("operator", "key", "values"),
    [
        pytest.param("NumericEquals", "iot:ClientId", ("1",), id="numeric-operator"),
        pytest.param("DateLessThan", "iot:ClientId", ("2030-01-01",), id="date-operator"),
        pytest.param("stringequals", "iot:ClientId", (THING,), id="operator-case"),
        pytest.param("StringEquals", "aws:CurrentTime", ("x",), id="unknown-aws-key"),
        pytest.param("StringEquals", "iot:Certificate.Subject.Locality", ("x",), id="locality"),
        pytest.param("StringEquals", "iot:Certificate.AvailableKeys", ("x",), id="available-keys"),
        pytest.param("StringEquals", "iot:Certificate.Subject.CommonName.x", ("x",), id="suffix"),
        pytest.param("Bool", "iot:Connection.Thing.IsAttached", ("yes",), id="bool-value"),
        pytest.param("IpAddress", "aws:SourceIp", ("not-an-ip",), id="bad-cidr"),
        pytest.param("Null", "iot:ClientId", ("maybe",), id="null-value"),
        pytest.param("ForAnyValue:Null", "iot:ClientId", ("true",), id="qualified-null"),
    ],
)
def test_unsupported_conditions_take_the_fail_closed_value(
    operator: str, key: str, values: tuple[str, ...]
) -> None:
    assert holds(operator, key, values, when_unsupported=False) is False
    assert holds(operator, key, values, when_unsupported=True) is True


def test_unsupported_condition_fails_closed_in_a_policy() -> None:
    unknown = {"NumericLessThan": {"iot:ClientId": "5"}}
    allow_only = policy(statement("Allow", "iot:Publish", "*", Condition=unknown))
    assert not compile_policies([allow_only], mqtt_context()).can_publish("a")
    deny_too = policy(
        statement("Allow", "iot:Publish", "*"),
        statement("Deny", "iot:Publish", "*", Condition=unknown),
    )
    assert not compile_policies([deny_too], mqtt_context()).can_publish("a")


def test_conditions_of_a_statement_are_anded() -> None:
    both = {
        "StringEquals": {"iot:ClientId": THING},
        "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
    }
    document = policy(statement("Allow", "iot:Publish", "*", Condition=both))
    assert compile_policies([document], mqtt_context()).can_publish("a")
    assert not compile_policies([document], mqtt_context(source_ip="10.0.0.1")).can_publish("a")
    assert not compile_policies([document], mqtt_context(client_id="x")).can_publish("a")


def test_source_ip_unknown_to_the_driver() -> None:
    only_lan = policy(
        statement(
            "Allow", "iot:Publish", "*", Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}
        )
    )
    assert not compile_policies([only_lan], mqtt_context(source_ip=None)).can_publish("a")
    not_blocked = policy(
        statement(
            "Allow", "iot:Publish", "*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
        )
    )
    assert compile_policies([not_blocked], mqtt_context(source_ip=None)).can_publish("a")
