"""Fixtures: a state directory in tmp_path with a small fleet minted for the test, and
restarts of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import MakeFleet
from tests.emulator.jobs_config.helpers import State, fresh_clock, open_state

Restart = Callable[[State], State]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def opened() -> Iterator[list[State]]:
    """Every state a test opens, closed at the end."""
    states: list[State] = []
    yield states
    for state in states:
        state.store.close()


@pytest.fixture
def state(state_dir: Path, make_fleet: MakeFleet, opened: list[State]) -> State:
    """A fresh emulator state with a 6-device fleet registered (sim-000000 ... sim-000005)."""
    state = open_state(state_dir, fresh_clock())
    opened.append(state)
    state.registry.register_fleet(make_fleet(count=6))
    return state


@pytest.fixture
def things(state: State) -> list[str]:
    return [t.name for t in state.registry.things()]


@pytest.fixture
def restart(state_dir: Path, opened: list[State]) -> Restart:
    """Close a state's store and open the directory again at the same time."""

    def reopen(state: State) -> State:
        state.store.close()
        again = open_state(state_dir, state.clock)
        opened.append(again)
        return again

    return reopen
