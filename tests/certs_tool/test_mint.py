"""Minting: what lands on disk, idempotence, growth, resumption after every kind of interruption."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs_tool import (
    AlreadyExistsError,
    FleetError,
    InvalidInputError,
    KeyType,
    ManifestError,
    PassphraseError,
    StorageError,
    init_fleet,
    load_fleet,
    mint_devices,
    verify_fleet,
)
from certs_tool.fleet import FleetPaths
from tests.conftest import MakeFleet


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root with its inode, mtime and content: proof that nothing was touched."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_mint_writes_aws_ready_credentials(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=3)
    ca = x509.load_pem_x509_certificate(fleet.ca_cert_path.read_bytes())
    assert [d.thing_name for d in fleet.devices] == ["sim-000000", "sim-000001", "sim-000002"]
    for device in fleet.devices:
        cert_pem = fleet.cert_path(device).read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        der = cert.public_bytes(serialization.Encoding.DER)
        # certificateId exactly as AWS IoT computes it: SHA-256 of the DER, lowercase hex.
        assert device.certificate_id == hashlib.sha256(der).hexdigest()
        assert device.client_id == device.thing_name
        assert (
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == device.thing_name
        )
        cert.verify_directly_issued_by(ca)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.not_valid_before_utc < datetime.now(UTC) < cert.not_valid_after_utc
        assert cert.not_valid_after_utc == device.not_after
        key_path = fleet.key_path(device)
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.public_key() == cert.public_key()


def test_certificates_pass_openssl_verify(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=2)
    for device in fleet.devices:
        result = subprocess.run(
            ["openssl", "verify", "-purpose", "sslclient", "-CAfile", str(fleet.ca_cert_path),
             str(fleet.cert_path(device))],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")
    server = subprocess.run(
        ["openssl", "verify", "-purpose", "sslserver", "-CAfile", str(fleet.ca_cert_path),
         str(fleet.server_cert_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert server.returncode == 0, server.stderr


def test_ca_and_server_keys_are_private(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=1)
    for path in (fleet.paths.ca_key, fleet.paths.server_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        pytest.param(KeyType.EC_P384, (ec.EllipticCurvePrivateKey, 384), id="ec-p384"),
        pytest.param(KeyType.RSA_2048, (rsa.RSAPrivateKey, 2048), id="rsa-2048"),
        pytest.param(KeyType.RSA_3072, (rsa.RSAPrivateKey, 3072), id="rsa-3072"),
    ],
)
def test_key_types(make_fleet: MakeFleet, key_type: KeyType, expected: tuple[type, int]) -> None:
    fleet = make_fleet(count=1, key_type=key_type)
    device = fleet.devices[0]
    assert device.key_type is key_type
    key = serialization.load_pem_private_key(fleet.key_path(device).read_bytes(), None)
    assert isinstance(key, expected[0])
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    assert key.key_size == expected[1]
    assert verify_fleet(fleet.root, workers=1).errors == 0


def test_rerun_changes_nothing(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=5)
    before = _snapshot(fleet.root)
    report = mint_devices(fleet.root, count=5, workers=2)
    assert (report.minted, report.kept, report.adopted) == (0, 5, 0)
    assert _snapshot(fleet.root) == before


def test_growing_adds_only_new_devices(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=5)
    before = _snapshot(fleet.root)
    report = mint_devices(fleet.root, count=8, workers=2)
    assert (report.minted, report.kept) == (3, 5)
    after = _snapshot(fleet.root)
    for path, facts in before.items():
        if path != "manifest.jsonl":
            assert after[path] == facts, path
    grown = load_fleet(fleet.root)
    assert [d.thing_name for d in grown.devices[:5]] == [d.thing_name for d in fleet.devices]
    assert len(grown.devices) == 8
    assert verify_fleet(fleet.root, workers=1).errors == 0


def test_second_prefix_is_a_second_group(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=2)
    mint_devices(fleet.root, count=2, prefix="https-", workers=1)
    names = [d.thing_name for d in load_fleet(fleet.root).devices]
    assert names == ["sim-000000", "sim-000001", "https-000000", "https-000001"]


def test_force_remints(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=2)
    report = mint_devices(fleet.root, count=2, force=True, workers=1)
    assert report.minted == 2
    again = load_fleet(fleet.root)
    assert {d.certificate_id for d in again.devices}.isdisjoint(
        d.certificate_id for d in fleet.devices
    )
    assert len(again.devices) == 2
    assert verify_fleet(fleet.root, workers=1).errors == 0


def test_pool_mints_in_order(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(count=1)
    mint_devices(fleet.root, count=300, workers=2)
    names = [d.thing_name for d in load_fleet(fleet.root).devices]
    assert names == [f"sim-{i:06d}" for i in range(300)]


class TestResume:
    def test_cut_manifest_line_is_repaired(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=3)
        manifest = fleet.paths.manifest
        lines = manifest.read_bytes().splitlines(keepends=True)
        manifest.write_bytes(b"".join(lines[:2]) + lines[2][:40])  # an append cut short
        with pytest.raises(ManifestError, match=r"manifest.jsonl:3: incomplete last line"):
            load_fleet(fleet.root)
        report = mint_devices(fleet.root, count=3, workers=1)
        # The third device's directory is complete, so it is adopted rather than re-minted.
        assert (report.kept, report.adopted, report.minted) == (2, 1, 0)
        assert load_fleet(fleet.root).devices == fleet.devices

    def test_unrecorded_credential_is_adopted(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=3)
        lines = fleet.paths.manifest.read_bytes().splitlines(keepends=True)
        fleet.paths.manifest.write_bytes(b"".join(lines[:1]))
        report = mint_devices(fleet.root, count=3, workers=1)
        assert (report.kept, report.adopted, report.minted) == (1, 2, 0)
        assert load_fleet(fleet.root).devices == fleet.devices

    def test_broken_unrecorded_credential_is_reminted(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=2)
        lines = fleet.paths.manifest.read_bytes().splitlines(keepends=True)
        fleet.paths.manifest.write_bytes(lines[0])
        (fleet.paths.device_dir("sim-000001") / "key.pem").write_bytes(b"garbage")
        report = mint_devices(fleet.root, count=2, workers=1)
        assert (report.kept, report.adopted, report.minted) == (1, 0, 1)
        assert verify_fleet(fleet.root, workers=1).errors == 0

    def test_credential_of_another_ca_is_not_adopted(self, make_fleet: MakeFleet) -> None:
        fleet, other = make_fleet(count=1), make_fleet(count=1)
        target = fleet.paths.device_dir("sim-000000")
        for name in ("cert.pem", "key.pem"):
            (target / name).write_bytes((other.paths.device_dir("sim-000000") / name).read_bytes())
        fleet.paths.manifest.write_bytes(b"")
        report = mint_devices(fleet.root, count=1, workers=1)
        assert report.minted == 1
        assert verify_fleet(fleet.root, workers=1).errors == 0

    def test_missing_files_are_reminted(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=2)
        (fleet.paths.device_dir("sim-000000") / "cert.pem").unlink()
        report = mint_devices(fleet.root, count=2, workers=1)
        assert (report.kept, report.minted) == (1, 1)
        assert verify_fleet(fleet.root, workers=1).errors == 0

    def test_leftover_temp_directories_are_removed(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=1)
        leftover = fleet.paths.devices / ".tmp-sim-000001.99999"
        leftover.mkdir()
        (leftover / "cert.pem").write_bytes(b"half")
        mint_devices(fleet.root, count=2, workers=1)
        assert not leftover.exists()
        assert sorted(p.name for p in fleet.paths.devices.iterdir()) == ["sim-000000", "sim-000001"]

    @pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
    def test_interrupted_cli_run_resumes(self, tmp_path: Path, sig: signal.Signals) -> None:
        root = tmp_path / "fleet"
        init_fleet(root)
        count = 20_000
        command = [sys.executable, "-m", "certs_tool.cli", "mint", str(root), "--count",
                   str(count), "--workers", "2"]  # fmt: skip
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        manifest = FleetPaths(root).manifest
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if manifest.exists() and manifest.stat().st_size > 20_000:
                break
            time.sleep(0.01)
        # The whole group, as a terminal's Ctrl-C or an OOM kill would hit the pool workers too.
        os.killpg(child.pid, sig)
        _out, err = child.communicate(timeout=60)
        if sig is signal.SIGINT:
            assert child.returncode == 130
            assert "re-run the same command" in err
            assert "Traceback" not in err
        else:
            assert child.returncode == -signal.SIGKILL
        partial = len(manifest.read_bytes().splitlines())
        assert 0 < partial < count, "the run was not interrupted mid-way"

        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        assert result.returncode == 0, result.stderr
        fleet = load_fleet(root)
        # Adopted credentials are recorded before new ones, so compare as sets (sorted).
        names = [d.thing_name for d in fleet.devices]
        assert sorted(names) == [f"sim-{i:06d}" for i in range(count)]
        assert len({d.certificate_id for d in fleet.devices}) == count
        report = verify_fleet(root)
        assert report.problems == ()


class TestBadInput:
    def test_existing_ca_needs_force(self, tmp_path: Path) -> None:
        root = tmp_path / "fleet"
        first = init_fleet(root)
        ca_before = FleetPaths(root).ca_cert.read_bytes()
        with pytest.raises(AlreadyExistsError, match="--force"):
            init_fleet(root)
        assert FleetPaths(root).ca_cert.read_bytes() == ca_before
        mint_devices(root, count=2, workers=1)
        second = init_fleet(root, force=True)
        assert second.ca_certificate_id != first.ca_certificate_id
        # Devices of the old CA would not chain: they go with it.
        assert load_fleet(root).devices == ()

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"prefix": "bad prefix "}, "invalid thing name", id="space"),
            pytest.param({"prefix": "sim/"}, "invalid thing name", id="slash"),
            pytest.param({"prefix": "é-"}, "invalid thing name", id="non-ascii"),
            pytest.param({"prefix": "x" * 59}, "X.509 limits to 64", id="prefix-overflows-cn"),
            pytest.param({"prefix": "x" * 123}, "1-128 characters", id="prefix-overflows-aws"),
            pytest.param({"count": 0}, "--count must be at least 1", id="count-zero"),
            pytest.param({"days": 0}, "--days must be at least 1", id="days-zero"),
            pytest.param({"days": 40_000}, "outlive the fleet CA", id="days-past-ca"),
            pytest.param({"workers": -1}, "--workers must be at least 1", id="workers"),
        ],
    )
    def test_refused_options(
        self, make_fleet: MakeFleet, kwargs: dict[str, object], message: str
    ) -> None:
        fleet = make_fleet(count=1)
        before = _snapshot(fleet.root)
        options: dict[str, object] = {"count": 2, "workers": 1, **kwargs}
        with pytest.raises(InvalidInputError, match=message):
            mint_devices(fleet.root, **options)  # type: ignore[arg-type]
        assert _snapshot(fleet.root) == before

    def test_longest_allowed_prefix(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=1)
        mint_devices(fleet.root, count=1, prefix="x" * 58, workers=1)
        assert len(load_fleet(fleet.root).devices[-1].thing_name) == 64

    def test_not_a_fleet(self, tmp_path: Path) -> None:
        with pytest.raises(FleetError, match="certs-tool init"):
            mint_devices(tmp_path, count=1)

    def test_corrupt_manifest_line_is_named(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=3)
        lines = fleet.paths.manifest.read_text().splitlines(keepends=True)
        record = json.loads(lines[1])
        record["certificateId"] = "not-hex"
        lines[1] = json.dumps(record) + "\n"
        fleet.paths.manifest.write_text("".join(lines))
        with pytest.raises(ManifestError, match=r"manifest.jsonl:2: certificateId"):
            mint_devices(fleet.root, count=3, workers=1)
        with pytest.raises(ManifestError, match=r"manifest.jsonl:2:"):
            load_fleet(fleet.root)

    def test_duplicate_manifest_line_is_named(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=2)
        lines = fleet.paths.manifest.read_text().splitlines(keepends=True)
        fleet.paths.manifest.write_text("".join([*lines, lines[0]]))
        with pytest.raises(ManifestError, match=r":3: duplicate thingName 'sim-000000'"):
            load_fleet(fleet.root)


class TestPassphrase:
    def test_encrypted_ca(self, tmp_path: Path) -> None:
        root = tmp_path / "fleet"
        init_fleet(root, passphrase=b"correct horse")
        assert b"ENCRYPTED" in FleetPaths(root).ca_key.read_bytes()
        with pytest.raises(PassphraseError, match="encrypted"):
            mint_devices(root, count=1)
        with pytest.raises(PassphraseError, match="wrong passphrase"):
            mint_devices(root, count=1, passphrase=b"wrong")
        assert not FleetPaths(root).manifest.exists()
        mint_devices(root, count=2, passphrase=b"correct horse", workers=1)
        assert verify_fleet(root, workers=1).errors == 0


class TestStorage:
    def test_full_disk_then_resume(self, tmp_path: Path) -> None:
        from tests.certs_tool.helpers import grow_tmpfs, small_tmpfs

        with small_tmpfs(tmp_path / "tiny", size="512k") as tiny:
            root = tiny / "fleet"
            init_fleet(root)
            with pytest.raises(StorageError, match="no space left on device"):
                mint_devices(root, count=200, workers=1)
            # Whatever was recorded is whole: the manifest reads and no temp file is left.
            partial = load_fleet(root)
            assert len(partial.devices) < 200
            assert not list(partial.paths.devices.glob(".tmp-*"))
            grow_tmpfs(tiny, size="8m")
            report = mint_devices(root, count=200, workers=1)
            assert report.kept + report.adopted + report.minted == 200
            assert report.minted < 200
            assert verify_fleet(root, workers=1).errors == 0

    def test_read_only_directory(self, tmp_path: Path) -> None:
        from tests.certs_tool.helpers import small_tmpfs

        with (
            small_tmpfs(tmp_path / "ro", size="64k", read_only=True) as read_only,
            pytest.raises(StorageError, match="read-only file system"),
        ):
            init_fleet(read_only / "fleet")

    def test_certificate_dates_follow_now(self, make_fleet: MakeFleet) -> None:
        fleet = make_fleet(count=1)
        past = datetime.now(UTC) - timedelta(days=10)
        mint_devices(fleet.root, count=2, days=5, now=past, workers=1)
        device = load_fleet(fleet.root).devices[1]
        assert abs(device.not_after - (past + timedelta(days=5))) < timedelta(seconds=1)
        report = verify_fleet(fleet.root, workers=1)
        assert any(
            "expired" in p.message and p.subject == "devices/sim-000001/cert.pem"
            for p in report.problems
        ) or any("expired" in p.message and p.subject == "sim-000001" for p in report.problems)


def test_minted_lines_are_the_record_encoding(make_fleet: MakeFleet) -> None:
    # Workers write manifest lines without building DeviceRecords; they must be byte-identical.
    from certs_tool.fleet import encode_records

    fleet = make_fleet(count=3)
    mint_devices(fleet.root, count=300, workers=2)
    grown = load_fleet(fleet.root)
    assert grown.paths.manifest.read_bytes() == encode_records(grown.devices)
