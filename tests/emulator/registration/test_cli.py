"""`simfleet emulator --no-register-fleet` as a process: it serves the fleet's TLS with an empty
registry, a device connects once boto3 has registered it, and `--quotas` takes API items."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from certs_tool import DeviceRecord, Fleet
from tests.conftest import MakeFleet
from tests.emulator.e2e.process import EmulatorProcess
from tests.emulator.registration.helpers import Device, create_fleet_policies, register_device


def _device(emulator: EmulatorProcess, device: DeviceRecord) -> Device:
    fleet = emulator.fleet
    return Device(
        fleet.cert_path(device),
        fleet.key_path(device),
        device.thing_name,
        int(emulator.ready["mqtt_port"]),
        fleet.ca_cert_path,
    )


def test_no_register_fleet_then_register_and_connect(make_fleet: MakeFleet, tmp_path: Path) -> None:
    fleet: Fleet = make_fleet(count=2)
    emulator = EmulatorProcess(fleet, tmp_path / "state").start(
        "--no-register-fleet", "--quotas", "connects-per-client-id=off,api:RegisterCertificate=20"
    )
    try:
        device = fleet.devices[0]
        refused = _device(emulator, device)
        assert refused.connect() is None
        refused.stop()
        iot = emulator.iot()
        assert iot.list_ca_certificates()["certificates"] == []
        iot.register_ca_certificate(
            caCertificate=fleet.ca_cert_path.read_text(),
            certificateMode="SNI_ONLY",
            setAsActive=True,
        )
        create_fleet_policies(iot, fleet)
        register_device(iot, fleet, device)
        connected = _device(emulator, device)
        assert connected.connect() == 0
        connected.close()
    finally:
        code, log = emulator.stop()
    assert code == 0, log


def test_a_bad_api_quota_is_a_usage_error(shared_fleet: Fleet, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", str(shared_fleet.root),
         "--state-dir", str(tmp_path / "state"), "--quotas", "api:NoSuchApi=3"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown API quota 'api:NoSuchApi'" in result.stderr
    assert not (tmp_path / "state").exists()
