"""Minting device credentials into a fleet directory: fast, resumable and idempotent.

How a run stays safe when it is interrupted anywhere (Ctrl-C, kill -9, a full disk):
1. A device directory appears in one rename, holding both its certificate and key, or not at all.
2. Its manifest line is appended only after that rename, in whole lines; a cut last line is
   dropped by the next run.
3. A device directory with no manifest line (the window between 1 and 2) is adopted by the next
   run once its certificate is checked against the CA and its key, else it is minted again.
4. A device about to be replaced (--force, or files gone) loses its manifest line first, so a
   crash mid-replacement falls back to rule 3.
Re-running a complete fleet therefore changes nothing, and growing one mints only new names.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from certs_tool.authority import SigningAuthority, certificate_id, load_authority
from certs_tool.credentials import DeviceCredential, Issuer
from certs_tool.errors import CertsToolError, InvalidInputError
from certs_tool.files import PRIVATE, PUBLIC, remove_leftovers, storage_errors, write_dir_atomic
from certs_tool.fleet import (
    CERT_FILE,
    KEY_FILE,
    MAX_THING_NAME,
    DeviceRecord,
    FleetPaths,
    ManifestAppender,
    manifest_line,
    read_manifest,
    read_metadata,
    validate_thing_name,
    write_manifest,
)
from certs_tool.keys import KeyType, key_type_of

DEFAULT_PREFIX = "sim-"
DEFAULT_DAYS = 365
INDEX_WIDTH = 6  # sim-000000: names stay the same when a fleet grows past any count
# RFC 5280's ub-common-name. The CN is the thing name (see credentials.Issuer), so minted names
# stop at 64 characters although AWS accepts 128.
MAX_MINTED_NAME = 64
ProgressCallback = Callable[[int], None]


class MintInterrupted(CertsToolError):
    """Ctrl-C during minting; everything finished before it is kept and recorded."""


@dataclass(frozen=True, kw_only=True)
class MintReport:
    requested: int  # devices the fleet should hold under this prefix
    minted: int  # new credentials signed by this run
    adopted: int  # complete credentials found without a manifest line, now recorded
    kept: int  # devices that were already complete
    seconds: float

    @property
    def rate(self) -> float:
        return self.minted / self.seconds if self.seconds > 0 else 0.0


def thing_names(prefix: str, count: int) -> list[str]:
    if count < 1:
        raise InvalidInputError(f"--count must be at least 1, not {count}")
    longest = f"{prefix}{count - 1:0{INDEX_WIDTH}d}"
    validate_thing_name(longest)
    if len(longest) > MAX_MINTED_NAME:
        raise InvalidInputError(
            f"prefix {prefix!r} is too long: {longest!r} has {len(longest)} characters, and "
            f"the certificate's CN carries the thing name, which X.509 limits to "
            f"{MAX_MINTED_NAME} (AWS allows {MAX_THING_NAME}-character thing names, but the "
            "HTTPS policy finds the thing through the CN)"
        )
    return [f"{prefix}{i:0{INDEX_WIDTH}d}" for i in range(count)]


def mint_devices(
    root: Path,
    *,
    count: int,
    prefix: str = DEFAULT_PREFIX,
    key_type: KeyType = KeyType.EC_P256,
    days: int = DEFAULT_DAYS,
    workers: int | None = None,
    force: bool = False,
    passphrase: bytes | None = None,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> MintReport:
    """Make the fleet hold `count` devices named `prefix` + index; see the module docstring."""
    started = time.perf_counter()
    names = thing_names(prefix, count)
    if days < 1:
        raise InvalidInputError(f"--days must be at least 1, not {days}")
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, not {workers}")
    paths = FleetPaths(root)
    metadata = read_metadata(paths)
    authority = load_authority(root, passphrase)
    now = now or datetime.now(UTC)
    issuer = Issuer(authority, now=now, days=days)
    if issuer.not_after > authority.not_after:
        raise InvalidInputError(
            f"--days {days} would outlive the fleet CA (valid until "
            f"{authority.not_after:%Y-%m-%d}); choose fewer days"
        )

    with storage_errors(paths.devices):
        paths.devices.mkdir(parents=True, exist_ok=True)
    remove_leftovers(paths.devices)
    remove_leftovers(paths.root)
    manifest = read_manifest(paths.manifest, tolerate_partial_tail=True)
    records = {r.thing_name: r for r in manifest.records}

    wanted = set(names)
    replace = {
        name
        for name, record in records.items()
        if name in wanted and (force or not _files_present(paths, record))
    }
    if manifest.partial_tail or replace:
        # Rule 2 and 4: forget the cut line and the records about to be replaced, durably,
        # before any credential is touched.
        write_manifest(paths.manifest, [r for r in manifest.records if r.thing_name not in replace])

    existing_dirs = _existing_device_dirs(paths)
    adopted: list[DeviceRecord] = []
    to_mint: list[str] = []
    for name in names:
        if name in records and name not in replace:
            continue
        if name in existing_dirs and not force:
            record = _adopt(paths, name, authority, metadata.policies)
            if record is not None:
                adopted.append(record)
                continue
        to_mint.append(name)
    kept = len(names) - len(to_mint) - len(adopted)

    with ManifestAppender(paths.manifest) as appender:
        appender.append(adopted)
        done = kept + len(adopted)
        if on_progress:
            on_progress(done)
        job = _MintJob(
            root=root,
            authority=authority,
            now=now,
            days=days,
            key_type=key_type,
            policies=metadata.policies,
        )
        try:
            for minted, lines in job.run(to_mint, workers):
                appender.append_encoded(lines)
                done += minted
                if on_progress:
                    on_progress(done)
        except KeyboardInterrupt:
            raise MintInterrupted(
                f"interrupted after {done} of {len(names)} devices; they are kept: re-run the "
                "same command to finish the fleet"
            ) from None
    return MintReport(
        requested=len(names),
        minted=len(to_mint),
        adopted=len(adopted),
        kept=kept,
        seconds=time.perf_counter() - started,
    )


def _files_present(paths: FleetPaths, record: DeviceRecord) -> bool:
    return (paths.root / record.cert_path).is_file() and (paths.root / record.key_path).is_file()


def _existing_device_dirs(paths: FleetPaths) -> set[str]:
    with storage_errors(paths.devices):
        return {e.name for e in os.scandir(paths.devices) if e.is_dir(follow_symlinks=False)}


def _adopt(
    paths: FleetPaths, name: str, authority: SigningAuthority, policies: tuple[str, ...]
) -> DeviceRecord | None:
    """Record a complete credential an interrupted run wrote, or None if it is not sound."""
    directory = paths.device_dir(name)
    try:
        cert = x509.load_pem_x509_certificate((directory / CERT_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), None)
        cert.verify_directly_issued_by(authority.cert)
        common_names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        if [a.value for a in common_names] != [name] or key.public_key() != cert.public_key():
            return None
        key_type = key_type_of(key)
    except (OSError, ValueError, TypeError, InvalidSignature, CertsToolError):
        return None
    return _record(
        paths,
        name,
        key_type=key_type,
        cert_id=certificate_id(cert),
        not_after=cert.not_valid_after_utc,
        policies=policies,
    )


def _record(
    paths: FleetPaths,
    name: str,
    *,
    key_type: KeyType,
    cert_id: str,
    not_after: datetime,
    policies: tuple[str, ...],
) -> DeviceRecord:
    directory = paths.device_dir(name)
    return DeviceRecord(
        thing_name=name,
        client_id=name,  # AWS resolves thing policy variables only when clientId == thingName
        certificate_id=cert_id,
        cert_path=paths.relative(directory / CERT_FILE),
        key_path=paths.relative(directory / KEY_FILE),
        key_type=key_type,
        not_after=not_after,
        policies=policies,
    )


@dataclass(frozen=True, kw_only=True)
class _MintJob:
    """Everything a worker process needs; pickled once per worker, not per device."""

    root: Path
    authority: SigningAuthority
    now: datetime
    days: int
    key_type: KeyType
    policies: tuple[str, ...]

    def run(self, names: Sequence[str], workers: int) -> Iterator[tuple[int, bytes]]:
        """Mint `names`, yielding batches of records in order, each written before it is yielded."""
        per_batch = max(8, min(512, len(names) // (workers * 8) or 1))
        batches = [names[i : i + per_batch] for i in range(0, len(names), per_batch)]
        # A pool costs ~10 ms a worker to start: not worth it for a handful of EC keys, always
        # worth it for RSA (~50 ms a key).
        if workers == 1 or (len(names) < 64 and not self.key_type.is_rsa):
            _init_worker(self, ignore_sigint=False)
            for batch in batches:
                yield _mint_batch(batch)
            return
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(batches)), initializer=_init_worker, initargs=(self,)
        )
        try:
            futures = [pool.submit(_mint_batch, batch) for batch in batches]
            for future in futures:
                yield future.result()
        finally:
            # Runs on Ctrl-C and on errors too: started batches finish (and are adopted by the
            # next run), queued ones are dropped.
            pool.shutdown(wait=True, cancel_futures=True)


def _mint_batch(names: Sequence[str]) -> tuple[int, bytes]:
    """Mint and write `names`; return how many, and their manifest lines ready to append.

    The lines are encoded here, in the worker, so that the parent process (which shares the
    cores) only appends bytes.
    """
    assert _WORKER is not None, "set by _init_worker in this process"
    job, issuer, paths = _WORKER
    devices_dir = os.fspath(paths.devices)
    lines = []
    for name in names:
        credential = issuer.issue(name, job.key_type)
        _write_credential(devices_dir, credential)
        lines.append(
            manifest_line(
                thing_name=name,
                certificate_id=credential.certificate_id,
                key_type=job.key_type,
                not_after=credential.not_after,
                policies=job.policies,
            )
        )
    return len(lines), b"".join(lines)


def _write_credential(devices_dir: str, credential: DeviceCredential) -> None:
    write_dir_atomic(
        os.path.join(devices_dir, credential.thing_name),
        {CERT_FILE: (credential.cert_pem, PUBLIC), KEY_FILE: (credential.key_pem, PRIVATE)},
    )


_WORKER: tuple[_MintJob, Issuer, FleetPaths] | None = None


def _init_worker(job: _MintJob, *, ignore_sigint: bool = True) -> None:
    global _WORKER  # noqa: PLW0603 - per-process state of a pool worker, set once at its start
    if ignore_sigint:
        # Ctrl-C reaches the whole process group; only the parent decides what to keep.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = (job, Issuer(job.authority, now=job.now, days=job.days), FleetPaths(job.root))
