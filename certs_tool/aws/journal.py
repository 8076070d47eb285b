"""The AWS journal: FLEET_DIR/aws-journal.jsonl, what `register` created on AWS and what
`cleanup` removed, one JSON line per call that succeeded, in the order they succeeded.

    {"target":"https://iot.eu-west-1.amazonaws.com","op":"RegisterCertificate",
     "thing":"sim-000000","id":"<certificateId>","arn":"arn:aws:iot:...:cert/<id>"}

Rules that keep it true when a run dies anywhere:
- A line is appended only after AWS answered the call, in one write(2) of a whole line, so a
  line never claims what did not happen. A last line cut short (kill -9 mid-write) is dropped
  when the journal is next opened for writing.
- The window between AWS's answer and the write loses at most the calls in flight. A re-run of
  `register` finds their resources again (ResourceAlreadyExistsException counts as success and
  names the resource), a re-run of `cleanup` finds them gone (ResourceNotFoundException counts
  as done); both then write the line.
- Lines are not fsynced one by one (AWS allows ~10 calls/s; a lost line is recovered as above);
  the file is fsynced when a run ends.
- `target` is the endpoint URL: one fleet may be registered with several regions, accounts'
  emulators or moto servers, and each keeps its own history. The state of a target is the
  replay of its lines (JournalState); nothing is ever rewritten.
"""

from __future__ import annotations

import enum
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs_tool.errors import FleetError, ManifestError
from certs_tool.files import PUBLIC, storage_errors

JOURNAL_FILE = "aws-journal.jsonl"


class Op(enum.Enum):
    """The AWS IoT operations the journal records, valued by their API names."""

    REGISTER_CA = "RegisterCACertificate"
    UPDATE_CA = "UpdateCACertificate"
    DELETE_CA = "DeleteCACertificate"
    CREATE_POLICY = "CreatePolicy"
    DELETE_POLICY = "DeletePolicy"
    CREATE_GROUP = "CreateThingGroup"
    DELETE_GROUP = "DeleteThingGroup"
    REGISTER_CERTIFICATE = "RegisterCertificate"
    REGISTER_CERTIFICATE_WITHOUT_CA = "RegisterCertificateWithoutCA"
    UPDATE_CERTIFICATE = "UpdateCertificate"
    DELETE_CERTIFICATE = "DeleteCertificate"
    CREATE_THING = "CreateThing"
    DELETE_THING = "DeleteThing"
    ATTACH_THING_PRINCIPAL = "AttachThingPrincipal"
    DETACH_THING_PRINCIPAL = "DetachThingPrincipal"
    ATTACH_POLICY = "AttachPolicy"
    DETACH_POLICY = "DetachPolicy"
    ADD_THING_TO_GROUP = "AddThingToThingGroup"


ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"


@dataclass(frozen=True, kw_only=True)
class JournalRecord:
    """One journal line. `thing` names the device; `name` the policy or thing group;
    `id`/`arn` the certificate (or CA) AWS answered with; `status` what UpdateCertificate or
    UpdateCACertificate set."""

    target: str
    op: Op
    thing: str | None = None
    name: str | None = None
    id: str | None = None
    arn: str | None = None
    status: str | None = None

    def to_line(self) -> bytes:
        fields: dict[str, str] = {"target": self.target, "op": self.op.value}
        for key in ("thing", "name", "id", "arn", "status"):
            value = getattr(self, key)
            if value is not None:
                fields[key] = value
        return (json.dumps(fields, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_json(cls, raw: Any) -> JournalRecord:
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ValueError("not a JSON object of strings")
        unknown = set(raw) - {"target", "op", "thing", "name", "id", "arn", "status"}
        if unknown:
            raise ValueError(f"unknown fields {', '.join(sorted(unknown))}")
        try:
            op = Op(raw["op"])
            target = raw["target"]
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]}") from None
        return cls(
            target=target,
            op=op,
            thing=raw.get("thing"),
            name=raw.get("name"),
            id=raw.get("id"),
            arn=raw.get("arn"),
            status=raw.get("status"),
        )


@dataclass(frozen=True, kw_only=True)
class Certificate:
    id: str
    arn: str
    active: bool


@dataclass(kw_only=True)
class JournalState:
    """What a target holds of this fleet, by replaying its journal lines."""

    records: int = 0
    ca: Certificate | None = None
    policies: dict[str, str] = field(default_factory=dict)  # name -> ARN
    groups: dict[str, str] = field(default_factory=dict)  # name -> ARN
    certificates: dict[str, Certificate] = field(default_factory=dict)  # thing -> certificate
    things: dict[str, str] = field(default_factory=dict)  # name -> ARN
    principals: set[str] = field(default_factory=set)  # things their certificate is attached to
    attached: set[tuple[str, str]] = field(default_factory=set)  # (thing, policy) on its cert
    members: set[tuple[str, str]] = field(default_factory=set)  # (thing, group)

    @property
    def empty(self) -> bool:
        """Nothing of the fleet is left on the target."""
        return not (self.ca or self.policies or self.groups or self.certificates or self.things)

    def devices(self) -> list[str]:
        """Every thing name the target still holds something of, in name order."""
        names = set(self.certificates) | set(self.things) | self.principals
        names |= {thing for thing, _ in self.attached}
        return sorted(names)

    def apply(self, record: JournalRecord) -> None:  # noqa: PLR0912 - one branch per operation
        self.records += 1
        thing, name = record.thing or "", record.name or ""
        match record.op:
            case Op.REGISTER_CA:
                self.ca = Certificate(id=record.id or "", arn=record.arn or "", active=True)
            case Op.UPDATE_CA if self.ca is not None:
                self.ca = Certificate(
                    id=self.ca.id, arn=self.ca.arn, active=record.status == ACTIVE
                )
            case Op.DELETE_CA:
                self.ca = None
            case Op.CREATE_POLICY:
                self.policies[name] = record.arn or ""
            case Op.DELETE_POLICY:
                self.policies.pop(name, None)
            case Op.CREATE_GROUP:
                self.groups[name] = record.arn or ""
            case Op.DELETE_GROUP:
                self.groups.pop(name, None)
                self.members = {m for m in self.members if m[1] != name}
            case Op.REGISTER_CERTIFICATE | Op.REGISTER_CERTIFICATE_WITHOUT_CA:
                self.certificates[thing] = Certificate(
                    id=record.id or "", arn=record.arn or "", active=True
                )
            case Op.UPDATE_CERTIFICATE if thing in self.certificates:
                old = self.certificates[thing]
                self.certificates[thing] = Certificate(
                    id=old.id, arn=old.arn, active=record.status == ACTIVE
                )
            case Op.DELETE_CERTIFICATE:
                self.certificates.pop(thing, None)
            case Op.CREATE_THING:
                self.things[thing] = record.arn or ""
            case Op.DELETE_THING:
                self.things.pop(thing, None)
                self.members = {m for m in self.members if m[0] != thing}
            case Op.ATTACH_THING_PRINCIPAL:
                self.principals.add(thing)
            case Op.DETACH_THING_PRINCIPAL:
                self.principals.discard(thing)
            case Op.ATTACH_POLICY:
                self.attached.add((thing, name))
            case Op.DETACH_POLICY:
                self.attached.discard((thing, name))
            case Op.ADD_THING_TO_GROUP:
                self.members.add((thing, name))
            case _:  # an update of something already gone changes nothing
                pass


def journal_path(root: Path) -> Path:
    return root / JOURNAL_FILE


def read_journal(root: Path) -> list[JournalRecord]:
    """Every complete line of the journal (none when there is no journal). A corrupt line is a
    FleetError naming it; a cut last line is what an interrupted write leaves, and is skipped."""
    path = journal_path(root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FleetError(f"cannot read {path}: {exc.strerror}") from None
    lines = data.split(b"\n")
    lines.pop()  # b"" after the last newline, or a cut last line
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(JournalRecord.from_json(json.loads(line)))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ManifestError(str(path), number, reason) from None
    return records


def journal_state(root: Path, target: str) -> JournalState:
    state = JournalState()
    for record in read_journal(root):
        if record.target == target:
            state.apply(record)
    return state


class JournalWriter:
    """Appends records in whole lines from any thread; fsyncs on close."""

    def __init__(self, root: Path) -> None:
        self._path = journal_path(root)
        self._lock = threading.Lock()
        with storage_errors(self._path):
            self._fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PUBLIC)
            self._drop_cut_tail()

    def _drop_cut_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        # Find the last newline; everything after it is a line an interrupted write cut.
        end = size
        while end > 0:
            start = max(0, end - 4096)
            chunk = os.pread(self._fd, end - start, start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                os.ftruncate(self._fd, start + cut + 1)
                return
            end = start
        os.ftruncate(self._fd, 0)

    def append(self, record: JournalRecord) -> None:
        line = memoryview(record.to_line())
        with self._lock, storage_errors(self._path):
            while line:
                line = line[os.write(self._fd, line) :]

    def close(self) -> None:
        with self._lock, storage_errors(self._path):
            os.fsync(self._fd)
            os.close(self._fd)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
