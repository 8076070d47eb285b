"""The embedded default: with no --host, the run mints (or reuses) its fleet, starts
`simfleet emulator` as a child process, and stops it at the end.

The emulator runs in its own process (asyncio; never inside the gevent-patched Locust process)
and its own session, so that Ctrl-C stops Locust first and the job summary can still ask the
control plane; on Linux it is also told to stop if Locust dies without stopping it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from certs_tool import (
    CertsToolError,
    Fleet,
    FleetPaths,
    apply_policy_template,
    init_fleet,
    load_fleet,
    mint_devices,
)
from simfleet.locust.errors import ConfigError, EmulatorError
from simfleet.locust.identity import missing_files

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
FLEET_NAME = "simfleet"
POLICY_TEMPLATE = "jobs-all"


def prepare_fleet(root: Path, count: int) -> Fleet:
    """The fleet at `root`, created and grown to at least `count` complete devices.

    Minting is idempotent (a complete fleet is left as it is) and runs in this process on one
    core: a process pool does not mix with gevent's monkey-patching, and EC keys mint at
    several thousand a second anyway.
    """
    try:
        if not FleetPaths(root).metadata.exists():
            init_fleet(root, name=FLEET_NAME)
            apply_policy_template(root, POLICY_TEMPLATE)
        fleet = load_fleet(root)
        if len(fleet.devices) < count or missing_files(fleet, count):
            mint_devices(root, count=count, workers=1)
            fleet = load_fleet(root)
    except CertsToolError as exc:
        raise ConfigError(f"fleet {root}: {exc}") from None
    if missing := missing_files(fleet, count):
        raise ConfigError(f"fleet {root} is incomplete: {missing[0]} is missing")
    return fleet


class EmbeddedEmulator:
    """`simfleet emulator` for one fleet, in a child process with a fresh state directory."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        quotas: str | None = None,
        python: str = sys.executable,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self._fleet = fleet
        self._quotas = quotas  # the emulator's --quotas SPEC; None: its default, AWS's quotas
        self._python = python
        self._ready_timeout = ready_timeout
        self._process: subprocess.Popen[str] | None = None
        self._state_dir: Path | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The emulator process's pid while it is started (the soak samples its memory)."""
        return None if self._process is None else self._process.pid

    def start(self) -> Mapping[str, Any]:
        """Start it and return its parsed ready line; EmulatorError if it does not get ready."""
        self._state_dir = Path(tempfile.mkdtemp(prefix="simfleet-state-"))
        quotas = [] if self._quotas is None else ["--quotas", self._quotas]
        self._process = subprocess.Popen(
            [self._python, "-m", "simfleet.cli", "emulator", "--fleet", str(self._fleet.root),
             "--state-dir", str(self._state_dir), "--mqtt-port", "0", "--jobs-port", "0",
             "--api-port", "0", "--log-level", "WARNING", *quotas],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=_stop_with_parent,  # noqa: PLW1509 - one prctl call, no Python locks
        )  # fmt: skip
        try:
            return self._ready(self._process)
        except BaseException:
            self.stop()
            raise

    def _ready(self, process: subprocess.Popen[str]) -> Mapping[str, Any]:
        assert process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        # The reader keeps draining stdout after the ready line, so that the emulator never
        # blocks on a full pipe.
        threading.Thread(target=_read_lines, args=(process.stdout, lines.put), daemon=True).start()
        try:
            line = lines.get(timeout=self._ready_timeout)
        except queue.Empty:
            raise EmulatorError(
                f"the embedded emulator printed no ready line within {self._ready_timeout:g}s"
            ) from None
        if not line:
            status = process.wait(timeout=STOP_TIMEOUT)
            raise EmulatorError(
                f"the embedded emulator exited with status {status} before it was ready "
                "(its error is above)"
            )
        try:
            ready: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise EmulatorError(
                f"the embedded emulator's ready line is not JSON: {line!r}"
            ) from None
        return ready

    def stop(self) -> None:
        """SIGTERM and wait (it flushes its state and exits 0); idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_TIMEOUT)
            if process.stdout is not None:
                process.stdout.close()
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None


def create_run_group(client: Any, name: str, things: Sequence[str]) -> str:
    """Create thing group `name` holding `things` through the control plane; return its ARN.

    One AddThingToThingGroup per thing (~5 ms each on loopback): AWS has no bulk call.
    """
    try:
        arn = str(client.create_thing_group(thingGroupName=name)["thingGroupArn"])
        for thing in things:
            client.add_thing_to_thing_group(thingGroupName=name, thingName=thing)
    except (ClientError, BotoCoreError) as exc:
        raise EmulatorError(f"the embedded emulator refused thing group {name}: {exc}") from None
    return arn


def _read_lines(stream: IO[str], put: Callable[[str], None]) -> None:
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us by stop()
        while line := stream.readline():
            put(line)
    put("")


def _stop_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG), so a
    killed Locust does not leave the emulator running in its own session."""
    if sys.platform == "linux":
        import ctypes  # noqa: PLC0415 - only in the forked child, only on Linux

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
