"""Schema version 3: a version-2 state directory is migrated in place (its fleet CA becomes
SNI_ONLY, tags start empty), and the new rows round-trip: CA modes, tags, deletions, pages of
certificates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from certs_tool import Fleet
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.records import (
    CaCertificate,
    Certificate,
    CertificateMode,
    CertificateStatus,
)
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import DATABASE_FILE, SCHEMA_VERSION, Store


def _downgrade_to_v2(state_dir: Path) -> None:
    """What the emulator of issues #3 and #4 left: no tags, no CA modes, version 2."""
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    db.executescript(
        "DROP TABLE tags; ALTER TABLE ca_certificates DROP COLUMN certificate_mode;"
        " ALTER TABLE ca_certificates DROP COLUMN auto_registration;"
        " UPDATE schema_version SET version = 2;"
    )
    db.close()


def test_a_version_2_directory_is_migrated(shared_fleet: Fleet, tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    Registry(store, clock=ManualClock()).register_fleet(shared_fleet)
    store.close()
    _downgrade_to_v2(tmp_path)

    store = Store.open(tmp_path)
    try:
        registry = Registry(store, clock=ManualClock())
        [ca] = registry.certificates.cas()
        assert (ca.certificate_mode, ca.auto_registration) == (CertificateMode.SNI_ONLY, False)
        assert registry.principal(shared_fleet.devices[0].certificate_id) is not None
        assert store.tags() == []
        assert registry.register_fleet(shared_fleet) == 0
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / DATABASE_FILE)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_registry_rows_of_version_3_round_trip(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    ca = CaCertificate(
        certificate_id="c" * 64,
        pem=b"ca",
        status=CertificateStatus.INACTIVE,
        created_at=1.0,
        certificate_mode=CertificateMode.DEFAULT,
        auto_registration=True,
    )
    store.put_ca_certificate(ca)
    store.add_certificates(
        Certificate(
            certificate_id=f"{i:064d}",
            pem=b"pem",
            status=CertificateStatus.ACTIVE,
            created_at=float(i),
            ca_certificate_id=None if i % 2 else ca.certificate_id,
        )
        for i in range(5)
    )
    store.put_tags("arn:x", {"a": "1", "b": "2"})
    store.delete_tags("arn:x", ["a"])
    store.delete_certificate(f"{3:064d}")
    store.close()

    store = Store.open(tmp_path)
    try:
        assert store.ca_certificates() == [ca]
        assert store.tags() == [("arn:x", "b", "2")]
        assert store.signs_certificates(ca.certificate_id)
        first = store.certificate_page(after=None, limit=2, ascending=True, ca_certificate_id=None)
        ids = [c.certificate_id[-1] for _, c in first]
        rest = store.certificate_page(
            after=first[-1][0], limit=9, ascending=True, ca_certificate_id=None
        )
        assert ids + [c.certificate_id[-1] for _, c in rest] == ["0", "1", "2", "4"]
        newest = store.certificate_page(
            after=None, limit=9, ascending=False, ca_certificate_id=ca.certificate_id
        )
        assert [c.certificate_id[-1] for _, c in newest] == ["4", "2", "0"]
        assert len(list(store.pems_without_ca())) == 1  # 3 was deleted
        store.delete_ca_certificate(ca.certificate_id)
        assert store.ca_certificates() == []
    finally:
        store.close()
