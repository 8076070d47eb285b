"""`cleanup_fleet` against moto's server mode: it removes the fleet and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from certs_tool import Fleet
from certs_tool.aws import (
    AwsInterrupted,
    CleanupReport,
    RegisterOptions,
    Stopper,
    cleanup_fleet,
    journal_state,
    plan_cleanup,
    register_fleet,
)
from certs_tool.errors import FleetError
from tests.certs_tool.aws.helpers import (
    MotoServer,
    caller_for,
    journal_lines,
    listing,
    raw_client,
)
from tests.conftest import MakeFleet

GROUP = "fleet-group"
NOTHING: dict[str, list[str]] = {
    "things": [],
    "certificates": [],
    "ca": [],
    "policies": [],
    "groups": [],
}


def register(fleet: Fleet, url: str, group: str | None = GROUP) -> None:
    stopper = Stopper()
    register_fleet(
        fleet.root, caller_for(url, stopper=stopper), RegisterOptions(thing_group=group),
        stopper=stopper,
    )  # fmt: skip


def cleanup(fleet: Fleet, url: str, **kwargs: Any) -> tuple[CleanupReport, dict[str, int]]:
    stopper = Stopper()
    caller = caller_for(url, stopper=stopper)
    workers = kwargs.pop("workers", 8)
    report = cleanup_fleet(fleet.root, caller, workers=workers, stopper=stopper, **kwargs)
    return report, dict(caller.calls())


def test_cleanup_leaves_nothing(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=20)
    register(fleet, moto.url)
    report, calls = cleanup(fleet, moto.url)
    assert listing(raw_client(moto.url), fleet.metadata.ca_certificate_id) == NOTHING
    assert (report.devices, report.groups, report.policies, report.ca) == (20, 1, 1, True)
    assert calls == {
        "DescribeCertificate": 1, "UpdateCertificate": 20, "DetachPolicy": 20,
        "DetachThingPrincipal": 20, "DeleteCertificate": 20, "DeleteThing": 20,
        "DeleteThingGroup": 1, "DeletePolicy": 1, "UpdateCACertificate": 1,
        "DeleteCACertificate": 1,
    }  # fmt: skip
    assert journal_state(fleet.root, moto.url).empty
    assert plan_cleanup(fleet.root, moto.url).empty  # a second cleanup has nothing to do


def test_cleanup_takes_only_what_the_journal_holds(make_fleet: MakeFleet, moto: MotoServer) -> None:
    ours, theirs = make_fleet(count=3, name="ours"), make_fleet(count=3, name="theirs", prefix="x-")
    register(ours, moto.url)
    register(theirs, moto.url, group="their-group")
    cleanup(ours, moto.url)
    client = raw_client(moto.url)
    held = listing(client, theirs.metadata.ca_certificate_id)
    assert sorted(held["things"]) == [d.thing_name for d in theirs.devices]
    assert held["groups"] == ["their-group"]
    assert held["ca"]
    assert held["policies"]
    assert listing(client, ours.metadata.ca_certificate_id)["ca"] == []


def test_a_fleet_never_registered_there_is_refused(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=1)
    with pytest.raises(FleetError, match=r"was never registered with http://127\.0\.0\.1"):
        cleanup(fleet, moto.url)
    register(fleet, moto.url)
    with pytest.raises(FleetError, match="never registered with http://elsewhere"):
        plan_cleanup(fleet.root, "http://elsewhere")


def test_an_interrupted_cleanup_resumes(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=20)
    register(fleet, moto.url)

    def ctrl_c_after_five(done: int) -> None:
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(AwsInterrupted, match="of 20 devices"):
        cleanup(fleet, moto.url, workers=4, on_progress=ctrl_c_after_five)
    left = journal_state(fleet.root, moto.url)
    assert 0 < len(left.things) <= 15
    # The journal is the truth: what it says is gone is gone, what it says is left is there.
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert sorted(held["things"]) == sorted(left.things)
    cleanup(fleet, moto.url)
    assert listing(raw_client(moto.url), fleet.metadata.ca_certificate_id) == NOTHING


def test_a_prefix_keeps_the_rest_and_the_fleet_wide_resources(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    fleet = make_fleet(count=12)
    register(fleet, moto.url)
    plan = plan_cleanup(fleet.root, moto.url, prefix="sim-00000")
    assert plan.devices == tuple(f"sim-00000{i}" for i in range(10))
    assert (plan.kept_devices, plan.policies, plan.groups, plan.ca) == (2, (), (), None)
    cleanup(fleet, moto.url, prefix="sim-00000")
    held = listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)
    assert sorted(held["things"]) == ["sim-000010", "sim-000011"]
    assert held["policies"]
    assert held["groups"]
    assert held["ca"]


def test_attachments_a_killed_run_never_journaled_are_found(
    make_fleet: MakeFleet, moto: MotoServer
) -> None:
    """kill -9 between AttachThingPrincipal's answer and its journal line: cleanup's
    DeleteCertificate is refused while the thing is attached, so it looks and detaches."""
    fleet = make_fleet(count=2)
    register(fleet, moto.url, group=None)
    path = fleet.root / "aws-journal.jsonl"
    kept = [
        line for line in journal_lines(fleet.root)
        if not (json.loads(line)["op"] in ("AttachThingPrincipal", "AttachPolicy")
                and json.loads(line)["thing"] == "sim-000001")
    ]  # fmt: skip
    path.write_text("\n".join(kept) + "\n")
    _, calls = cleanup(fleet, moto.url)
    assert calls["ListPrincipalThings"] == calls["ListAttachedPolicies"] == 1
    assert listing(raw_client(moto.url), fleet.metadata.ca_certificate_id) == NOTHING
