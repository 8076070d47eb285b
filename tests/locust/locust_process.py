"""Real headless `locust` runs in a child process, for the end-to-end tests.

Locust monkey-patches its whole process with gevent, so it never runs inside pytest's. Every
run is bounded twice: by `--run-time` and by the subprocess timeout.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOCUSTFILES = Path(__file__).resolve().parents[2] / "locustfiles"
TIMEOUT_MARGIN = 30.0  # seconds past --run-time before the run is killed


@dataclass(frozen=True, kw_only=True)
class LocustRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def job_lines(self) -> list[str]:
        """The summary lines the run printed last."""
        return [line for line in self.stdout.splitlines() if line.startswith("job ")]

    def errors(self) -> list[str]:
        """Locust's ERROR log lines."""
        return [line for line in self.stderr.splitlines() if "/ERROR/" in line]


def run_locust(
    locustfile: str,
    *args: str,
    cwd: Path,
    run_time: int = 60,
    env: Mapping[str, str] | None = None,
) -> LocustRun:
    """`locust -f locustfiles/<locustfile> --headless -t <run_time>s <args>` in `cwd` (so that
    no locust.conf of the repository is read)."""
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / locustfile),
               "--headless", "--only-summary", "-t", f"{run_time}s", *args]  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCUST_"))}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
        timeout=run_time + TIMEOUT_MARGIN, check=False,
    )  # fmt: skip
    return LocustRun(
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        seconds=time.monotonic() - started,
    )


def stats_rows(prefix: Path) -> list[dict[str, str]]:
    """The rows of `--csv PREFIX`'s PREFIX_stats.csv, without the Aggregated one."""
    with Path(f"{prefix}_stats.csv").open(newline="") as stream:
        return [row for row in csv.DictReader(stream) if row["Name"] != "Aggregated"]


def counts(rows: Sequence[Mapping[str, str]]) -> dict[tuple[str, str], int]:
    """(Type, Name) -> Request Count; asserts that each operation has one row."""
    keys = [(row["Type"], row["Name"]) for row in rows]
    assert len(keys) == len(set(keys)), f"an operation has more than one row: {keys}"
    return {(row["Type"], row["Name"]): int(row["Request Count"]) for row in rows}
