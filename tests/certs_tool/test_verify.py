"""`verify`: a sound fleet passes; each kind of damage is reported against what it damaged."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import pytest

from certs_tool import Fleet, verify_fleet
from certs_tool.verify import Severity
from tests.conftest import MakeFleet


def test_sound_fleet_passes(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=4)
    report = verify_fleet(fleet.root, workers=2)
    assert report.devices == 4
    assert report.problems == ()


def _chmod_key(fleet: Fleet) -> None:
    fleet.key_path(fleet.devices[1]).chmod(0o644)


def _swap_keys(fleet: Fleet) -> None:
    a, b = fleet.key_path(fleet.devices[0]), fleet.key_path(fleet.devices[1])
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


def _wrong_certificate_id(fleet: Fleet) -> None:
    lines = fleet.paths.manifest.read_text().splitlines()
    record = json.loads(lines[2])
    record["certificateId"] = "0" * 64
    lines[2] = json.dumps(record)
    fleet.paths.manifest.write_text("\n".join(lines) + "\n")


def _corrupt_line(fleet: Fleet) -> None:
    lines = fleet.paths.manifest.read_text().splitlines()
    lines[1] = "{not json"
    fleet.paths.manifest.write_text("\n".join(lines) + "\n")


def _delete_certificate(fleet: Fleet) -> None:
    fleet.cert_path(fleet.devices[3]).unlink()


def _stray_directory(fleet: Fleet) -> None:
    shutil.copytree(fleet.paths.device_dir("sim-000000"), fleet.paths.device_dir("sim-999999"))


def _missing_policy(fleet: Fleet) -> None:
    lines = fleet.paths.manifest.read_text().splitlines()
    record = json.loads(lines[0])
    record["policies"] = ["no-such-policy"]
    lines[0] = json.dumps(record)
    fleet.paths.manifest.write_text("\n".join(lines) + "\n")


def _foreign_certificate(fleet: Fleet) -> None:
    from certs_tool import init_fleet, mint_devices

    other = fleet.root.parent / "other"
    init_fleet(other)
    mint_devices(other, count=1, workers=1)
    for name in ("cert.pem", "key.pem"):
        shutil.copy(other / "devices" / "sim-000000" / name, fleet.paths.device_dir("sim-000002"))


@pytest.mark.parametrize(
    ("damage", "subject", "message", "severity"),
    [
        pytest.param(_chmod_key, "sim-000001", "readable by others",
                     Severity.ERROR, id="key-mode"),
        pytest.param(_swap_keys, "sim-000000", "private key does not match", Severity.ERROR,
                     id="swapped-keys"),
        pytest.param(_wrong_certificate_id, "sim-000002", "certificateId", Severity.ERROR,
                     id="certificate-id"),
        pytest.param(_corrupt_line, "manifest.jsonl:2", "", Severity.ERROR, id="corrupt-line"),
        pytest.param(_delete_certificate, "sim-000003", "cannot read", Severity.ERROR,
                     id="missing-certificate"),
        pytest.param(_stray_directory, "devices/sim-999999", "not in the manifest",
                     Severity.WARNING, id="stray-directory"),
        pytest.param(_missing_policy, "policies/no-such-policy.json", "missing", Severity.ERROR,
                     id="missing-policy"),
        pytest.param(_foreign_certificate, "sim-000002", "not signed by the fleet CA",
                     Severity.ERROR, id="foreign-ca"),
    ],
)  # fmt: skip
def test_damage_is_reported(
    make_fleet: MakeFleet,
    damage: Callable[[Fleet], None],
    subject: str,
    message: str,
    severity: Severity,
) -> None:
    fleet = make_fleet(count=4)
    damage(fleet)
    report = verify_fleet(fleet.root, workers=1)
    matching = [p for p in report.problems if p.subject == subject and message in p.message]
    assert matching, report.problems
    assert matching[0].severity is severity
