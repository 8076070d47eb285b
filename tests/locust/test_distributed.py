"""Distributed runs: what a master tells its workers and how a worker checks its fleet against
it; then real headless Locust runs on loopback (a master and two workers, each bounded by -t
and a subprocess timeout) in which every device is used by one user at a time and the emulator
counts no client-ID takeover."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest

from certs_tool import Fleet, load_fleet, mint_devices
from certs_tool.fleet import write_manifest
from simfleet.locust.endpoints import Endpoints
from simfleet.locust.errors import ConfigError
from simfleet.locust.identity import FleetFingerprint
from simfleet.locust.operator import ControlPlaneAccess
from simfleet.locust.options import Endpoint
from simfleet.locust.run_setup import RunSetup, absolute_ca, worker_endpoints, worker_fleet
from tests.conftest import MakeFleet
from tests.locust.locust_process import LOCUSTFILES, counts, stats_rows

# ---- the set-up message and the worker's checks ---------------------------------------------


def _setup(fleet: Fleet, *, ca_file: Path | None = None, needed: int = 2) -> RunSetup:
    ca = ca_file or fleet.ca_cert_path.resolve()
    return RunSetup(
        fleet_dir=fleet.root.resolve(),
        fingerprint=FleetFingerprint.of(fleet),
        needed=needed,
        endpoints=Endpoints(
            mqtt=Endpoint(host="localhost", port=8883),
            jobs=Endpoint(host="localhost", port=8443),
            ca_file=ca,
            control=ControlPlaneAccess(
                region="us-east-1",
                api_url="https://localhost:9443",
                verify=str(ca),
                access_key_id="AKIDEXAMPLE",
                secret_access_key="secret",
            ),
            account_id="123456789012",
        ),
        target_arn="arn:aws:iot:us-east-1:123456789012:thinggroup/simfleet-run",
        options={"host": None, "fleet_dir": str(fleet.root), "start_delay": 1.0},
    )


def test_the_setup_travels_as_msgpack(shared_fleet: Fleet) -> None:
    """Locust sends custom messages with msgpack: no Path, no dataclass survives it."""
    setup = _setup(shared_fleet)
    wire = msgpack.loads(msgpack.dumps(setup.to_message()), raw=False)
    assert RunSetup.from_message(wire) == setup


def _copy(fleet: Fleet, to: Path) -> Path:
    shutil.copytree(fleet.root, to)
    return to


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param("other-ca", r"its CA is another \(certificateId ", id="other-ca"),
        pytest.param("more-devices", "it holds 6 devices, not 4", id="more-devices"),
        pytest.param("reordered", "its manifest lists other devices", id="reordered"),
        pytest.param("no-key", r"incomplete: .*key\.pem is missing", id="incomplete"),
    ],
)
def test_a_worker_with_another_fleet_is_refused(
    tmp_path: Path, make_fleet: MakeFleet, change: str, message: str
) -> None:
    fleet = make_fleet(count=4)
    setup = _setup(fleet)
    if change == "other-ca":
        root = make_fleet(count=4).root
    else:
        root = _copy(fleet, tmp_path / "copy")
        if change == "more-devices":
            mint_devices(root, count=6, workers=1)
        elif change == "reordered":
            copy = load_fleet(root)
            write_manifest(copy.paths.manifest, list(reversed(copy.devices)))
        else:
            (root / fleet.devices[1].key_path).unlink()
    with pytest.raises(ConfigError, match=message) as refused:
        worker_fleet(setup, root)
    if change != "no-key":
        assert f"fleet directory {root} is not the master's fleet" in str(refused.value)


def test_a_worker_uses_its_own_copy_of_the_fleet_or_the_masters(
    tmp_path: Path, shared_fleet: Fleet
) -> None:
    setup = _setup(shared_fleet)
    assert worker_fleet(setup, None).root == shared_fleet.root.resolve()  # --processes
    copy = _copy(shared_fleet, tmp_path / "mounted")
    fleet = worker_fleet(setup, copy)
    assert fleet.root == copy
    # The CA in the master's fleet directory is the one in the worker's copy, for the
    # devices and for the control plane alike.
    endpoints = worker_endpoints(setup, fleet, None)
    assert endpoints.ca_file == copy / "ca" / "ca.pem"
    assert endpoints.control.verify == str(copy / "ca" / "ca.pem")
    assert endpoints.mqtt == setup.endpoints.mqtt
    assert endpoints.control.secret_access_key == "secret"
    own = tmp_path / "own-ca.pem"
    own.write_bytes(shared_fleet.ca_cert_path.read_bytes())
    assert worker_endpoints(setup, fleet, own).ca_file == own


def test_the_master_sends_an_absolute_ca_path(
    shared_fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shared_fleet.root.parent)
    relative = Path(shared_fleet.root.name) / "ca" / "ca.pem"
    endpoints = _setup(shared_fleet, ca_file=relative).endpoints
    sent = absolute_ca(endpoints)
    assert sent.ca_file == shared_fleet.ca_cert_path.resolve()
    assert sent.control.verify == str(sent.ca_file)
    aws = dataclasses.replace(endpoints, control=ControlPlaneAccess(region="x", verify=True))
    assert absolute_ca(aws).control.verify is True


def test_a_ca_outside_the_fleet_must_be_on_the_worker(tmp_path: Path, shared_fleet: Fleet) -> None:
    elsewhere = tmp_path / "AmazonRootCA1.pem"
    setup = _setup(shared_fleet, ca_file=elsewhere)
    aws = dataclasses.replace(
        setup.endpoints, control=ControlPlaneAccess(region="eu-west-1", verify=True)
    )
    setup = dataclasses.replace(setup, endpoints=aws)
    with pytest.raises(ConfigError, match=r"AmazonRootCA1\.pem the master uses is not on this"):
        worker_endpoints(setup, shared_fleet, None)
    elsewhere.write_bytes(shared_fleet.ca_cert_path.read_bytes())
    endpoints = worker_endpoints(setup, shared_fleet, None)
    assert (endpoints.ca_file, endpoints.control.verify) == (elsewhere, True)


# ---- real distributed runs ------------------------------------------------------------------

FAST = ("--device-profile", "fast", "--start-delay", "1", "-r", "50")
# What the master logs when it has dispatched the users (the second when it moved them from a
# message handler, where it cannot hear the workers' reports).
SPAWNED = "All users spawned|Spawning is complete"
TIMEOUT = 60.0


@dataclasses.dataclass
class Node:
    """A locust process whose output goes to files (no pipe to fill)."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def wait_for(self, pattern: str, *, count: int = 1, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.stderr)) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no {pattern!r} in:\n{self.stderr}")
            time.sleep(0.1)


class Cluster:
    def __init__(self, cwd: Path, locustfile: str) -> None:
        self.cwd = cwd
        self.locustfile = str(LOCUSTFILES / locustfile)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.nodes: list[Node] = []

    def start(self, name: str, *args: str) -> Node:
        out, err = self.cwd / f"{name}.out", self.cwd / f"{name}.err"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCUST_"))}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", self.locustfile, *args],
                cwd=self.cwd, env=clean, stdout=stdout, stderr=stderr,
            )  # fmt: skip
        node = Node(process, out, err)
        self.nodes.append(node)
        return node

    def master(self, *args: str) -> Node:
        return self.start("master", "--master", "--master-bind-host", "127.0.0.1",
                          "--master-bind-port", str(self.port), "--headless", "--only-summary",
                          *args)  # fmt: skip

    def worker(self, name: str, *args: str) -> Node:
        return self.start(name, "--worker", "--master-host", "127.0.0.1", "--master-port",
                          str(self.port), *args)  # fmt: skip


@contextmanager
def cluster(cwd: Path, locustfile: str = "jobs_mqtt.py") -> Iterator[Cluster]:
    running = Cluster(cwd, locustfile)
    try:
        yield running
    finally:
        for node in running.nodes:
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait(timeout=10)


def _identities(master: Node) -> dict[str, int]:
    [line] = [line for line in master.stdout.splitlines() if line.startswith("identities: ")]
    found = re.fullmatch(
        r"identities: (\d+) leases of (\d+) devices to the users of (\d+) workers, in (\d+) "
        r"requests; client-ID takeovers on the emulator: (\d+)",
        line,
    )
    assert found is not None, line
    names = ("leases", "devices", "workers", "requests", "takeovers")
    return dict(zip(names, map(int, found.groups()), strict=True))


def _errors(node: Node) -> list[str]:
    return [line for line in node.stderr.splitlines() if "/ERROR/" in line or "Traceback" in line]


@pytest.mark.slow
def test_two_workers_share_the_fleet_one_device_per_user(tmp_path: Path) -> None:
    """40 devices on two workers, the embedded emulator started by the master only: the job
    completes, each device is leased once (40 leases of 40 devices), each connects once, and
    the emulator saw no connection push another off its client ID."""
    with cluster(tmp_path) as run:
        master = run.master("--expect-workers", "2", "-u", "41", *FAST, "-t", "45s",
                            "--stop-when-done", "--fleet-dir", "fleet", "--job-prefix", "dist",
                            "--csv", str(tmp_path / "stats"))  # fmt: skip
        workers = [run.worker(f"worker{i}") for i in (1, 2)]
        assert master.wait() == 0, master.stderr
        assert [worker.wait() for worker in workers] == [0, 0]
    assert [_errors(node) for node in (master, *workers)] == [[], [], []]
    [job] = [line for line in master.stdout.splitlines() if line.startswith("job ")]
    assert re.fullmatch(r"job dist-1: 40 executions, \d+ SUCCEEDED, \d+ FAILED, 0 pending", job)
    identities = _identities(master)
    assert identities["takeovers"] == 0
    assert (identities["leases"], identities["devices"], identities["workers"]) == (40, 40, 2)
    # The users of a dispatch step share a round trip: far fewer requests than leases.
    assert identities["requests"] <= 8
    rows = counts(stats_rows(tmp_path / "stats"))
    assert rows[("MQTT", "connect")] == 40
    assert rows[("API", "CreateJob")] == 1
    # Only the master started an emulator, and the workers printed no summary of their own.
    assert master.stderr.count("embedded emulator:") == 1
    assert all("embedded emulator" not in w.stderr and w.stdout == "" for w in workers)


@pytest.mark.slow
def test_a_worker_whose_fleet_is_not_the_masters_is_refused(
    tmp_path: Path, make_fleet: MakeFleet
) -> None:
    other = make_fleet(count=4)
    with cluster(tmp_path) as run:
        master = run.master("--expect-workers", "1", "-u", "3", *FAST, "-t", "30s",
                            "--fleet-dir", "fleet")  # fmt: skip
        worker = run.worker("stranger", "--fleet-dir", str(other.root))
        assert worker.wait() == 1
        master.wait_for("does not take part in the run")
        master.process.send_signal(signal.SIGTERM)
        master.wait()
    [error] = _errors(worker)
    assert f"this worker's fleet directory {other.root} is not the master's fleet" in error
    assert "its CA is another" in error
    assert "Every worker needs the master's fleet directory" in error


@pytest.mark.slow
def test_users_moved_between_workers_keep_distinct_devices(tmp_path: Path) -> None:
    """A tight fleet (20 devices, 20 device users) on two workers: one quits, and Locust moves
    its users to the other; then a worker joins late, and Locust moves half of them to it.
    Each move stops a user on one worker and starts one on another, which waits at the master
    for the device the first gives back: nobody runs out, and no client ID is ever connected
    twice. (Locust 2.47 moves users off a worker that quits only before any rebalancing, and
    onto a late worker with --enable-rebalancing: hence the order.)"""
    with cluster(tmp_path) as run:
        master = run.master("--expect-workers", "2", "--enable-rebalancing", "-u", "21", *FAST,
                            "-t", "15s", "--fleet-dir", "fleet", "--job-prefix", "moves",
                            # The Operator may move too, and its CreateJob fail the second time.
                            "--exit-code-on-error", "0")  # fmt: skip
        leaving, staying = run.worker("leaving"), run.worker("staying")
        master.wait_for(SPAWNED)
        time.sleep(1)  # the devices connect
        leaving.process.send_signal(signal.SIGTERM)
        assert leaving.wait() == 0
        master.wait_for(SPAWNED, count=2)  # all on the staying worker
        time.sleep(1)
        late = run.worker("late")
        master.wait_for(SPAWNED, count=3)  # half of them on the late one
        assert master.wait() == 0, master.stderr
        assert [staying.wait(), late.wait()] == [0, 0]
    assert [_errors(node) for node in (master, leaving, staying, late)] == [[], [], [], []]
    identities = _identities(master)
    assert identities["takeovers"] == 0
    assert (identities["devices"], identities["workers"]) == (20, 3)
    # 20, then the leaving worker's 10 again, then about half of them to the late worker.
    assert 39 <= identities["leases"] <= 41
