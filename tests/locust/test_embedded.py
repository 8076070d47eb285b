"""The embedded default: a cached fleet sized to the run, the emulator as a child process, the
run's thing group, and the start-up probe of an endpoint (reachable, right CA or not)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs_tool import Fleet, load_fleet
from simfleet.locust.embedded import EmbeddedEmulator, create_run_group, prepare_fleet
from simfleet.locust.endpoints import Endpoints, probe_tls
from simfleet.locust.errors import ConfigError, ControlPlaneError, EmulatorError, EndpointError
from simfleet.locust.operator import ApiCall, JobsOperator, iot_client
from simfleet.locust.options import Endpoint
from tests.conftest import MakeFleet


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, Endpoints]]:
    fleet = prepare_fleet(tmp_path_factory.mktemp("embedded") / "fleet", 5)
    emulator = EmbeddedEmulator(fleet)
    try:
        yield fleet, Endpoints.from_ready_line(emulator.start())
    finally:
        emulator.stop()


def test_prepare_fleet_creates_grows_and_reuses(tmp_path: Path) -> None:
    root = tmp_path / "cache" / "fleet"
    fleet = prepare_fleet(root, 3)
    assert [d.thing_name for d in fleet.devices] == ["sim-000000", "sim-000001", "sim-000002"]
    assert fleet.metadata.policies  # devices carry the jobs policy
    first_cert = fleet.cert_path(fleet.devices[0]).read_bytes()
    assert prepare_fleet(root, 2).devices == fleet.devices  # a larger cached fleet is kept
    grown = prepare_fleet(root, 5)
    assert len(grown.devices) == 5
    assert grown.cert_path(grown.devices[0]).read_bytes() == first_cert  # nothing re-minted


def test_prepare_fleet_repairs_missing_files(tmp_path: Path) -> None:
    fleet = prepare_fleet(tmp_path / "fleet", 2)
    fleet.key_path(fleet.devices[1]).unlink()
    repaired = prepare_fleet(tmp_path / "fleet", 2)
    assert repaired.key_path(repaired.devices[1]).is_file()


def test_prepare_fleet_of_a_broken_directory_is_a_config_error(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    prepare_fleet(root, 1)
    (root / "manifest.jsonl").write_text("{not json\n")
    with pytest.raises(ConfigError, match=r"fleet .*manifest.jsonl"):
        prepare_fleet(root, 1)


def test_the_emulator_serves_the_fleet(running: tuple[Fleet, Endpoints]) -> None:
    fleet, endpoints = running
    assert endpoints.mqtt.host == "localhost"  # SNI is sent to a name, never to an address
    assert endpoints.ca_file == fleet.ca_cert_path.resolve()
    device = fleet.devices[0]
    for endpoint in (endpoints.mqtt, endpoints.jobs):
        assert endpoint is not None
        probe_tls(endpoint, what="test", ca_file=endpoints.ca_file,
                  cert_file=fleet.cert_path(device), key_file=fleet.key_path(device))  # fmt: skip


def test_run_group_and_operator_calls(running: tuple[Fleet, Endpoints]) -> None:
    fleet, endpoints = running
    client = iot_client(endpoints.control)
    things = [d.thing_name for d in fleet.devices[:3]]
    arn = create_run_group(client, "simfleet-run", things)
    assert arn.endswith(":thinggroup/simfleet-run")
    with pytest.raises(EmulatorError, match=r"refused thing group other: .*ResourceNotFound"):
        create_run_group(client, "other", ["no-such-thing"])
    calls: list[ApiCall] = []
    operator = JobsOperator(client, report=calls.append)
    assert operator.thing_group_arn("simfleet-run") == arn
    operator.create_job("t-1", targets=[arn], document='{"op": "x"}', rollout_max_per_minute=60)
    progress = operator.progress("t-1")
    assert progress.status == "IN_PROGRESS"
    assert progress.pending == progress.total <= 3  # the rollout releases them over a minute
    job = client.describe_job(jobId="t-1")["job"]
    assert job["jobExecutionsRolloutConfig"]["maximumPerMinute"] == 60
    with pytest.raises(ControlPlaneError) as refused:
        operator.create_job("t-1", targets=[arn], document="{}")
    assert refused.value.code == "ResourceAlreadyExistsException"
    with pytest.raises(ControlPlaneError, match="ResourceNotFoundException"):
        operator.thing_group_arn("no-such-group")
    assert [(c.name, c.job_id, c.error.code if c.error else None) for c in calls] == [
        ("DescribeThingGroup", "", None),
        ("CreateJob", "t-1", None),
        ("DescribeJob", "t-1", None),
        ("CreateJob", "t-1", "ResourceAlreadyExistsException"),
        ("DescribeThingGroup", "", "ResourceNotFoundException"),
    ]
    assert all(c.duration_ms > 0 for c in calls)
    client.close()


def test_wrong_ca_is_named(running: tuple[Fleet, Endpoints], make_fleet: MakeFleet) -> None:
    fleet, endpoints = running
    other = make_fleet(count=1)
    device = fleet.devices[0]
    with pytest.raises(EndpointError, match=r"does not verify with the CA .*--ca-file"):
        probe_tls(endpoints.mqtt, what="the MQTT endpoint", ca_file=other.ca_cert_path,
                  cert_file=fleet.cert_path(device), key_file=fleet.key_path(device))  # fmt: skip


def test_unreachable_endpoint_is_named(shared_fleet: Fleet) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        device = shared_fleet.devices[0]
        with pytest.raises(EndpointError, match=r"cannot reach the MQTT endpoint 127.0.0.1:\d+"):
            probe_tls(Endpoint(host="127.0.0.1", port=port), what="the MQTT endpoint",
                      ca_file=shared_fleet.ca_cert_path, cert_file=shared_fleet.cert_path(device),
                      key_file=shared_fleet.key_path(device))  # fmt: skip


def test_an_emulator_that_cannot_start_is_an_emulator_error(tmp_path: Path) -> None:
    fleet = prepare_fleet(tmp_path / "fleet", 1)
    (fleet.root / "server" / "server.key").unlink()  # the emulator cannot serve TLS
    emulator = EmbeddedEmulator(load_fleet(fleet.root))
    with pytest.raises(EmulatorError, match="exited with status 1 before it was ready"):
        emulator.start()
    assert not emulator.running


def test_the_run_group_fills_at_the_control_planes_quota(tmp_path: Path) -> None:
    """AddThingToThingGroup is limited (60/s on AWS): set-up calls retry until they pass."""
    fleet = prepare_fleet(tmp_path / "fleet", 30)
    emulator = EmbeddedEmulator(fleet, quotas="api:AddThingToThingGroup=20,burst-seconds=0.5")
    try:
        control = Endpoints.from_ready_line(emulator.start()).control
        things = [d.thing_name for d in fleet.devices]
        with pytest.raises(EmulatorError, match="ThrottlingException"):
            create_run_group(iot_client(control, attempts=1), "impatient", things)
        create_run_group(iot_client(control, attempts=10), "patient", things)
        members = iot_client(control).list_things_in_thing_group(thingGroupName="patient")
        assert sorted(members["things"]) == things
    finally:
        emulator.stop()


def test_bad_emulator_quotas_stop_the_start(tmp_path: Path) -> None:
    emulator = EmbeddedEmulator(prepare_fleet(tmp_path / "fleet", 1), quotas="nonsense")
    with pytest.raises(EmulatorError, match="exited with status 2 before it was ready"):
        emulator.start()


def test_stop_is_idempotent_and_cleans_up(tmp_path: Path) -> None:
    fleet = prepare_fleet(tmp_path / "fleet", 1)
    emulator = EmbeddedEmulator(fleet)
    ready: dict[str, Any] = dict(emulator.start())
    state = Path(ready["state_dir"])
    running = [emulator.running]
    assert state.is_dir()
    emulator.stop()
    running.append(emulator.running)
    emulator.stop()
    running.append(emulator.running)
    assert running == [True, False, False]
    assert not state.exists()


def test_the_emulator_stops_when_its_parent_dies(tmp_path: Path) -> None:
    """A Locust killed with SIGKILL does not leave its emulator serving (PR_SET_PDEATHSIG)."""
    fleet = prepare_fleet(tmp_path / "fleet", 1)
    script = (
        "import json, sys\n"
        "from certs_tool import load_fleet\n"
        "from simfleet.locust.embedded import EmbeddedEmulator\n"
        f"ready = EmbeddedEmulator(load_fleet({str(fleet.root)!r})).start()\n"
        "print(json.dumps(ready), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    ready = json.loads(parent.stdout.readline())
    parent.kill()
    parent.communicate(timeout=10)
    child = int(ready["pid"])
    assert _exits(child, timeout=15), "the emulator outlived its parent"


def _exits(pid: int, *, timeout: float) -> bool:
    import os
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
