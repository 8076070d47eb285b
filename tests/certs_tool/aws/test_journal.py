"""The AWS journal: lines in, state out; cut lines dropped, corrupt ones named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool.aws.journal import (
    JOURNAL_FILE,
    JournalRecord,
    JournalWriter,
    Op,
    journal_state,
    read_journal,
)
from certs_tool.errors import ManifestError

T1, T2 = "http://127.0.0.1:1", "https://iot.eu-west-1.amazonaws.com"
ARN = "arn:aws:iot:eu-west-1:111122223333:cert/" + "a" * 64


def write(root: Path, *records: JournalRecord) -> None:
    with JournalWriter(root) as writer:
        for record in records:
            writer.append(record)


def registered(target: str, thing: str) -> list[JournalRecord]:
    return [
        JournalRecord(target=target, op=Op.REGISTER_CERTIFICATE, thing=thing, id="a" * 64, arn=ARN),
        JournalRecord(target=target, op=Op.CREATE_THING, thing=thing, arn=f"thing/{thing}"),
        JournalRecord(target=target, op=Op.ATTACH_THING_PRINCIPAL, thing=thing, arn=ARN),
        JournalRecord(target=target, op=Op.ATTACH_POLICY, thing=thing, name="p"),
        JournalRecord(target=target, op=Op.ADD_THING_TO_GROUP, thing=thing, name="g"),
    ]


def test_state_replays_register_then_cleanup(tmp_path: Path) -> None:
    write(
        tmp_path,
        JournalRecord(target=T1, op=Op.REGISTER_CA, id="c" * 64, arn="cacert"),
        JournalRecord(target=T1, op=Op.CREATE_POLICY, name="p", arn="policy/p"),
        JournalRecord(target=T1, op=Op.CREATE_GROUP, name="g", arn="thinggroup/g"),
        *registered(T1, "sim-1"),
        *registered(T1, "sim-2"),
    )
    state = journal_state(tmp_path, T1)
    assert state.devices() == ["sim-1", "sim-2"]
    assert state.ca is not None
    assert state.ca.active
    assert state.attached == {("sim-1", "p"), ("sim-2", "p")}
    assert state.members == {("sim-1", "g"), ("sim-2", "g")}
    write(
        tmp_path,
        JournalRecord(target=T1, op=Op.UPDATE_CERTIFICATE, thing="sim-1", status="INACTIVE"),
        JournalRecord(target=T1, op=Op.DETACH_POLICY, thing="sim-1", name="p"),
        JournalRecord(target=T1, op=Op.DETACH_THING_PRINCIPAL, thing="sim-1"),
        JournalRecord(target=T1, op=Op.DELETE_CERTIFICATE, thing="sim-1"),
        JournalRecord(target=T1, op=Op.DELETE_THING, thing="sim-1"),
    )
    state = journal_state(tmp_path, T1)
    assert state.devices() == ["sim-2"]
    assert state.members == {("sim-2", "g")}
    assert not state.empty


def test_targets_keep_their_own_history(tmp_path: Path) -> None:
    write(tmp_path, *registered(T1, "sim-1"), *registered(T2, "sim-9"))
    assert journal_state(tmp_path, T1).devices() == ["sim-1"]
    assert journal_state(tmp_path, T2).devices() == ["sim-9"]
    assert journal_state(tmp_path, "http://elsewhere").records == 0


def test_a_cut_last_line_is_skipped_then_dropped(tmp_path: Path) -> None:
    write(tmp_path, *registered(T1, "sim-1"))
    path = tmp_path / JOURNAL_FILE
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"target":"' + T1.encode() + b'","op":"Crea')  # kill -9 mid-write
    assert len(read_journal(tmp_path)) == 5
    write(tmp_path, JournalRecord(target=T1, op=Op.DELETE_THING, thing="sim-1"))
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert len(read_journal(tmp_path)) == 6  # the cut line is gone, the new one whole


def test_a_corrupt_line_is_named(tmp_path: Path) -> None:
    write(tmp_path, *registered(T1, "sim-1"))
    path = tmp_path / JOURNAL_FILE
    lines = path.read_text().splitlines()
    lines[2] = '{"target":"x","op":"LaunchRocket"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match=rf"{JOURNAL_FILE}:3: 'LaunchRocket' is not a valid Op"):
        read_journal(tmp_path)


def test_no_journal_is_no_history(tmp_path: Path) -> None:
    assert read_journal(tmp_path) == []
    assert journal_state(tmp_path, T1).empty


_names = st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    op=st.sampled_from(list(Op)),
    thing=st.none() | _names,
    name=st.none() | _names,
    status=st.none() | st.sampled_from(["ACTIVE", "INACTIVE"]),
)
def test_lines_round_trip(op: Op, thing: str | None, name: str | None, status: str | None) -> None:
    import json

    record = JournalRecord(target=T2, op=op, thing=thing, name=name, id="b" * 64, status=status)
    line = record.to_line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert JournalRecord.from_json(json.loads(line)) == record
