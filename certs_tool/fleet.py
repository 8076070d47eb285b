"""The fleet directory: its layout, its metadata, and the device manifest.

This module owns the format; simfleet and the emulator read a fleet through `load_fleet` and
never parse the files themselves.

    FLEET_DIR/
      fleet.json            FleetMetadata: name, CA and server certificate facts, policy names
      ca/ca.pem, ca.key     the fleet CA (key 0600, optionally passphrase-encrypted)
      server/server.pem, server.key
                            TLS server certificate for localhost / 127.0.0.1 / ::1 (the emulator)
      devices/<thing>/cert.pem, key.pem (0600)
      policies/<name>.json  IoT Core policy documents
      manifest.jsonl        one DeviceRecord per line, in minting order
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from certs_tool.errors import FleetError, InvalidInputError, ManifestError
from certs_tool.files import PUBLIC, storage_errors, write_file_atomic
from certs_tool.keys import KeyType

FORMAT_VERSION = 1
METADATA_FILE = "fleet.json"
MANIFEST_FILE = "manifest.jsonl"
CA_DIR, DEVICES_DIR, POLICIES_DIR, SERVER_DIR = "ca", "devices", "policies", "server"
CERT_FILE, KEY_FILE = "cert.pem", "key.pem"

# AWS IoT thing names: 1-128 characters of [a-zA-Z0-9:_-] (spec §5).
THING_NAME_RE = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
MAX_THING_NAME = 128


def validate_thing_name(name: str) -> str:
    if not THING_NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid thing name {name!r}: AWS IoT allows 1-128 characters of [a-zA-Z0-9:_-]"
        )
    return name


@dataclass(frozen=True, kw_only=True)
class DeviceRecord:
    """One manifest line: everything a simulated device needs to know about its identity."""

    thing_name: str
    client_id: str
    certificate_id: str  # lowercase hex SHA-256 of the certificate's DER, as AWS IoT computes it
    cert_path: str  # relative to the fleet directory
    key_path: str
    key_type: KeyType
    not_after: datetime
    policies: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "thingName": self.thing_name,
            "clientId": self.client_id,
            "certificateId": self.certificate_id,
            "certPath": self.cert_path,
            "keyPath": self.key_path,
            "keyType": self.key_type.value,
            "notAfter": self.not_after.isoformat(),
            "policies": list(self.policies),
        }

    @classmethod
    def from_json(cls, raw: Any) -> DeviceRecord:
        """Build a record from a decoded manifest line; ValueError says what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        try:
            policies = raw.get("policies", [])
            if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
                raise ValueError("policies must be a list of names")
            record = cls(
                thing_name=_text(raw, "thingName"),
                client_id=_text(raw, "clientId"),
                certificate_id=_text(raw, "certificateId"),
                cert_path=_text(raw, "certPath"),
                key_path=_text(raw, "keyPath"),
                key_type=KeyType(_text(raw, "keyType")),
                not_after=datetime.fromisoformat(_text(raw, "notAfter")),
                policies=tuple(policies),
            )
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]}") from None
        if not THING_NAME_RE.fullmatch(record.thing_name):
            raise ValueError(f"invalid thingName {record.thing_name!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", record.certificate_id):
            raise ValueError("certificateId must be 64 lowercase hex characters")
        if record.not_after.tzinfo is None:
            raise ValueError("notAfter must carry a UTC offset")
        return record


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def manifest_line(
    *,
    thing_name: str,
    certificate_id: str,
    key_type: KeyType,
    not_after: datetime,
    policies: tuple[str, ...],
) -> bytes:
    """The manifest line of a freshly minted device (clientId = thing name, files in their
    standard places), written without building a DeviceRecord: minting makes 100k of these, and
    a test pins that it equals the DeviceRecord encoding."""
    fields = {
        "thingName": thing_name,
        "clientId": thing_name,
        "certificateId": certificate_id,
        "certPath": f"{DEVICES_DIR}/{thing_name}/{CERT_FILE}",
        "keyPath": f"{DEVICES_DIR}/{thing_name}/{KEY_FILE}",
        "keyType": key_type.value,
        "notAfter": not_after.isoformat(),
        "policies": list(policies),
    }
    return (json.dumps(fields, separators=(",", ":")) + "\n").encode()


def encode_records(records: Iterable[DeviceRecord]) -> bytes:
    return "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records).encode()


@dataclass(frozen=True, kw_only=True)
class ManifestRead:
    records: tuple[DeviceRecord, ...]
    partial_tail: bool  # the last line was cut short by an interrupted write


def read_manifest(path: Path, *, tolerate_partial_tail: bool = False) -> ManifestRead:
    """Read manifest.jsonl. A corrupt line raises ManifestError naming its line number.

    A last line without its newline is what an interrupted append leaves; the minter tolerates
    (and then repairs) it, every other reader refuses it, since the fleet is being written.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ManifestRead(records=(), partial_tail=False)
    except OSError as exc:
        raise FleetError(f"cannot read {path}: {exc.strerror}") from None
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records = [parse_manifest_line(path, number, line) for number, line in enumerate(lines, 1)]
    seen: dict[str, int] = {}
    for number, record in enumerate(records, 1):
        # Two lines for one thing would hand one identity to two simulated devices.
        first = seen.setdefault(record.thing_name, number)
        if first != number:
            raise ManifestError(
                str(path), number, f"duplicate thingName {record.thing_name!r} (see line {first})"
            )
    partial = bool(tail.strip())
    if partial and not tolerate_partial_tail:
        raise ManifestError(
            str(path), len(lines) + 1, "incomplete last line (interrupted mint? re-run it)"
        )
    return ManifestRead(records=tuple(records), partial_tail=partial)


def parse_manifest_line(path: Path, number: int, line: bytes) -> DeviceRecord:
    try:
        return DeviceRecord.from_json(json.loads(line))
    except (ValueError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ManifestError(str(path), number, reason) from None


def write_manifest(path: Path, records: Sequence[DeviceRecord]) -> None:
    write_file_atomic(path, encode_records(records), mode=PUBLIC)


class ManifestAppender:
    """Appends records to the manifest in whole lines, one write per batch."""

    def __init__(self, path: Path) -> None:
        self._path = path
        with storage_errors(path):
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PUBLIC)

    def append(self, records: Sequence[DeviceRecord]) -> None:
        if records:
            self.append_encoded(encode_records(records))

    def append_encoded(self, lines: bytes) -> None:
        """Append lines already produced by `encode_records` (minting workers encode them)."""
        data = memoryview(lines)
        with storage_errors(self._path):
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        with storage_errors(self._path):
            os.fsync(self._fd)
            os.close(self._fd)

    def __enter__(self) -> ManifestAppender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True, kw_only=True)
class FleetMetadata:
    """fleet.json: facts about the fleet as a whole."""

    name: str
    ca_certificate_id: str
    ca_key_type: KeyType
    ca_key_encrypted: bool
    policies: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": self.format_version,
            "name": self.name,
            "ca": {
                "certificateId": self.ca_certificate_id,
                "keyType": self.ca_key_type.value,
                "keyEncrypted": self.ca_key_encrypted,
            },
            "policies": list(self.policies),
        }

    @classmethod
    def from_json(cls, raw: Any) -> FleetMetadata:
        try:
            version = raw["formatVersion"]
            if version != FORMAT_VERSION:
                raise ValueError(f"format version {version} is not {FORMAT_VERSION}")
            ca = raw["ca"]
            return cls(
                name=str(raw["name"]),
                ca_certificate_id=str(ca["certificateId"]),
                ca_key_type=KeyType(ca["keyType"]),
                ca_key_encrypted=bool(ca["keyEncrypted"]),
                policies=tuple(str(p) for p in raw.get("policies", [])),
                format_version=version,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or malformed field {exc}") from None


@dataclass(frozen=True)
class FleetPaths:
    """Where everything of a fleet directory lives."""

    root: Path

    @property
    def metadata(self) -> Path:
        return self.root / METADATA_FILE

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def ca_cert(self) -> Path:
        return self.root / CA_DIR / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / CA_DIR / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / SERVER_DIR / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / SERVER_DIR / "server.key"

    @property
    def devices(self) -> Path:
        return self.root / DEVICES_DIR

    @property
    def policies(self) -> Path:
        return self.root / POLICIES_DIR

    def device_dir(self, thing_name: str) -> Path:
        return self.devices / thing_name

    def policy(self, name: str) -> Path:
        return self.policies / f"{name}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def read_metadata(paths: FleetPaths) -> FleetMetadata:
    try:
        raw = json.loads(paths.metadata.read_bytes())
        return FleetMetadata.from_json(raw)
    except FileNotFoundError:
        raise FleetError(
            f"{paths.root} is not a fleet directory (no {METADATA_FILE}); "
            f"run 'certs-tool init {paths.root}' first"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FleetError(f"{paths.metadata}: {exc}") from None
    except OSError as exc:
        raise FleetError(f"cannot read {paths.metadata}: {exc.strerror}") from None


def write_metadata(paths: FleetPaths, metadata: FleetMetadata) -> None:
    text = json.dumps(metadata.to_json(), indent=2) + "\n"
    write_file_atomic(paths.metadata, text.encode(), mode=PUBLIC)


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """A fleet directory as its users see it: metadata, devices, and absolute paths."""

    paths: FleetPaths
    metadata: FleetMetadata
    devices: tuple[DeviceRecord, ...] = field(repr=False)

    @property
    def root(self) -> Path:
        return self.paths.root

    @property
    def ca_cert_path(self) -> Path:
        return self.paths.ca_cert

    @property
    def server_cert_path(self) -> Path:
        return self.paths.server_cert

    @property
    def server_key_path(self) -> Path:
        return self.paths.server_key

    def cert_path(self, device: DeviceRecord) -> Path:
        return self.root / device.cert_path

    def key_path(self, device: DeviceRecord) -> Path:
        return self.root / device.key_path

    def policy_documents(self) -> Iterator[tuple[str, bytes]]:
        """(name, JSON bytes) of every policy the fleet's devices carry."""
        for name in self.metadata.policies:
            path = self.paths.policy(name)
            try:
                yield name, path.read_bytes()
            except OSError as exc:
                raise FleetError(f"cannot read policy {path}: {exc.strerror}") from None


def load_fleet(root: Path | str) -> Fleet:
    """Open a fleet directory for reading. Raises FleetError / ManifestError with the cause."""
    paths = FleetPaths(Path(root))
    metadata = read_metadata(paths)
    manifest = read_manifest(paths.manifest)
    return Fleet(paths=paths, metadata=metadata, devices=manifest.records)
