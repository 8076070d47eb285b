"""The identity pool: every running user holds a distinct device, lowest free index first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool import DeviceRecord, Fleet, KeyType
from simfleet.locust.errors import ConfigError, FleetExhausted
from simfleet.locust.identity import IdentityPool, missing_files, open_fleet
from tests.conftest import MakeFleet


def test_leases_lowest_free_index_first(shared_fleet: Fleet) -> None:
    pool = IdentityPool(shared_fleet.devices)
    first, second, third = (pool.lease() for _ in range(3))
    assert [first, second, third] == list(shared_fleet.devices[:3])
    pool.release(second)
    assert pool.lease() == second  # the gap is filled before the next new device
    assert pool.lease() == shared_fleet.devices[3]
    assert pool.leased == 4


def test_exhausted_pool_says_so(shared_fleet: Fleet) -> None:
    pool = IdentityPool(shared_fleet.devices[:2])
    pool.lease()
    pool.lease()
    with pytest.raises(FleetExhausted, match="all 2 devices of the fleet are in use"):
        pool.lease()


@pytest.mark.parametrize(
    "which",
    [
        pytest.param("never-leased", id="never-leased"),
        pytest.param("released-twice", id="released-twice"),
        pytest.param("other-fleet", id="other-fleet"),
    ],
)
def test_release_of_a_device_not_held_is_refused(shared_fleet: Fleet, which: str) -> None:
    pool = IdentityPool(shared_fleet.devices[:2])
    device = pool.lease()
    if which == "never-leased":
        device = shared_fleet.devices[1]
    elif which == "released-twice":
        pool.release(device)
    else:
        device = dataclasses.replace(device, thing_name="elsewhere")
    with pytest.raises(ValueError, match="is not leased"):
        pool.release(device)


def test_two_devices_with_one_client_id_are_refused(shared_fleet: Fleet) -> None:
    first, second = shared_fleet.devices[:2]
    twin = dataclasses.replace(second, client_id=first.client_id)
    with pytest.raises(ConfigError, match="share the client ID"):
        IdentityPool([first, twin])


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.one_of(st.just(-1), st.integers(0, 9)), max_size=60))
def test_leases_stay_distinct_and_lowest_first(ops: list[int]) -> None:
    """Any sequence of leases (-1) and releases (of the i-th held device): no device is held
    twice, and a lease returns the lowest index not held."""
    devices = [_record(i) for i in range(6)]
    pool = IdentityPool(devices)
    held: list[DeviceRecord] = []
    for op in ops:
        if op == -1:
            if len(held) == len(devices):
                with pytest.raises(FleetExhausted):
                    pool.lease()
                continue
            lowest = min(set(range(len(devices))) - {devices.index(d) for d in held})
            device = pool.lease()
            assert device is devices[lowest]
            held.append(device)
        elif held:
            pool.release(held.pop(op % len(held)))
        assert pool.leased == len(held) == len({d.client_id for d in held})


def _record(index: int) -> DeviceRecord:
    name = f"sim-{index:06d}"
    return DeviceRecord(
        thing_name=name,
        client_id=name,
        certificate_id=f"{index:064x}",
        cert_path=f"devices/{name}/cert.pem",
        key_path=f"devices/{name}/key.pem",
        key_type=KeyType.EC_P256,
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_open_fleet_checks_size_and_files(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=3)
    assert open_fleet(fleet.root, 3).devices == fleet.devices
    with pytest.raises(ConfigError, match="holds 3 devices but the run needs 4"):
        open_fleet(fleet.root, 4)
    key = fleet.key_path(fleet.devices[2])
    key.unlink()
    assert missing_files(fleet, 2) == []
    assert missing_files(fleet, 3) == [key]
    with pytest.raises(ConfigError, match=r"incomplete: .*key\.pem is missing"):
        open_fleet(fleet.root, 3)


def test_open_fleet_of_a_directory_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a fleet directory"):
        open_fleet(tmp_path, 1)
