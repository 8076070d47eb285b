"""Fixtures of the broker tests: an in-memory broker over the shared minted fleet."""

from __future__ import annotations

import pytest

from certs_tool import Fleet
from tests.emulator.broker.helpers import MemoryBroker, memory_broker


@pytest.fixture
def mem(shared_fleet: Fleet) -> MemoryBroker:
    return memory_broker(shared_fleet)
