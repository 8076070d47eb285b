"""Fixtures: factories of emulator parts with the quotas a test names, closed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.quotas import QuotaConfig
from tests.emulator.quotas.helpers import JobsStack, ServedJobs

MakeStack = Callable[[QuotaConfig], JobsStack]
MakeServed = Callable[[QuotaConfig], ServedJobs]


@pytest.fixture
def make_stack(shared_fleet: Fleet, tmp_path: Path) -> Iterator[MakeStack]:
    made: list[JobsStack] = []

    def make(config: QuotaConfig) -> JobsStack:
        stack = JobsStack(shared_fleet, tmp_path / f"state{len(made)}", config, ManualClock())
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.close()


@pytest.fixture
def make_served(shared_fleet: Fleet, tmp_path: Path) -> Iterator[MakeServed]:
    made: list[ServedJobs] = []

    def make(config: QuotaConfig) -> ServedJobs:
        served = ServedJobs(shared_fleet, tmp_path / f"served{len(made)}", config)
        made.append(served)
        return served

    yield make
    for served in made:
        served.close()
