"""`certs-tool verify`: check every credential of a fleet and report each problem found.

Fleet-wide checks (CA, server certificate, manifest lines, duplicates, policies, stray
directories) run here; per-device checks (chain, key match, permissions, validity, manifest
agreement) run on a process pool, since a 100k fleet means 100k signature verifications.
"""

from __future__ import annotations

import enum
import json
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs_tool.authority import certificate_id
from certs_tool.errors import CertsToolError, InvalidInputError, ManifestError
from certs_tool.fleet import (
    DeviceRecord,
    FleetMetadata,
    FleetPaths,
    parse_manifest_line,
    read_metadata,
)
from certs_tool.keys import key_type_of
from certs_tool.policy.document import parse_policy

_BATCH = 500


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, kw_only=True)
class Problem:
    subject: str  # a thing name, or a path relative to the fleet directory
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.subject}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    devices: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> int:
        return sum(p.severity is Severity.ERROR for p in self.problems)

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors


def verify_fleet(
    root: Path,
    *,
    workers: int | None = None,
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    paths = FleetPaths(root)
    metadata = read_metadata(paths)
    now = now or datetime.now(UTC)
    problems: list[Problem] = []
    ca = _check_ca(paths, metadata, now, problems)
    records = _read_records(paths, problems)
    _check_duplicates(records, problems)
    _check_policies(paths, metadata, records, problems)
    _check_strays(paths, records, problems)
    if ca is not None:
        _check_server(paths, ca, now, problems)
        problems.extend(
            _check_devices(paths, ca, records, now, workers=workers, on_progress=on_progress)
        )
    return VerifyReport(devices=len(records), problems=tuple(problems))


def _check_ca(
    paths: FleetPaths, metadata: FleetMetadata, now: datetime, problems: list[Problem]
) -> x509.Certificate | None:
    subject = paths.relative(paths.ca_cert)
    try:
        ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    except (OSError, ValueError) as exc:
        problems.append(Problem(subject=subject, message=f"cannot load the CA: {exc}"))
        return None
    if certificate_id(ca) != metadata.ca_certificate_id:
        problems.append(Problem(subject=subject, message="is not the CA recorded in fleet.json"))
    problems.extend(_validity(subject, ca, now))
    problems.extend(_private_file(paths, paths.ca_key))
    if not metadata.ca_key_encrypted:
        # An encrypted key cannot be matched without its passphrase; mint checks it when used.
        problems.extend(_key_matches(paths, paths.ca_key, ca))
    return ca


def _check_server(
    paths: FleetPaths, ca: x509.Certificate, now: datetime, problems: list[Problem]
) -> None:
    subject = paths.relative(paths.server_cert)
    try:
        server = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
        server.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature) as exc:
        problems.append(Problem(subject=subject, message=f"not a certificate of this CA ({exc})"))
        return
    problems.extend(_validity(subject, server, now))
    problems.extend(_private_file(paths, paths.server_key))
    problems.extend(_key_matches(paths, paths.server_key, server))


def _read_records(paths: FleetPaths, problems: list[Problem]) -> list[DeviceRecord]:
    """Every readable manifest line; each unreadable one becomes a problem with its number."""
    try:
        data = paths.manifest.read_bytes()
    except FileNotFoundError:
        problems.append(
            Problem(subject=paths.relative(paths.manifest), message="missing: no device minted")
        )
        return []
    records = []
    lines = data.split(b"\n")
    if lines[-1].strip():
        problems.append(
            Problem(
                subject=f"{paths.relative(paths.manifest)}:{len(lines)}",
                message="incomplete last line (interrupted mint? re-run it)",
            )
        )
    for number, line in enumerate(lines[:-1], 1):
        try:
            records.append(parse_manifest_line(paths.manifest, number, line))
        except ManifestError as exc:
            problems.append(
                Problem(subject=f"{paths.relative(paths.manifest)}:{number}", message=exc.reason)
            )
    return records


def _check_duplicates(records: Sequence[DeviceRecord], problems: list[Problem]) -> None:
    for field, values in (
        ("thingName", [r.thing_name for r in records]),
        ("clientId", [r.client_id for r in records]),
        ("certificateId", [r.certificate_id for r in records]),
    ):
        for value, times in Counter(values).items():
            if times > 1:
                problems.append(
                    Problem(subject=value, message=f"{field} appears {times} times in the manifest")
                )


def _check_policies(
    paths: FleetPaths,
    metadata: FleetMetadata,
    records: Sequence[DeviceRecord],
    problems: list[Problem],
) -> None:
    names = set(metadata.policies).union(*(r.policies for r in records))
    for name in sorted(names):
        path = paths.policy(name)
        try:
            parse_policy(path.read_bytes())
        except OSError:
            problems.append(Problem(subject=paths.relative(path), message="policy file missing"))
        except InvalidInputError as exc:
            problems.append(Problem(subject=paths.relative(path), message=str(exc)))


def _check_strays(
    paths: FleetPaths, records: Sequence[DeviceRecord], problems: list[Problem]
) -> None:
    known = {r.thing_name for r in records}
    try:
        entries = sorted(e.name for e in os.scandir(paths.devices))
    except OSError:
        return
    for name in entries:
        if name not in known:
            problems.append(
                Problem(
                    subject=paths.relative(paths.device_dir(name)),
                    message="not in the manifest (an interrupted mint? re-run it to adopt it)",
                    severity=Severity.WARNING,
                )
            )


def _check_devices(
    paths: FleetPaths,
    ca: x509.Certificate,
    records: Sequence[DeviceRecord],
    now: datetime,
    *,
    workers: int | None,
    on_progress: Callable[[int], None] | None,
) -> Iterator[Problem]:
    batches = [records[i : i + _BATCH] for i in range(0, len(records), _BATCH)]
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    args = [(str(paths.root), ca_pem, batch, now) for batch in batches]
    done = 0
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(batches) <= 1:
        results: Iterator[list[Problem]] = (_check_batch(*a) for a in args)
        for found, batch in zip(results, batches, strict=True):
            done += len(batch)
            if on_progress:
                on_progress(done)
            yield from found
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        futures = [pool.submit(_check_batch, *a) for a in args]
        for future, batch in zip(futures, batches, strict=True):
            found = future.result()
            done += len(batch)
            if on_progress:
                on_progress(done)
            yield from found


def _check_batch(
    root: str, ca_pem: bytes, records: Sequence[DeviceRecord], now: datetime
) -> list[Problem]:
    paths = FleetPaths(Path(root))
    ca = x509.load_pem_x509_certificate(ca_pem)
    problems: list[Problem] = []
    for record in records:
        problems.extend(
            Problem(subject=record.thing_name, message=m) for m in _device(paths, ca, record, now)
        )
    return problems


def _device(  # noqa: PLR0912 - a flat list of checks reads better than a table
    paths: FleetPaths, ca: x509.Certificate, record: DeviceRecord, now: datetime
) -> Iterator[str]:
    if record.client_id != record.thing_name:
        yield (
            f"clientId {record.client_id!r} differs from the thing name: AWS resolves thing "
            "policy variables only when they are equal"
        )
    try:
        cert = x509.load_pem_x509_certificate((paths.root / record.cert_path).read_bytes())
    except OSError as exc:
        yield f"cannot read {record.cert_path}: {exc.strerror}"
        return
    except ValueError:
        yield f"{record.cert_path} is not a PEM certificate"
        return
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        yield "certificate is not signed by the fleet CA"
    common_names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [record.thing_name]:
        yield f"certificate CN {common_names} is not the thing name"
    if certificate_id(cert) != record.certificate_id:
        yield "certificateId in the manifest is not the SHA-256 of the certificate"
    if cert.not_valid_after_utc != record.not_after:
        yield "notAfter in the manifest differs from the certificate"
    for problem in _validity(record.cert_path, cert, now):
        yield problem.message
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            yield "certificate lacks the clientAuth extended key usage"
    except x509.ExtensionNotFound:
        yield "certificate lacks the clientAuth extended key usage"
    key_path = paths.root / record.key_path
    for problem in _private_file(paths, key_path):
        yield problem.message
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    except OSError:
        return  # reported by _private_file
    except (ValueError, TypeError) as exc:
        yield f"cannot load the private key: {exc}"
        return
    if key.public_key() != cert.public_key():
        yield "private key does not match certificate"
    try:
        key_type = key_type_of(key)
    except CertsToolError:
        yield f"unsupported private key type {type(key).__name__}"
        return
    if key_type is not record.key_type:
        yield f"key type is {key_type.value}, manifest says {record.key_type.value}"


def _validity(subject: str, cert: x509.Certificate, now: datetime) -> Iterator[Problem]:
    if now < cert.not_valid_before_utc:
        yield Problem(subject=subject, message=f"not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        yield Problem(subject=subject, message=f"expired on {cert.not_valid_after_utc}")


def _private_file(paths: FleetPaths, path: Path) -> Iterator[Problem]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        yield Problem(subject=paths.relative(path), message=f"cannot read: {exc.strerror}")
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        yield Problem(
            subject=paths.relative(path),
            message=f"private key is readable by others (mode {stat.S_IMODE(mode):04o}, want 0600)",
        )


def _key_matches(paths: FleetPaths, path: Path, cert: x509.Certificate) -> Iterator[Problem]:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except OSError:
        return  # reported by _private_file
    except (ValueError, TypeError) as exc:
        yield Problem(subject=paths.relative(path), message=f"cannot load the private key: {exc}")
        return
    if key.public_key() != cert.public_key():
        yield Problem(
            subject=paths.relative(path), message="private key does not match certificate"
        )


def report_json(report: VerifyReport) -> str:
    return json.dumps(
        {
            "devices": report.devices,
            "errors": report.errors,
            "warnings": report.warnings,
            "problems": [
                {"severity": p.severity.value, "subject": p.subject, "message": p.message}
                for p in report.problems
            ],
        }
    )
