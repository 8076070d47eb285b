"""Helpers for certs_tool tests: running the real CLI, and file systems that refuse writes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `certs-tool` as a user would, in a child process (no terminal, so no prompts)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "certs_tool.cli", *map(str, args)],
        capture_output=True, text=True, env=full_env, stdin=subprocess.DEVNULL, timeout=120,
        check=False,
    )  # fmt: skip


@contextlib.contextmanager
def small_tmpfs(where: Path, *, size: str, read_only: bool = False) -> Iterator[Path]:
    """Mount a tiny tmpfs at `where`: a full disk or a read-only one that even root cannot
    write to. Needs CAP_SYS_ADMIN, which CI (root) has: without it the test fails, saying so,
    rather than passing as skipped."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (run the tests as root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def grow_tmpfs(where: Path, *, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)
