"""Fixtures: a fleet minted for the test, and the emulator serving it with an empty registry
(`--no-register-fleet`), control-plane quotas off unless a test sets them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs_tool import Fleet
from tests.conftest import MakeFleet
from tests.emulator.registration.helpers import Running


@pytest.fixture
def fleet(make_fleet: MakeFleet) -> Fleet:
    return make_fleet(count=3)


@pytest.fixture
def running(fleet: Fleet, tmp_path: Path) -> Iterator[Running]:
    emulator = Running(fleet, tmp_path / "state")
    yield emulator
    emulator.close()


@pytest.fixture
def iot(running: Running) -> Any:
    return running.iot()


@pytest.fixture
def ca_registered(running: Running, iot: Any, fleet: Fleet) -> str:
    """The fleet CA registered as `certs-tool register` does (SNI_ONLY, ACTIVE); its id."""
    answer = iot.register_ca_certificate(
        caCertificate=fleet.ca_cert_path.read_text(), certificateMode="SNI_ONLY", setAsActive=True
    )
    return str(answer["certificateId"])
