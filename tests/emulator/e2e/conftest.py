from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MakeFleet
from tests.emulator.e2e.process import EmulatorProcess


@pytest.fixture
def emulator(make_fleet: MakeFleet, tmp_path: Path) -> Iterator[EmulatorProcess]:
    running = EmulatorProcess(make_fleet(count=4), tmp_path / "state").start()
    yield running
    if running.process.poll() is None:
        running.kill()
