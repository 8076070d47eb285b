"""Fixtures: an emulator state (Store, Registry, JobsService, ControlPlane) in tmp_path with
the session's shared fleet (8 devices) registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet
from tests.emulator.state.helpers import State, open_state


@pytest.fixture
def state(tmp_path: Path, shared_fleet: Fleet) -> Iterator[State]:
    opened = open_state(tmp_path / "state")
    opened.registry.register_fleet(shared_fleet)
    yield opened
    opened.store.close()


@pytest.fixture
def things(shared_fleet: Fleet) -> list[str]:
    return [device.thing_name for device in shared_fleet.devices]
