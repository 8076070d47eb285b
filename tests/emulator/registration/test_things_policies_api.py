"""Things, their principals, thing groups, policies and tags through boto3 over TLS: each
operation's answer, what AWS refuses (codes and statuses), and policies created through the API
enforced at the next CONNECT."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from certs_tool import Fleet
from tests.emulator.registration.helpers import Running, create_fleet_policies, register_device


def _error(call: Callable[[], object]) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def _other(arn: str) -> str:
    """Another certificate ARN: its last hex digit changed."""
    return arn[:-1] + ("1" if arn.endswith("0") else "0")


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = _document({"Effect": "Allow", "Action": "iot:*", "Resource": "*"})


# --- policies ---------------------------------------------------------------------------------


def test_policies_are_created_read_listed_and_deleted(running: Running, iot: Any) -> None:
    created = iot.create_policy(policyName="first", policyDocument=ALLOW_ALL)
    assert created["policyArn"] == running.arn("policy", "first")
    assert (created["policyDocument"], created["policyVersionId"]) == (ALLOW_ALL, "1")
    iot.create_policy(policyName="second", policyDocument=ALLOW_ALL)
    got = iot.get_policy(policyName="first")
    assert (got["policyName"], got["policyDocument"], got["defaultVersionId"]) == (
        "first",
        ALLOW_ALL,
        "1",
    )
    assert [p["policyName"] for p in iot.list_policies()["policies"]] == ["second", "first"]
    page = iot.list_policies(ascendingOrder=True, pageSize=1)
    assert [p["policyName"] for p in page["policies"]] == ["first"]
    rest = iot.list_policies(ascendingOrder=True, pageSize=1, marker=page["nextMarker"])
    assert [p["policyName"] for p in rest["policies"]] == ["second"]
    assert "nextMarker" not in rest

    code, status, response = _error(
        lambda: iot.create_policy(policyName="first", policyDocument=ALLOW_ALL)
    )
    assert (code, status) == ("ResourceAlreadyExistsException", 409)
    assert (response["resourceId"], response["resourceArn"]) == ("first", created["policyArn"])
    iot.delete_policy(policyName="first")
    assert _error(lambda: iot.get_policy(policyName="first"))[:2] == (
        "ResourceNotFoundException",
        404,
    )


@pytest.mark.parametrize(
    ("name", "document", "code"),
    [
        pytest.param("p", "{not json", "MalformedPolicyException", id="not-json"),
        pytest.param("p", json.dumps({"Statement": []}), "MalformedPolicyException", id="empty"),
        pytest.param(
            "p",
            _document({"Effect": "Allow", "Action": "iot:Publish", "Resource": "x" * 2100}),
            "MalformedPolicyException",
            id="too-long",
        ),
        pytest.param("bad name!", ALLOW_ALL, "InvalidRequestException", id="bad-name"),
    ],
)
def test_what_create_policy_refuses(iot: Any, name: str, document: str, code: str) -> None:
    assert _error(lambda: iot.create_policy(policyName=name, policyDocument=document))[:2] == (
        code,
        400,
    )
    assert iot.list_policies()["policies"] == []


def test_attach_detach_and_list_policies(running: Running, iot: Any, fleet: Fleet) -> None:
    device = fleet.devices[0]
    arn = iot.register_certificate_without_ca(certificatePem=fleet.cert_path(device).read_text())[
        "certificateArn"
    ]
    for index in range(10):
        iot.create_policy(policyName=f"p{index}", policyDocument=ALLOW_ALL)
        iot.attach_policy(policyName=f"p{index}", target=arn)
    iot.attach_policy(policyName="p0", target=arn)  # again: nothing changes
    attached = iot.list_attached_policies(target=arn)["policies"]
    assert [p["policyName"] for p in attached] == [f"p{i}" for i in range(10)]
    assert iot.list_targets_for_policy(policyName="p3")["targets"] == [arn]
    iot.create_policy(policyName="p10", policyDocument=ALLOW_ALL)
    assert _error(lambda: iot.attach_policy(policyName="p10", target=arn))[:2] == (
        "LimitExceededException",
        410,
    )
    iot.detach_policy(policyName="p3", target=arn)
    assert iot.list_targets_for_policy(policyName="p3")["targets"] == []
    assert _error(lambda: iot.detach_policy(policyName="p3", target=arn))[:2] == (
        "ResourceNotFoundException",
        404,
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("missing-policy", ("ResourceNotFoundException", 404), id="unknown-policy"),
        pytest.param("cert/" + "a" * 64, ("ResourceNotFoundException", 404), id="unknown-cert"),
        pytest.param("not-an-arn", ("InvalidRequestException", 400), id="not-an-arn"),
        pytest.param("thinggroup/g", ("NotImplementedException", 501), id="thing-group"),
    ],
)
def test_what_attach_policy_refuses(
    running: Running, iot: Any, fleet: Fleet, target: str, expected: tuple[str, int]
) -> None:
    device = fleet.devices[0]
    certificate_arn = iot.register_certificate_without_ca(
        certificatePem=fleet.cert_path(device).read_text()
    )["certificateArn"]
    iot.create_policy(policyName="p", policyDocument=ALLOW_ALL)
    policy, arn = "p", certificate_arn
    if target == "missing-policy":
        policy = "missing"
    elif target == "not-an-arn":
        arn = target
    else:
        kind, name = target.split("/")
        arn = running.arn(kind, name)
    assert _error(lambda: iot.attach_policy(policyName=policy, target=arn))[:2] == expected


def test_a_policy_created_through_the_api_is_enforced_at_connect(
    running: Running, iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    device = fleet.devices[0]
    arn = iot.register_certificate(
        certificatePem=fleet.cert_path(device).read_text(), status="ACTIVE"
    )["certificateArn"]
    connect_only_as = _document(
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": running.arn("client", "someone-else"),
        }
    )
    iot.create_policy(policyName="narrow", policyDocument=connect_only_as)
    iot.attach_policy(policyName="narrow", target=arn)
    denied = running.device(device)
    assert denied.connect() is None
    denied.stop()
    iot.create_policy(policyName="wide", policyDocument=ALLOW_ALL)
    iot.attach_policy(policyName="wide", target=arn)
    allowed = running.device(device)
    assert allowed.connect() == 0
    allowed.close()


# --- things and principals --------------------------------------------------------------------


def test_thing_principals_both_ways(running: Running, iot: Any, fleet: Fleet) -> None:
    device = fleet.devices[0]
    arn = iot.register_certificate_without_ca(certificatePem=fleet.cert_path(device).read_text())[
        "certificateArn"
    ]
    for thing in ("t1", "t2"):
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=arn)
    iot.attach_thing_principal(
        thingName="t1", principal=arn, thingPrincipalType="NON_EXCLUSIVE_THING"
    )
    assert iot.list_thing_principals(thingName="t1")["principals"] == [arn]
    assert iot.list_principal_things(principal=arn)["things"] == ["t1", "t2"]
    page = iot.list_principal_things(principal=arn, maxResults=1)
    assert page["things"] == ["t1"]
    assert iot.list_principal_things(principal=arn, nextToken=page["nextToken"])["things"] == ["t2"]
    iot.detach_thing_principal(thingName="t1", principal=arn)
    assert iot.list_thing_principals(thingName="t1")["principals"] == []
    assert iot.list_principal_things(principal=arn)["things"] == ["t2"]
    iot.delete_thing(thingName="t1")
    assert [t["thingName"] for t in iot.list_things()["things"]] == ["t2"]


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        pytest.param(
            lambda iot, arn: iot.attach_thing_principal(thingName="nope", principal=arn),
            "ResourceNotFoundException",
            404,
            id="attach-unknown-thing",
        ),
        pytest.param(
            lambda iot, arn: iot.attach_thing_principal(thingName="t", principal=_other(arn)),
            "ResourceNotFoundException",
            404,
            id="attach-unknown-certificate",
        ),
        pytest.param(
            lambda iot, arn: iot.attach_thing_principal(
                thingName="t", principal=arn, thingPrincipalType="EXCLUSIVE_THING"
            ),
            "NotImplementedException",
            501,
            id="exclusive",
        ),
        pytest.param(
            lambda iot, arn: iot.detach_thing_principal(thingName="other", principal=arn),
            "ResourceNotFoundException",
            404,
            id="detach-not-attached",
        ),
        pytest.param(
            lambda iot, arn: iot.delete_thing(thingName="t"),
            "InvalidRequestException",
            400,
            id="delete-attached",
        ),
        pytest.param(
            lambda iot, arn: iot.delete_thing(thingName="other", expectedVersion=7),
            "VersionConflictException",
            409,
            id="delete-version",
        ),
        pytest.param(
            lambda iot, arn: iot.list_thing_principals(thingName="nope"),
            "ResourceNotFoundException",
            404,
            id="list-unknown-thing",
        ),
    ],
)
def test_what_thing_operations_refuse(
    iot: Any, fleet: Fleet, call: Callable[[Any, str], object], code: str, status: int
) -> None:
    arn = iot.register_certificate_without_ca(
        certificatePem=fleet.cert_path(fleet.devices[0]).read_text()
    )["certificateArn"]
    iot.create_thing(thingName="t")
    iot.create_thing(thingName="other")
    iot.attach_thing_principal(thingName="t", principal=arn)
    assert _error(lambda: call(iot, arn))[:2] == (code, status)


def test_deleting_a_thing_that_does_not_exist_succeeds(iot: Any) -> None:
    iot.delete_thing(thingName="never-was")
    iot.delete_thing_group(thingGroupName="never-was")


# --- thing groups ---------------------------------------------------------------------------------


def test_thing_groups_listed_emptied_and_deleted(running: Running, iot: Any) -> None:
    iot.create_thing_group(thingGroupName="fleet", tags=[{"Key": "owner", "Value": "test"}])
    iot.create_thing_group(thingGroupName="fleet-eu", parentGroupName="fleet")
    iot.create_thing_group(thingGroupName="fleet-eu-west", parentGroupName="fleet-eu")
    iot.create_thing_group(thingGroupName="other")
    for thing, group in (("a", "fleet"), ("b", "fleet-eu"), ("c", "fleet-eu-west")):
        iot.create_thing(thingName=thing)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)

    def names(**arguments: Any) -> list[str]:
        return [g["groupName"] for g in iot.list_thing_groups(**arguments)["thingGroups"]]

    assert names() == ["fleet", "fleet-eu", "fleet-eu-west", "other"]
    assert names(namePrefixFilter="fleet-") == ["fleet-eu", "fleet-eu-west"]
    assert names(recursive=False) == ["fleet", "other"]
    assert names(parentGroup="fleet") == ["fleet-eu"]
    assert names(parentGroup="fleet", recursive=True) == ["fleet-eu", "fleet-eu-west"]
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == ["a"]
    everything = iot.list_things_in_thing_group(thingGroupName="fleet", recursive=True)
    assert sorted(everything["things"]) == ["a", "b", "c"]
    groups = iot.list_thing_groups_for_thing(thingName="b")["thingGroups"]
    assert groups == [{"groupName": "fleet-eu", "groupArn": running.arn("thinggroup", "fleet-eu")}]

    iot.remove_thing_from_thing_group(thingGroupName="fleet-eu", thingName="b")
    iot.remove_thing_from_thing_group(thingGroupName="fleet-eu", thingName="b")  # no-op
    assert iot.list_things_in_thing_group(thingGroupName="fleet-eu")["things"] == []
    iot.delete_thing(thingName="c")  # its membership goes with it
    assert iot.list_things_in_thing_group(thingGroupName="fleet-eu-west")["things"] == []

    code, status, _ = _error(lambda: iot.delete_thing_group(thingGroupName="fleet"))
    assert (code, status) == ("InvalidRequestException", 400)  # it has child groups
    assert _error(lambda: iot.delete_thing_group(thingGroupName="other", expectedVersion=9))[
        :2
    ] == ("VersionConflictException", 409)
    for group in ("fleet-eu-west", "fleet-eu", "fleet", "other"):
        iot.delete_thing_group(thingGroupName=group)
    assert names() == []
    arn = running.arn("thinggroup", "fleet")
    assert _error(lambda: iot.list_tags_for_resource(resourceArn=arn))[:2] == (
        "ResourceNotFoundException",
        404,
    )
    # A group created again under the same name starts without the old tags.
    iot.create_thing_group(thingGroupName="fleet")
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == []


# --- tags -------------------------------------------------------------------------------------


def test_tags_of_a_policy(running: Running, iot: Any) -> None:
    iot.create_policy(
        policyName="p", policyDocument=ALLOW_ALL, tags=[{"Key": "fleet", "Value": "one"}]
    )
    arn = running.arn("policy", "p")
    iot.tag_resource(
        resourceArn=arn, tags=[{"Key": "fleet", "Value": "two"}, {"Key": "k", "Value": ""}]
    )
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "fleet", "Value": "two"},
        {"Key": "k", "Value": ""},
    ]
    iot.untag_resource(resourceArn=arn, tagKeys=["fleet", "absent"])
    assert iot.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "k", "Value": ""}]


@pytest.mark.parametrize(
    ("arn_of", "tags", "expected"),
    [
        pytest.param(
            lambda r: r.arn("thing", "t"),
            [{"Key": "a", "Value": "b"}],
            ("InvalidRequestException", 400),
            id="thing",
        ),
        pytest.param(
            lambda r: r.arn("job", "j"),
            [{"Key": "a", "Value": "b"}],
            ("NotImplementedException", 501),
            id="job",
        ),
        pytest.param(
            lambda r: r.arn("policy", "nope"),
            [{"Key": "a", "Value": "b"}],
            ("ResourceNotFoundException", 404),
            id="no-policy",
        ),
        pytest.param(
            lambda r: r.arn("policy", "p"),
            [{"Key": "aws:x", "Value": "b"}],
            ("InvalidRequestException", 400),
            id="aws-key",
        ),
        pytest.param(
            lambda r: r.arn("policy", "p"),
            [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
            ("LimitExceededException", 410),
            id="too-many",
        ),
        pytest.param(
            lambda r: "arn:aws:iot:us-east-1:000000000000:policy/p",
            [{"Key": "a", "Value": "b"}],
            ("InvalidRequestException", 400),
            id="other-account",
        ),
    ],
)
def test_what_tag_resource_refuses(
    running: Running,
    iot: Any,
    arn_of: Callable[[Running], str],
    tags: list[dict[str, str]],
    expected: tuple[str, int],
) -> None:
    iot.create_policy(policyName="p", policyDocument=ALLOW_ALL)
    iot.create_thing(thingName="t")
    answer = _error(lambda: iot.tag_resource(resourceArn=arn_of(running), tags=tags))
    assert answer[:2] == expected
    assert iot.list_tags_for_resource(resourceArn=running.arn("policy", "p"))["tags"] == []


def test_registering_the_fleet_again_counts_as_done(
    iot: Any, fleet: Fleet, ca_registered: str
) -> None:
    """What a resumed `certs-tool register` meets: every create answers "already exists" with
    the resource's id, or succeeds unchanged (CreateThing and AttachPolicy are idempotent)."""
    create_fleet_policies(iot, fleet)
    device = fleet.devices[0]
    arn = register_device(iot, fleet, device)
    for name, document in fleet.policy_documents():
        code, _, response = _error(
            lambda: iot.create_policy(policyName=name, policyDocument=document.decode())  # noqa: B023
        )
        assert (code, response["resourceId"]) == ("ResourceAlreadyExistsException", name)
    assert iot.create_thing(thingName=device.thing_name)["thingName"] == device.thing_name
    iot.attach_thing_principal(thingName=device.thing_name, principal=arn)
    for policy in device.policies:
        iot.attach_policy(policyName=policy, target=arn)
    assert iot.list_principal_things(principal=arn)["things"] == [device.thing_name]
