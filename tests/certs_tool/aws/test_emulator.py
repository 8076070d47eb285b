"""certs-tool register / cleanup against the emulator's control plane (`simfleet emulator
--no-register-fleet`, its control-plane quotas at AWS's values unless a test says otherwise):
the same code and boto3 as against AWS, only the endpoint differs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from certs_tool import DeviceRecord, Fleet
from certs_tool.aws import (
    AWS_DEFAULT_RATES,
    AwsInterrupted,
    RegisterOptions,
    RegisterReport,
    Stopper,
    cleanup_fleet,
    connect,
    journal_state,
    paced_caller,
    register_fleet,
)
from tests.certs_tool.helpers import run_cli
from tests.conftest import MakeFleet
from tests.emulator.e2e.process import Device, EmulatorProcess

StartEmulator = Callable[..., EmulatorProcess]


@pytest.fixture
def start_emulator(
    make_fleet: MakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartEmulator]:
    """start_emulator(*options, name=) -> the emulator over a new 6-device fleet, with an empty
    registry; boto3's usual chain then finds its credentials and CA in the environment."""
    started: list[EmulatorProcess] = []

    def start(*options: str, name: str = "emu") -> EmulatorProcess:
        fleet = make_fleet(count=6, name=name)
        emulator = EmulatorProcess(fleet, tmp_path / "state").start("--no-register-fleet", *options)
        started.append(emulator)
        ready = emulator.ready
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ready["access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ready["secret_access_key"])
        monkeypatch.setenv("AWS_CA_BUNDLE", ready["ca_file"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", ready["region"])
        return emulator

    yield start
    for emulator in started:
        if emulator.process.poll() is None:
            emulator.stop()


def register(
    emulator: EmulatorProcess, rates: dict[str, float] | None = None, **kwargs: Any
) -> RegisterReport:
    stopper = Stopper()
    options = kwargs.pop("options", RegisterOptions(thing_group="emu-group"))
    caller = paced_caller(
        connect(endpoint_url=emulator.ready["api_url"]),
        stopper=stopper,
        rates=rates or AWS_DEFAULT_RATES,
    )
    return register_fleet(emulator.fleet.root, caller, options, stopper=stopper, **kwargs)


def everything(iot: Any) -> dict[str, list[str]]:
    return {
        "things": [t["thingName"] for t in iot.list_things()["things"]],
        "certificates": [c["certificateId"] for c in iot.list_certificates()["certificates"]],
        "ca": [c["certificateId"] for c in iot.list_ca_certificates()["certificates"]],
        "policies": [p["policyName"] for p in iot.list_policies()["policies"]],
        "groups": [g["groupName"] for g in iot.list_thing_groups()["thingGroups"]],
    }


def connects(emulator: EmulatorProcess, record: DeviceRecord) -> bool:
    """Whether the device's CONNECT is accepted; a refusal is a close without CONNACK, seen
    as soon as it happens (Device.connect would wait out its CONNACK timeout)."""
    device = Device(emulator, record)
    device.client.connect("localhost", int(emulator.ready["mqtt_port"]), keepalive=60)
    device.client.loop_start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not device.connack.empty():
                return device.connack.get() == 0
            if device.disconnected.is_set():
                return False
            time.sleep(0.02)
        raise AssertionError("neither CONNACK nor a close within 10 s")
    finally:
        device.close()


def test_register_connect_deactivate_clean_up(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    fleet: Fleet = emulator.fleet
    report = register(emulator)
    assert (report.registered, report.retried) == (6, 0)
    iot = emulator.iot()
    held = everything(iot)
    assert sorted(held["certificates"]) == sorted(d.certificate_id for d in fleet.devices)
    assert held["ca"] == [fleet.metadata.ca_certificate_id]
    assert held["groups"] == ["emu-group"]

    first, second = fleet.devices[0], fleet.devices[1]
    device = Device(emulator, first)
    assert device.connect() == 0  # registered by certs-tool: its certificate connects
    iot.update_certificate(certificateId=first.certificate_id, newStatus="INACTIVE")
    assert device.disconnected.wait(10)  # its open connection is closed...
    device.close()
    assert not connects(emulator, first)  # ...and a new one refused

    stopper = Stopper()
    caller = paced_caller(connect(endpoint_url=emulator.ready["api_url"]), stopper=stopper)
    cleanup_fleet(fleet.root, caller, workers=8, stopper=stopper)
    assert everything(iot) == {
        "things": [],
        "certificates": [],
        "ca": [],
        "policies": [],
        "groups": [],
    }
    assert not connects(emulator, second)


def test_an_interrupted_registration_resumes(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()

    def ctrl_c(done: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(AwsInterrupted):
        register(emulator, options=RegisterOptions(workers=2), on_progress=ctrl_c)
    partial = len(emulator.iot().list_certificates()["certificates"])
    assert 2 <= partial < 6
    report = register(emulator, options=RegisterOptions(workers=2))
    assert report.registered + report.kept == 6
    assert len(emulator.iot().list_certificates()["certificates"]) == 6


def test_the_emulators_throttling_is_survived(start_emulator: StartEmulator) -> None:
    """The emulator allows 3 RegisterCertificate/s; certs-tool is told 50: it is throttled
    (400 ThrottlingException, as AWS answers) and backs off until every device is in."""
    emulator = start_emulator("--quotas", "api:RegisterCertificate=3")
    report = register(emulator, rates={**AWS_DEFAULT_RATES, "RegisterCertificate": 50.0})
    assert report.retried > 0
    assert report.registered == 6
    assert len(emulator.iot().list_certificates()["certificates"]) == 6


def test_the_command_line_against_the_emulator(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    url = ["--endpoint-url", emulator.ready["api_url"]]
    result = run_cli("register", emulator.fleet.root, *url, "--mode", "without-ca")
    assert result.returncode == 0, result.stderr
    assert "registered 6" in result.stdout
    cleaned = run_cli("cleanup", emulator.fleet.root, *url, "--yes")
    assert cleaned.returncode == 0, cleaned.stderr
    assert everything(emulator.iot())["certificates"] == []


def test_a_missing_permission_is_named(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """A principal denied iot:AttachPolicy (the emulator's IAM, 403 AccessDeniedException as AWS
    answers): one error line naming the action; what was done is journaled."""
    principals = tmp_path / "principals.json"
    operator = {"accessKeyId": "AKIAOPERATORNOATTACH", "secretAccessKey": "operator-secret"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iot:AttachPolicy", "Resource": "*"},
        ],
    }
    principals.write_text(
        json.dumps({"principals": [{"name": "operator", **operator, "policies": [policy]}]})
    )
    emulator = start_emulator("--iam-principals", str(principals))
    result = run_cli(
        "register", emulator.fleet.root, "--endpoint-url", emulator.ready["api_url"],
        env={"AWS_ACCESS_KEY_ID": operator["accessKeyId"],
             "AWS_SECRET_ACCESS_KEY": operator["secretAccessKey"]},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("certs-tool: error: AWS denied AttachPolicy: allow the IAM ")
    assert "iot:AttachPolicy" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    registered = emulator.iot().list_certificates()["certificates"]
    assert registered  # each device's certificate goes before its AttachPolicy
    journaled = journal_state(emulator.fleet.root, emulator.ready["api_url"]).certificates
    assert sorted(c["certificateId"] for c in registered) == sorted(
        c.id for c in journaled.values()
    )


def test_the_generated_iam_policy_is_enough_to_register_and_clean_up(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """`certs-tool iam-policy` as the operator's only IAM policy on the emulator, which
    authorizes each registration call on the resources AWS's reference names: register,
    create a job on the fleet's group, and clean up, all allowed; a thing outside the
    prefix is denied."""
    written = run_cli("iam-policy", "--prefix", "sim", "-o", tmp_path / "operator.json")
    assert written.returncode == 0, written.stderr
    policy = json.loads((tmp_path / "operator.json").read_text())
    operator = {"accessKeyId": "AKIALEASTPRIVILEGE01", "secretAccessKey": "operator-secret"}
    principals = tmp_path / "principals.json"
    principals.write_text(
        json.dumps({"principals": [{"name": "operator", **operator, "policies": [policy]}]})
    )
    emulator = start_emulator("--iam-principals", str(principals), name="sim")  # sim-jobs-all
    env = {
        "AWS_ACCESS_KEY_ID": operator["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": operator["secretAccessKey"],
    }
    url = ["--endpoint-url", emulator.ready["api_url"]]
    result = run_cli("register", emulator.fleet.root, *url, "--thing-group", "sim-run", env=env)
    assert result.returncode == 0, result.stderr
    iot = emulator.iot(access_key_id=operator["accessKeyId"],
                       secret_access_key=operator["secretAccessKey"])  # fmt: skip
    group_arn = iot.describe_thing_group(thingGroupName="sim-run")["thingGroupArn"]
    iot.create_job(jobId="sim-job-1", targets=[group_arn], document='{"op": "reboot"}')
    with pytest.raises(iot.exceptions.ClientError, match="AccessDenied"):
        iot.create_thing(thingName="other-thing")
    iot.cancel_job(jobId="sim-job-1", force=True)
    iot.delete_job(jobId="sim-job-1", force=True)
    cleaned = run_cli("cleanup", emulator.fleet.root, *url, "--yes", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert everything(emulator.iot()) == {
        "things": [], "certificates": [], "ca": [], "policies": [], "groups": [],
    }  # fmt: skip
