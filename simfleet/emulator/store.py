"""SQLite persistence of the registry, the jobs and their executions, under `--state-dir`.

Durability: the database runs in WAL mode with `synchronous=NORMAL`. Every write is committed
before the emulator answers the request that caused it, and a commit in WAL mode is a write()
of the WAL frames into the OS page cache, so **a killed process (SIGTERM, SIGKILL, a crash)
loses nothing that was answered**. `synchronous=NORMAL` does not fsync at each commit: a power
loss or kernel crash may lose the last commits, never the database's consistency. That is the
promise we make (issue #3: "stop the emulator (SIGTERM or kill -9) ... every job and execution,
with its status and version, is there"); `synchronous=FULL` would add an fsync (milliseconds on
most disks) to every device update.

Pair tables (memberships, attachments) have no key: the registry writes only the pairs it does
not hold yet, and reads them back as sets; a key would make bulk registration several times
slower (random-order B-tree inserts of 64-character certificate ids).

Writes outside `transaction()` are committed one statement at a time (autocommit); bulk work
(fleet registration, queueing a job's executions) groups its statements in one transaction.

Schema versions: 1 (emulator part 1); 2 adds the rollouts of jobs (their progress and the
things they still have to notify); 3 (issue #7: registration and clean-up through the control
plane) adds a CA's certificate mode and auto-registration flag, and resource tags. An older
database is migrated in place when opened, one version at a time (new tables start empty,
new columns with the value the older emulator implied); any other version is refused.

Deleting pairs (DetachThingPrincipal, DetachPolicy, RemoveThingFromThingGroup) needs an index
that bulk registration is better off without (see above): the first deletion from a pair table
in a process creates its index, once (~0.2 s per 100k rows); a clean-up is fast from then on.

Errors:
    StoreError   the state directory holds no usable database (another schema version, not
                 SQLite, unwritable)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from simfleet.emulator.records import (
    CaCertificate,
    Certificate,
    CertificateMode,
    CertificateStatus,
    Job,
    JobStatus,
    Policy,
    TargetSelection,
    Thing,
    ThingGroup,
)
from simfleet.emulator.rollout import RolloutState
from simfleet.emulator.store_registry import RegistryRows
from simfleet.jobs import ExecutionRecord, ExecutionStatus

DATABASE_FILE: Final = "emulator.db"
SCHEMA_VERSION: Final = 3  # a new schema is a new number, with a migration from the last

_SCHEMA_V1: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE ca_certificates (
    certificate_id TEXT PRIMARY KEY, pem BLOB NOT NULL, status TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE certificates (
    certificate_id TEXT PRIMARY KEY, pem BLOB NOT NULL, status TEXT NOT NULL,
    created_at REAL NOT NULL, ca_certificate_id TEXT);
CREATE TABLE things (
    name TEXT PRIMARY KEY, thing_id TEXT NOT NULL, type_name TEXT,
    attributes TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE thing_groups (
    name TEXT PRIMARY KEY, group_id TEXT NOT NULL, created_at REAL NOT NULL, parent TEXT,
    description TEXT, attributes TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE thing_group_members (group_name TEXT NOT NULL, thing_name TEXT NOT NULL);
CREATE TABLE policies (
    name TEXT PRIMARY KEY, document TEXT NOT NULL, default_version TEXT NOT NULL);
CREATE TABLE thing_principals (thing_name TEXT NOT NULL, certificate_id TEXT NOT NULL);
CREATE TABLE policy_targets (policy_name TEXT NOT NULL, certificate_id TEXT NOT NULL);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, document TEXT NOT NULL, targets TEXT NOT NULL,
    created_at INTEGER NOT NULL, last_updated_at INTEGER NOT NULL, status TEXT NOT NULL,
    target_selection TEXT NOT NULL, description TEXT, completed_at INTEGER,
    force_canceled INTEGER NOT NULL, reason_code TEXT, comment TEXT, config TEXT NOT NULL);
CREATE TABLE executions (
    thing_name TEXT NOT NULL, job_id TEXT NOT NULL, execution_number INTEGER NOT NULL,
    status TEXT NOT NULL, status_details TEXT, queued_at INTEGER NOT NULL,
    started_at INTEGER, last_updated_at INTEGER NOT NULL, version_number INTEGER NOT NULL,
    in_progress_timeout_minutes INTEGER, in_progress_deadline INTEGER, step_deadline INTEGER,
    PRIMARY KEY (thing_name, job_id, execution_number)) WITHOUT ROWID;
"""

# Version 2: a job's rollout (rollout.py), one row per job still rolling out, and the things
# it fixed at CreateJob in their order; position 0 is the first thing notified.
_MIGRATE_TO_V2: Final = """
CREATE TABLE rollouts (
    job_id TEXT PRIMARY KEY, released INTEGER NOT NULL, stage INTEGER NOT NULL,
    segment_start INTEGER NOT NULL, segment_units INTEGER NOT NULL);
CREATE TABLE rollout_things (
    job_id TEXT NOT NULL, position INTEGER NOT NULL, thing_name TEXT NOT NULL,
    PRIMARY KEY (job_id, position)) WITHOUT ROWID;
UPDATE schema_version SET version = 2;
"""

# Version 3: the CAs registered before it were the fleet's, which register_fleet registers as
# `certs-tool register` does by default: SNI_ONLY, no auto-registration. Tags by resource ARN.
_V3_COLUMNS: Final = {
    "certificate_mode": "ALTER TABLE ca_certificates"
    " ADD COLUMN certificate_mode TEXT NOT NULL DEFAULT 'SNI_ONLY';",
    "auto_registration": "ALTER TABLE ca_certificates"
    " ADD COLUMN auto_registration INTEGER NOT NULL DEFAULT 0;",
}
_MIGRATE_TO_V3: Final = """
CREATE TABLE IF NOT EXISTS tags (
    resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)) WITHOUT ROWID;
UPDATE schema_version SET version = 3;
"""
_PUT_EXECUTION: Final = "INSERT OR REPLACE INTO executions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_STATUSES: Final = {status.value: status for status in ExecutionStatus}


class StoreError(Exception):
    """The state directory cannot be used."""


class Store(RegistryRows):
    """One SQLite connection, used from the emulator's event-loop thread only."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._indexed: set[str] = set()  # pair tables whose deletion index exists

    @classmethod
    def open(cls, state_dir: Path | str) -> Store:
        """Open (creating if needed) `state_dir/emulator.db`."""
        path = Path(state_dir) / DATABASE_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit BEGIN; `transaction()` says where one goes.
            db = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _check_schema(db, path)
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"{path} is not a usable emulator database: {exc}") from None
        except StoreError:
            db.close()
            raise
        return cls(db, path)

    def close(self) -> None:
        """Close; the last connection's close checkpoints the WAL into the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the writes of the block in one commit (or none, if it raises)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- the registry ---------------------------------------------------------------------

    def ca_certificates(self) -> list[CaCertificate]:
        rows = self._db.execute(
            "SELECT certificate_id, pem, status, created_at, certificate_mode, auto_registration"
            " FROM ca_certificates ORDER BY rowid"
        )
        return [
            CaCertificate(
                certificate_id=i,
                pem=pem,
                status=CertificateStatus(status),
                created_at=created,
                certificate_mode=CertificateMode(mode),
                auto_registration=bool(auto),
            )
            for i, pem, status, created, mode, auto in rows
        ]

    def put_ca_certificate(self, ca: CaCertificate) -> None:
        # An upsert keeps the rowid, hence the order ListCACertificates answers in.
        self._db.execute(
            "INSERT INTO ca_certificates VALUES (?,?,?,?,?,?) ON CONFLICT (certificate_id)"
            " DO UPDATE SET pem=excluded.pem, status=excluded.status,"
            " created_at=excluded.created_at, certificate_mode=excluded.certificate_mode,"
            " auto_registration=excluded.auto_registration",
            (
                ca.certificate_id,
                ca.pem,
                ca.status.value,
                ca.created_at,
                ca.certificate_mode.value,
                int(ca.auto_registration),
            ),
        )

    def certificate_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT certificate_id FROM certificates")}

    def certificate(self, certificate_id: str) -> Certificate | None:
        row = self._db.execute(
            "SELECT pem, status, created_at, ca_certificate_id FROM certificates"
            " WHERE certificate_id=?",
            (certificate_id,),
        ).fetchone()
        if row is None:
            return None
        return Certificate(
            certificate_id=certificate_id,
            pem=bytes(row[0]),
            status=CertificateStatus(row[1]),
            created_at=row[2],
            ca_certificate_id=row[3],
        )

    def add_certificates(self, certificates: Iterable[Certificate]) -> None:
        self._db.executemany(
            "INSERT INTO certificates VALUES (?,?,?,?,?)",
            (
                (c.certificate_id, c.pem, c.status.value, c.created_at, c.ca_certificate_id)
                for c in certificates
            ),
        )

    def set_certificate_status(self, certificate_id: str, status: CertificateStatus) -> None:
        self._db.execute(
            "UPDATE certificates SET status=? WHERE certificate_id=?",
            (status.value, certificate_id),
        )

    def things(self) -> list[Thing]:
        rows = self._db.execute(
            "SELECT name, thing_id, type_name, attributes, version FROM things ORDER BY rowid"
        )
        return [
            Thing(
                name=name,
                thing_id=thing_id,
                type_name=type_name,
                attributes=_mapping(attributes),
                version=version,
            )
            for name, thing_id, type_name, attributes, version in rows
        ]

    def put_things(self, things: Iterable[Thing]) -> None:
        # Upserts keep the rowid, hence the order ListThings answers in, across restarts.
        self._db.executemany(
            "INSERT INTO things VALUES (?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET"
            " thing_id=excluded.thing_id, type_name=excluded.type_name,"
            " attributes=excluded.attributes, version=excluded.version",
            ((t.name, t.thing_id, t.type_name, _json(t.attributes), t.version) for t in things),
        )

    def thing_groups(self) -> list[ThingGroup]:
        rows = self._db.execute(
            "SELECT name, group_id, created_at, parent, description, attributes, version"
            " FROM thing_groups ORDER BY rowid"
        )
        return [
            ThingGroup(
                name=name,
                group_id=group_id,
                created_at=created_at,
                parent=parent,
                description=description,
                attributes=_mapping(attributes),
                version=version,
            )
            for name, group_id, created_at, parent, description, attributes, version in rows
        ]

    def put_thing_group(self, group: ThingGroup) -> None:
        self._db.execute(
            "INSERT INTO thing_groups VALUES (?,?,?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET"
            " group_id=excluded.group_id, created_at=excluded.created_at,"
            " parent=excluded.parent, description=excluded.description,"
            " attributes=excluded.attributes, version=excluded.version",
            (
                group.name,
                group.group_id,
                group.created_at,
                group.parent,
                group.description,
                _json(group.attributes),
                group.version,
            ),
        )

    def memberships(self) -> list[tuple[str, str]]:
        """(group, thing) pairs, in the order they were added (repeats possible: see above)."""
        return list(
            self._db.execute(
                "SELECT group_name, thing_name FROM thing_group_members ORDER BY rowid"
            )
        )

    def add_memberships(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._db.executemany("INSERT INTO thing_group_members VALUES (?,?)", pairs)

    def policies(self) -> list[Policy]:
        rows = self._db.execute("SELECT name, document, default_version FROM policies")
        return [Policy(name=n, document=d, default_version=v) for n, d, v in rows]

    def put_policy(self, policy: Policy) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO policies VALUES (?,?,?)",
            (policy.name, policy.document, policy.default_version),
        )

    def thing_principals(self) -> list[tuple[str, str]]:
        """(thing, certificate id) pairs: AttachThingPrincipal."""
        return list(
            self._db.execute(
                "SELECT thing_name, certificate_id FROM thing_principals ORDER BY rowid"
            )
        )

    def attach_thing_principals(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._db.executemany("INSERT INTO thing_principals VALUES (?,?)", pairs)

    def policy_targets(self) -> list[tuple[str, str]]:
        """(policy, certificate id) pairs: AttachPolicy."""
        return list(
            self._db.execute(
                "SELECT policy_name, certificate_id FROM policy_targets ORDER BY rowid"
            )
        )

    def attach_policies(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._db.executemany("INSERT INTO policy_targets VALUES (?,?)", pairs)

    # --- jobs and executions --------------------------------------------------------------

    def jobs(self) -> list[Job]:
        rows = self._db.execute(
            "SELECT job_id, document, targets, created_at, last_updated_at, status,"
            " target_selection, description, completed_at, force_canceled, reason_code,"
            " comment, config FROM jobs ORDER BY rowid"
        )
        return [
            Job(
                job_id=row[0],
                document=row[1],
                targets=tuple(json.loads(row[2])),
                created_at=row[3],
                last_updated_at=row[4],
                status=JobStatus(row[5]),
                target_selection=TargetSelection(row[6]),
                description=row[7],
                completed_at=row[8],
                force_canceled=bool(row[9]),
                reason_code=row[10],
                comment=row[11],
                config=json.loads(row[12]),
            )
            for row in rows
        ]

    def put_job(self, job: Job) -> None:
        # An upsert rather than REPLACE keeps the rowid, hence the creation order of the jobs.
        self._db.execute(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (job_id) DO UPDATE"
            " SET document=excluded.document, targets=excluded.targets,"
            " created_at=excluded.created_at, last_updated_at=excluded.last_updated_at,"
            " status=excluded.status, target_selection=excluded.target_selection,"
            " description=excluded.description, completed_at=excluded.completed_at,"
            " force_canceled=excluded.force_canceled, reason_code=excluded.reason_code,"
            " comment=excluded.comment, config=excluded.config",
            (
                job.job_id,
                job.document,
                json.dumps(list(job.targets)),
                job.created_at,
                job.last_updated_at,
                job.status.value,
                job.target_selection.value,
                job.description,
                job.completed_at,
                int(job.force_canceled),
                job.reason_code,
                job.comment,
                _json(job.config),
            ),
        )

    def delete_job(self, job_id: str, executions: Iterable[ExecutionRecord]) -> None:
        """Delete the job and its executions (given, so no index on job_id is needed)."""
        self._db.executemany(
            "DELETE FROM executions WHERE thing_name=? AND job_id=? AND execution_number=?",
            ((r.thing_name, r.job_id, r.execution_number) for r in executions),
        )
        self._db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))
        self.delete_rollout(job_id)

    # --- rollouts -------------------------------------------------------------------------

    def rollouts(self) -> dict[str, RolloutState]:
        rows = self._db.execute(
            "SELECT job_id, released, stage, segment_start, segment_units FROM rollouts"
        )
        return {
            job_id: RolloutState(
                released=released, stage=stage, segment_start=start, segment_units=units
            )
            for job_id, released, stage, start, units in rows
        }

    def put_rollout(self, job_id: str, state: RolloutState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO rollouts VALUES (?,?,?,?,?)",
            (job_id, state.released, state.stage, state.segment_start, state.segment_units),
        )

    def put_rollout_things(self, job_id: str, things: Iterable[str]) -> None:
        """The things a rollout notifies, in order (written once, at CreateJob)."""
        self._db.executemany(
            "INSERT INTO rollout_things VALUES (?,?,?)",
            ((job_id, position, thing) for position, thing in enumerate(things)),
        )

    def rollout_things(self, job_id: str, start: int) -> list[str]:
        """The rollout's things from position `start` on, in order."""
        rows = self._db.execute(
            "SELECT thing_name FROM rollout_things WHERE job_id=? AND position>=?"
            " ORDER BY position",
            (job_id, start),
        )
        return [row[0] for row in rows]

    def delete_rollout(self, job_id: str) -> None:
        """The rollout is over (every thing notified, or the job canceled or deleted)."""
        self._db.execute("DELETE FROM rollouts WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM rollout_things WHERE job_id=?", (job_id,))

    def executions(self, documents: Mapping[str, Mapping[str, Any]]) -> list[ExecutionRecord]:
        """Every execution, each carrying its job's parsed document from `documents` (one
        object per job, shared by all its executions)."""
        rows = self._db.execute(
            "SELECT thing_name, job_id, execution_number, status, status_details, queued_at,"
            " started_at, last_updated_at, version_number, in_progress_timeout_minutes,"
            " in_progress_deadline, step_deadline FROM executions"
        )
        return [
            ExecutionRecord(
                thing_name=row[0],
                job_id=row[1],
                execution_number=row[2],
                status=_STATUSES[row[3]],
                status_details=None if row[4] is None else json.loads(row[4]),
                job_document=documents[row[1]],
                queued_at=row[5],
                started_at=row[6],
                last_updated_at=row[7],
                version_number=row[8],
                in_progress_timeout_minutes=row[9],
                in_progress_deadline=row[10],
                step_deadline=row[11],
            )
            for row in rows
        ]

    def put_execution(self, record: ExecutionRecord) -> None:
        """Write one execution: one small transaction of its own (the per-update cost)."""
        self._db.execute(_PUT_EXECUTION, _execution_row(record))

    def put_executions(self, records: Iterable[ExecutionRecord]) -> None:
        self._db.executemany(_PUT_EXECUTION, map(_execution_row, records))

    def delete_execution(self, record: ExecutionRecord) -> None:
        self._db.execute(
            "DELETE FROM executions WHERE thing_name=? AND job_id=? AND execution_number=?",
            (record.thing_name, record.job_id, record.execution_number),
        )


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    # [n]: from version n to n + 1. Version 3 adds only the columns that are missing (ALTER
    # TABLE has no IF NOT EXISTS), so it also completes a database that already has some.
    present = {row[1] for row in db.execute("PRAGMA table_info(ca_certificates)")}
    to_v3 = " ".join(sql for name, sql in _V3_COLUMNS.items() if name not in present)
    migrations = (_SCHEMA_V1, _MIGRATE_TO_V2, to_v3 + _MIGRATE_TO_V3)
    if not tables:
        db.executescript(f"BEGIN; {' '.join(migrations)} COMMIT;")
        return
    row = None
    if "schema_version" in tables:
        row = db.execute("SELECT version FROM schema_version").fetchone()
    if row is not None and 1 <= row[0] < SCHEMA_VERSION:
        db.executescript(f"BEGIN; {' '.join(migrations[row[0] :])} COMMIT;")
        return
    if row is None or row[0] != SCHEMA_VERSION:
        found = "none" if row is None else row[0]
        raise StoreError(
            f"{path} has schema version {found}, this emulator uses {SCHEMA_VERSION};"
            " use another --state-dir"
        )


def _execution_row(r: ExecutionRecord) -> tuple[object, ...]:
    return (
        r.thing_name,
        r.job_id,
        r.execution_number,
        r.status.value,
        None if r.status_details is None else _json(r.status_details),
        r.queued_at,
        r.started_at,
        r.last_updated_at,
        r.version_number,
        r.in_progress_timeout_minutes,
        r.in_progress_deadline,
        r.step_deadline,
    )


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), separators=(",", ":"))


def _mapping(text: str) -> Mapping[str, str]:
    # Most things and groups have no attributes: skip the parse (100k things load at start).
    if text == "{}":
        return {}
    value: dict[str, str] = json.loads(text)
    return value
