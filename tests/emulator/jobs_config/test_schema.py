"""Schema version 2 (rollouts): a version-1 state directory is migrated in place, keeping its
jobs; a newer one is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.store import DATABASE_FILE, SCHEMA_VERSION, Store, StoreError
from tests.emulator.jobs_config.helpers import State, create_job, open_state, status


def _downgrade_to_v1(state_dir: Path) -> None:
    """What emulator part 1 left: no rollout tables, version 1."""
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    db.executescript(
        "DROP TABLE rollouts; DROP TABLE rollout_things; UPDATE schema_version SET version = 1;"
    )
    db.close()


def test_a_version_1_directory_is_migrated(
    state: State, things: list[str], state_dir: Path
) -> None:
    create_job(state, "job-1", things[:1])
    state.store.close()
    _downgrade_to_v1(state_dir)

    migrated = open_state(state_dir, ManualClock(start=state.clock.now()))
    try:
        assert status(migrated, "job-1", things[0]) == "QUEUED"
        assert migrated.store.rollouts() == {}
        create_job(
            migrated, "job-2", things[:2], jobExecutionsRolloutConfig={"maximumPerMinute": 1}
        )
        assert migrated.store.rollouts()["job-2"].released == 1
    finally:
        migrated.store.close()
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_a_newer_version_is_refused(state_dir: Path) -> None:
    Store.open(state_dir).close()
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        Store.open(state_dir)
