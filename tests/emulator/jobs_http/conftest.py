"""Fixtures: a served Jobs HTTPS API over the session's shared fleet (8 devices)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from certs_tool import Fleet
from tests.emulator.jobs_http.helpers import Served


@pytest.fixture
def served(shared_fleet: Fleet, tmp_path: Path) -> Iterator[Served]:
    running = Served(shared_fleet, tmp_path / "state")
    yield running
    running.close()


@pytest.fixture
def things(shared_fleet: Fleet) -> list[str]:
    return [device.thing_name for device in shared_fleet.devices]


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    # One session per module: it caches the loaded model across clients.
    return boto3.session.Session()
