"""Fixtures: state directories in tmp_path, with the session's shared fleet registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet
from tests.emulator.state.helpers import State, open_state


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def state(state_dir: Path, shared_fleet: Fleet) -> Iterator[State]:
    """A fresh emulator state with the shared fleet (8 devices) registered."""
    opened = open_state(state_dir)
    opened.registry.register_fleet(shared_fleet)
    yield opened
    opened.store.close()


@pytest.fixture
def things(shared_fleet: Fleet) -> list[str]:
    return [device.thing_name for device in shared_fleet.devices]
