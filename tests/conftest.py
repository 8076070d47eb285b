"""Fixtures shared by every test package: fleets minted per test run by our own certs_tool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from certs_tool import (
    Fleet,
    KeyType,
    apply_policy_template,
    init_fleet,
    load_fleet,
    mint_devices,
)

MakeFleet = Callable[..., Fleet]


@pytest.fixture
def make_fleet(tmp_path: Path) -> MakeFleet:
    """Build a fresh fleet in its own directory: make_fleet(count=4, key_type=..., name=...)."""
    made = 0

    def make(
        count: int = 4,
        *,
        key_type: KeyType = KeyType.EC_P256,
        prefix: str = "sim-",
        name: str | None = None,
    ) -> Fleet:
        nonlocal made
        made += 1
        root = tmp_path / f"fleet{made}"
        init_fleet(root, key_type=key_type, name=name)
        apply_policy_template(root, "jobs-all")
        mint_devices(root, count=count, prefix=prefix, key_type=key_type, workers=1)
        return load_fleet(root)

    return make


@pytest.fixture(scope="session")
def shared_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """A small fleet for tests that only read it (do not modify its files)."""
    root = tmp_path_factory.mktemp("shared") / "fleet"
    init_fleet(root, name="shared")
    apply_policy_template(root, "jobs-all")
    mint_devices(root, count=8, workers=1)
    return load_fleet(root)
