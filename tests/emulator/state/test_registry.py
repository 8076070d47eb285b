"""The registry: fleet registration (idempotent, incremental, checked), principals for the
broker, certificates' status, things and thing groups, and what a restart keeps."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from certs_tool import Fleet, FleetError, load_fleet, mint_devices
from certs_tool.policy.document import parse_policy
from certs_tool.policy.templates import render_template
from simfleet.emulator.errors import AwsError
from simfleet.emulator.policy import ThingIdentity
from simfleet.emulator.registry import pem_certificate_id
from simfleet.emulator.store import DATABASE_FILE
from tests.conftest import MakeFleet
from tests.emulator.state.helpers import State, open_state


def _dump(state_dir: Path) -> list[object]:
    """Every row of every table, to compare a state directory before and after."""
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    rows: list[object] = [
        (table, sorted(db.execute(f"SELECT * FROM {table}"))) for table in sorted(tables)
    ]
    db.close()
    return rows


def test_every_device_gets_an_active_principal(state: State, shared_fleet: Fleet) -> None:
    documents = dict(shared_fleet.policy_documents())
    for device in shared_fleet.devices:
        principal = state.registry.principal(device.certificate_id)
        assert principal is not None
        assert principal.status == "ACTIVE"
        assert principal.is_active
        assert principal.certificate_pem == shared_fleet.cert_path(device).read_bytes()
        assert pem_certificate_id(principal.certificate_pem) == device.certificate_id
        assert principal.things == (ThingIdentity(name=device.thing_name),)
        assert principal.policies == tuple(parse_policy(documents[p]) for p in device.policies)


def test_principals_share_their_parsed_policies(state: State, shared_fleet: Fleet) -> None:
    first, second = (state.registry.principal(d.certificate_id) for d in shared_fleet.devices[:2])
    assert first is not None
    assert second is not None
    assert first.policies == second.policies
    assert first.policies is second.policies


def test_an_unknown_certificate_has_no_principal(state: State) -> None:
    assert state.registry.principal("0" * 64) is None


def test_the_fleet_ca_is_trusted(state: State, shared_fleet: Fleet) -> None:
    assert state.registry.trusted_ca_certificates() == [shared_fleet.ca_cert_path.read_bytes()]


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_a_certificate_that_is_not_active_is_refused(
    state: State, shared_fleet: Fleet, state_dir: Path, status: str
) -> None:
    certificate_id = shared_fleet.devices[0].certificate_id
    assert state.registry.principal(certificate_id) is not None  # cached before the change
    state.control.update_certificate(certificateId=certificate_id, newStatus=status)
    principal = state.registry.principal(certificate_id)
    assert principal is not None
    assert principal.status == status
    assert not principal.is_active
    # The change is stored, and a new registration of the same fleet does not undo it.
    state.store.close()
    reopened = open_state(state_dir)
    assert reopened.registry.register_fleet(shared_fleet) == 0
    principal = reopened.registry.principal(certificate_id)
    assert principal is not None
    assert principal.status == status
    reopened.store.close()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param("PENDING_TRANSFER", "InvalidRequestException", id="internal-status"),
        pytest.param("GONE", "InvalidRequestException", id="not-a-status"),
    ],
)
def test_update_certificate_refuses_statuses_aws_refuses(
    state: State, shared_fleet: Fleet, status: str, code: str
) -> None:
    with pytest.raises(AwsError) as raised:
        state.control.update_certificate(
            certificateId=shared_fleet.devices[0].certificate_id, newStatus=status
        )
    assert raised.value.code == code


def test_registering_the_same_fleet_again_changes_nothing(
    state: State, shared_fleet: Fleet, state_dir: Path
) -> None:
    before = _dump(state_dir)
    assert state.registry.register_fleet(shared_fleet) == 0
    state.store.close()
    reopened = open_state(state_dir)
    assert reopened.registry.register_fleet(shared_fleet) == 0
    reopened.store.close()
    assert _dump(state_dir) == before


def test_a_grown_fleet_registers_only_its_new_devices(
    make_fleet: MakeFleet, state_dir: Path
) -> None:
    fleet = make_fleet(count=2)
    state = open_state(state_dir)
    assert state.registry.register_fleet(fleet) == 2
    thing_ids = {t.name: t.thing_id for t in state.registry.things()}
    state.store.close()

    mint_devices(fleet.root, count=5, workers=1)
    grown = load_fleet(fleet.root)
    reopened = open_state(state_dir)
    assert reopened.registry.register_fleet(grown) == 3
    assert {t.name: t.thing_id for t in reopened.registry.things()}.items() >= thing_ids.items()
    assert len(list(reopened.registry.things())) == 5
    for device in grown.devices:
        principal = reopened.registry.principal(device.certificate_id)
        assert principal is not None
        assert principal.things == (ThingIdentity(name=device.thing_name),)
    reopened.store.close()


def test_a_changed_fleet_policy_becomes_the_new_default(
    make_fleet: MakeFleet, state_dir: Path
) -> None:
    fleet = make_fleet(count=1)
    state = open_state(state_dir)
    state.registry.register_fleet(fleet)
    device = fleet.devices[0]
    [name] = device.policies
    narrower = render_template("jobs-mqtt")
    fleet.paths.policy(name).write_text(narrower.dumps())
    assert state.registry.register_fleet(fleet) == 0
    assert state.registry.policy(name).default_version == "2"
    principal = state.registry.principal(device.certificate_id)
    assert principal is not None
    assert principal.policies == (narrower,)
    state.store.close()


def test_a_certificate_that_is_not_the_manifests_is_refused(
    shared_fleet: Fleet, state_dir: Path
) -> None:
    first, second = shared_fleet.devices[:2]
    swapped = dataclasses.replace(first, cert_path=second.cert_path)
    fleet = dataclasses.replace(shared_fleet, devices=(swapped,))
    state = open_state(state_dir)
    with pytest.raises(FleetError, match="certs-tool verify"):
        state.registry.register_fleet(fleet)
    assert state.registry.principal(first.certificate_id) is None
    assert not state.registry.thing_exists(first.thing_name)
    state.store.close()


def test_a_device_policy_the_fleet_does_not_hold_is_not_found(
    shared_fleet: Fleet, state_dir: Path
) -> None:
    device = dataclasses.replace(shared_fleet.devices[0], policies=("missing",))
    state = open_state(state_dir)
    with pytest.raises(AwsError) as raised:
        state.registry.register_fleet(dataclasses.replace(shared_fleet, devices=(device,)))
    assert raised.value.code == "ResourceNotFoundException"
    state.store.close()


def test_things_groups_and_memberships_survive_a_restart(
    state: State, state_dir: Path, things: list[str]
) -> None:
    control = state.control
    control.create_thing(thingName="extra", attributePayload={"attributes": {"model": "x1"}})
    control.create_thing_group(thingGroupName="parent")
    control.create_thing_group(
        thingGroupName="child",
        parentGroupName="parent",
        thingGroupProperties={"thingGroupDescription": "the child"},
    )
    control.add_thing_to_thing_group(thingGroupName="child", thingName="extra")
    control.add_thing_to_thing_group(thingGroupName="parent", thingName=things[0])
    before = (
        control.describe_thing(thingName="extra"),
        control.describe_thing_group(thingGroupName="child"),
        state.registry.thing_group_members("parent"),
    )
    state.store.close()
    reopened = open_state(state_dir)
    after = (
        reopened.control.describe_thing(thingName="extra"),
        reopened.control.describe_thing_group(thingGroupName="child"),
        reopened.registry.thing_group_members("parent"),
    )
    assert after == before
    assert after[2] == [things[0], "extra"]
    reopened.store.close()


def test_group_members_include_child_groups_once(state: State, things: list[str]) -> None:
    registry = state.registry
    for name, parent in [("a", None), ("b", "a"), ("c", "b"), ("d", "a")]:
        registry.create_thing_group(name, parent=parent, attributes={})
    registry.add_thing_to_thing_group("a", things[0])
    registry.add_thing_to_thing_group("b", things[1])
    registry.add_thing_to_thing_group("c", things[2])
    registry.add_thing_to_thing_group("c", things[0])
    registry.add_thing_to_thing_group("d", things[3])
    registry.add_thing_to_thing_group("d", things[3])
    assert registry.thing_group_members("a") == [things[0], things[1], things[2], things[3]]
    assert registry.thing_group_members("c") == [things[2], things[0]]
    assert [g.name for g in registry.ancestors("c")] == ["a", "b"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param(
            lambda r: r.add_thing_to_thing_group("nope", "sim-000000"),
            "ResourceNotFoundException",
            id="unknown-group",
        ),
        pytest.param(
            lambda r: r.add_thing_to_thing_group("g", "nope"),
            "ResourceNotFoundException",
            id="unknown-thing",
        ),
        pytest.param(
            lambda r: r.create_thing_group("x", parent="nope", attributes={}),
            "ResourceNotFoundException",
            id="unknown-parent",
        ),
        pytest.param(
            lambda r: r.create_thing_group("g", attributes={"other": "1"}),
            "ResourceAlreadyExistsException",
            id="group-exists-differently",
        ),
        pytest.param(
            lambda r: r.create_thing("sim-000000", attributes={"other": "1"}),
            "ResourceAlreadyExistsException",
            id="thing-exists-differently",
        ),
        pytest.param(
            lambda r: r.create_thing("t", type_name="sensor", attributes={}),
            "ResourceNotFoundException",
            id="no-thing-types",
        ),
        pytest.param(lambda r: r.thing("nope"), "ResourceNotFoundException", id="thing"),
        pytest.param(lambda r: r.policy("nope"), "ResourceNotFoundException", id="policy"),
        pytest.param(
            lambda r: r.certificate("0" * 64), "ResourceNotFoundException", id="certificate"
        ),
    ],
)
def test_registry_errors_carry_aws_codes(state: State, call: object, code: str) -> None:
    state.registry.create_thing_group("g", attributes={})
    with pytest.raises(AwsError) as raised:
        call(state.registry)  # type: ignore[operator]
    assert raised.value.code == code


def test_creating_the_same_thing_or_group_again_answers_the_existing_one(state: State) -> None:
    first = state.registry.create_thing("t", attributes={"a": "1"})
    assert state.registry.create_thing("t", attributes={"a": "1"}) is first
    group = state.registry.create_thing_group("g", description="d", attributes={})
    assert state.registry.create_thing_group("g", description="d", attributes={}) is group
