"""Writes that are all-or-nothing: a reader (or a re-run after kill -9) sees the old content or
the new, never half of it. OS errors are translated to StorageError here, once."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from certs_tool.errors import StorageError

PRIVATE = 0o600
PUBLIC = 0o644
TMP_PREFIX = ".tmp-"

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a path component is not a directory",
}


@contextlib.contextmanager
def storage_errors(what: Path | str) -> Iterator[None]:
    """Turn an OSError while touching `what` into a one-line StorageError."""
    try:
        yield
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        raise StorageError(f"cannot write {what}: {reason}") from exc


def _write_new(path: Path | str, data: bytes, mode: int) -> None:
    # O_EXCL: a temp name is ours alone; the mode is set at creation so a key is never readable
    # by others, not even between open() and chmod().
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes, *, mode: int = PUBLIC, fsync: bool = True) -> None:
    """Replace `path` with `data` atomically (temp file in the same directory, then rename)."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    with storage_errors(path):
        try:
            _write_new(tmp, data, mode)
            if fsync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def write_dir_atomic(path: Path | str, files: Mapping[str, tuple[bytes, int]]) -> None:
    """Create directory `path` holding `files` ({name: (data, mode)}) in one rename.

    A device's certificate and key appear together or not at all. An existing `path` is
    replaced (the caller decides whether it may be). No fsync per device: minting 100k devices
    must stay fast, and a device lost to a power cut is simply re-minted by the next run, because
    the manifest line is only written after this returns.
    """
    # Plain strings, not pathlib: this runs once per device, 100k times a fleet.
    parent, base = os.path.split(os.fspath(path))
    tmp = os.path.join(parent, f"{TMP_PREFIX}{base}.{os.getpid()}")
    with storage_errors(path):
        try:
            os.mkdir(tmp, 0o755)
            for name, (data, mode) in files.items():
                _write_new(os.path.join(tmp, name), data, mode)
            try:
                os.rename(tmp, path)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                old = os.path.join(parent, f"{TMP_PREFIX}{base}.old.{os.getpid()}")
                os.rename(path, old)
                os.rename(tmp, path)
                shutil.rmtree(old)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def remove_leftovers(directory: Path) -> int:
    """Delete temp files and directories an interrupted run left in `directory`."""
    removed = 0
    with storage_errors(directory):
        for entry in os.scandir(directory):
            if entry.name.startswith(TMP_PREFIX):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
    return removed
