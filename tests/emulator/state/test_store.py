"""The SQLite store: schema, WAL settings, round trips of every record, transactions, and what
survives a process that never closed its connection (kill -9)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certs_tool import Fleet
from simfleet.emulator.records import (
    CaCertificate,
    Certificate,
    CertificateStatus,
    Job,
    JobStatus,
    Policy,
    Thing,
    ThingGroup,
)
from simfleet.emulator.store import DATABASE_FILE, SCHEMA_VERSION, Store, StoreError
from simfleet.jobs import ExecutionRecord, ExecutionStatus
from tests.emulator.state.helpers import DOCUMENT, arn, open_state, reply

REPO = Path(__file__).resolve().parents[3]


def test_a_new_state_dir_gets_the_schema_in_wal_mode(state_dir: Path) -> None:
    store = Store.open(state_dir)
    store.close()
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_synchronous_is_normal(state_dir: Path) -> None:
    store = Store.open(state_dir)
    # 1 = NORMAL: a commit survives the process being killed, not a power loss (store.py).
    assert store._db.execute("PRAGMA synchronous").fetchone() == (1,)
    store.close()


def test_another_schema_version_is_refused(state_dir: Path) -> None:
    Store.open(state_dir).close()
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(state_dir)


def test_a_file_that_is_not_sqlite_is_refused(state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / DATABASE_FILE).write_bytes(b"not a database, " * 100)
    with pytest.raises(StoreError, match="not a usable emulator database"):
        Store.open(state_dir)


def test_registry_records_round_trip(state_dir: Path) -> None:
    store = Store.open(state_dir)
    ca = CaCertificate(
        certificate_id="c" * 64, pem=b"ca pem", status=CertificateStatus.ACTIVE, created_at=1.5
    )
    certificate = Certificate(
        certificate_id="d" * 64,
        pem=b"device pem",
        status=CertificateStatus.ACTIVE,
        created_at=2.5,
        ca_certificate_id=ca.certificate_id,
    )
    thing = Thing(name="t1", thing_id="id-1", type_name="sensor", attributes={"a": "1"})
    group = ThingGroup(
        name="g2", group_id="gid", created_at=3.0, parent="g1", description="d", attributes={}
    )
    policy = Policy(name="p", document='{"Version": "2012-10-17"}', default_version="2")
    with store.transaction():
        store.put_ca_certificate(ca)
        store.add_certificates([certificate])
        store.put_things([thing])
        store.put_thing_group(group)
        store.add_memberships([("g2", "t1")])
        store.put_policy(policy)
        store.attach_thing_principals([("t1", certificate.certificate_id)])
        store.attach_policies([("p", certificate.certificate_id)])
    store.set_certificate_status(certificate.certificate_id, CertificateStatus.REVOKED)
    store.close()

    store = Store.open(state_dir)
    assert store.ca_certificates() == [ca]
    assert store.certificate_ids() == {certificate.certificate_id}
    assert store.certificate(certificate.certificate_id) == Certificate(
        certificate_id="d" * 64,
        pem=b"device pem",
        status=CertificateStatus.REVOKED,
        created_at=2.5,
        ca_certificate_id=ca.certificate_id,
    )
    assert store.certificate("e" * 64) is None
    assert store.things() == [thing]
    assert store.thing_groups() == [group]
    assert store.memberships() == [("g2", "t1")]
    assert store.policies() == [policy]
    assert store.thing_principals() == [("t1", certificate.certificate_id)]
    assert store.policy_targets() == [("p", certificate.certificate_id)]
    store.close()


def test_an_updated_thing_keeps_its_place_in_the_listing(state_dir: Path) -> None:
    store = Store.open(state_dir)
    store.put_things(Thing(name=f"t{i}", thing_id=str(i)) for i in range(3))
    store.put_things([Thing(name="t0", thing_id="0", version=2)])
    assert [(t.name, t.version) for t in store.things()] == [("t0", 2), ("t1", 1), ("t2", 1)]
    store.close()


def _job(job_id: str = "job-1") -> Job:
    return Job(
        job_id=job_id,
        document=DOCUMENT,
        targets=(arn("thing", "t1"), arn("thinggroup", "g")),
        created_at=100,
        last_updated_at=100,
        description="a job",
        config={"timeoutConfig": {"inProgressTimeoutInMinutes": 5}},
    )


def _execution(**changes: object) -> ExecutionRecord:
    fields: dict[str, object] = {
        "thing_name": "t1",
        "job_id": "job-1",
        "job_document": {"operation": "reboot", "delaySeconds": 5},
        "queued_at": 100,
        "last_updated_at": 100,
    }
    fields.update(changes)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def test_jobs_and_executions_round_trip(state_dir: Path) -> None:
    store = Store.open(state_dir)
    job = _job()
    canceled = Job(
        job_id="job-0",
        document="{}",
        targets=(arn("thing", "t1"),),
        created_at=90,
        last_updated_at=95,
        status=JobStatus.CANCELED,
        completed_at=None,
        force_canceled=True,
        reason_code="BAD_IMAGE",
        comment="wrong firmware",
    )
    started = _execution(
        status=ExecutionStatus.IN_PROGRESS,
        status_details={"step": "download"},
        started_at=110,
        last_updated_at=120,
        version_number=3,
        in_progress_timeout_minutes=5,
        in_progress_deadline=410,
        step_deadline=180,
    )
    retry = _execution(execution_number=2, thing_name="t2")
    with store.transaction():
        store.put_job(canceled)
        store.put_job(job)
        store.put_executions([started, retry])
    store.close()

    store = Store.open(state_dir)
    assert store.jobs() == [canceled, job]
    documents = {"job-1": {"operation": "reboot", "delaySeconds": 5}}
    assert sorted(store.executions(documents), key=lambda r: r.thing_name) == [started, retry]
    store.close()


def test_put_job_updates_in_place_and_keeps_creation_order(state_dir: Path) -> None:
    store = Store.open(state_dir)
    store.put_job(_job("a"))
    store.put_job(_job("b"))
    store.put_job(dataclasses.replace(_job("a"), status=JobStatus.COMPLETED, completed_at=7))
    assert [(j.job_id, j.status, j.completed_at) for j in store.jobs()] == [
        ("a", JobStatus.COMPLETED, 7),
        ("b", JobStatus.IN_PROGRESS, None),
    ]
    store.close()


def test_delete_job_removes_its_executions_only(state_dir: Path) -> None:
    store = Store.open(state_dir)
    mine = _execution()
    other = _execution(job_id="job-2")
    store.put_job(_job("job-1"))
    store.put_job(_job("job-2"))
    store.put_executions([mine, other])
    store.delete_job("job-1", [mine])
    documents = {"job-2": other.job_document}
    assert [j.job_id for j in store.jobs()] == ["job-2"]
    assert store.executions(documents) == [other]
    store.close()


def test_a_failed_transaction_writes_nothing(state_dir: Path) -> None:
    store = Store.open(state_dir)

    def write_then_fail() -> None:
        with store.transaction():
            store.put_job(_job())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert store.jobs() == []
    store.close()


def test_a_write_is_visible_to_another_connection_before_close(state_dir: Path) -> None:
    writer = Store.open(state_dir)
    writer.put_job(_job())
    writer.put_execution(_execution(status=ExecutionStatus.SUCCEEDED, version_number=3))
    reader = Store.open(state_dir)  # the writer is still open, nothing checkpointed
    assert reader.jobs() == [_job()]
    [record] = reader.executions({"job-1": {}})
    assert (record.status, record.version_number) == (ExecutionStatus.SUCCEEDED, 3)
    reader.close()
    writer.close()


_CHILD = textwrap.dedent(
    """
    import sys
    from simfleet.emulator.clock import ManualClock
    from tests.emulator.state.helpers import open_state, reply

    state = open_state(sys.argv[1], ManualClock(1_750_000_100.0))
    thing = sys.argv[2]
    assert reply(state.mqtt(thing, "start-next"))[0] == "accepted"
    assert reply(state.mqtt(thing, "job-1/update", {"status": "SUCCEEDED"}))[0] == "accepted"
    print("answered", flush=True)
    sys.stdin.read()  # wait to be killed, connection open
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_an_answered_update_survives_sigkill(
    state_dir: Path, shared_fleet: Fleet, things: list[str]
) -> None:
    state = open_state(state_dir)
    state.registry.register_fleet(shared_fleet)
    state.control.create_job(jobId="job-1", targets=[arn("thing", things[0])], document=DOCUMENT)
    state.store.close()

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(state_dir), things[0]],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "answered\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        for stream in (child.stdin, child.stdout):
            assert stream is not None
            stream.close()
    assert child.returncode == -signal.SIGKILL

    reopened = open_state(state_dir)
    execution = reopened.control.describe_job_execution(jobId="job-1", thingName=things[0])
    assert execution["execution"]["status"] == "SUCCEEDED"
    assert execution["execution"]["versionNumber"] == 3
    assert reopened.control.describe_job(jobId="job-1")["job"]["status"] == "COMPLETED"
    # The device sees the same: nothing pending.
    assert reply(reopened.mqtt(things[0], "get"))[1]["inProgressJobs"] == []
    reopened.store.close()
