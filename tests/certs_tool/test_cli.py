"""The `certs-tool` command as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest

from certs_tool import load_fleet
from tests.certs_tool.helpers import run_cli


@pytest.fixture(scope="module")
def cli_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "fleet"
    assert run_cli("init", root, "--name", "clitest").returncode == 0
    assert run_cli("mint", root, "--count", "5", "--workers", "1").returncode == 0
    return root


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("init", "mint", "policy", "lint", "verify", "export"):
        assert command in result.stdout


def test_init_mint_verify(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    init = run_cli("init", root, "--name", "demo")
    assert init.returncode == 0, init.stderr
    assert "policy demo-jobs-all written" in init.stdout
    mint = run_cli("mint", root, "--count", "3")
    assert mint.returncode == 0, mint.stderr
    assert "minted 3" in mint.stdout
    # Not a terminal: no progress bar in the output, only the summary line.
    assert "\r" not in mint.stderr + mint.stdout
    fleet = load_fleet(root)
    assert [d.policies for d in fleet.devices] == [("demo-jobs-all",)] * 3
    verify = run_cli("verify", root)
    assert verify.returncode == 0, verify.stdout
    assert "3 devices checked, 0 errors, 0 warnings" in verify.stdout
    again = run_cli("mint", root, "--count", "3")
    assert "minted 0" in again.stdout
    assert "kept 3" in again.stdout


def test_export_formats(cli_fleet: Path) -> None:
    fleet = load_fleet(cli_fleet)
    as_csv = run_cli("export", cli_fleet, "--format", "csv")
    assert as_csv.returncode == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["thingName"] for r in rows] == [d.thing_name for d in fleet.devices]
    assert rows[0]["certificateId"] == fleet.devices[0].certificate_id
    assert rows[0]["policies"] == "clitest-jobs-all"
    as_jsonl = run_cli("export", cli_fleet, "--format", "jsonl")
    records = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert [r["thingName"] for r in records] == [d.thing_name for d in fleet.devices]
    assert set(records[0]) >= {"thingName", "clientId", "certificateId", "certPath", "keyPath",
                               "keyType", "notAfter", "policies"}  # fmt: skip


def test_export_to_file(cli_fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "fleet.csv"
    result = run_cli("export", cli_fleet, "-o", out)
    assert result.returncode == 0
    assert out.read_text().startswith("thingName,clientId,certificateId")


def test_policy_templates_are_recorded(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    run_cli("init", root, "--name", "p", "--template", "none")
    run_cli("mint", root, "--count", "2", "--workers", "1")
    assert load_fleet(root).devices[0].policies == ()
    result = run_cli("policy", root, "--template", "jobs-mqtt", "--region", "eu-west-1",
                     "--account", "123456789012")  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads((root / "policies" / "p-jobs-mqtt.json").read_text())
    resources = [
        r
        for statement in document["Statement"]
        for r in ([statement["Resource"]] if isinstance(statement["Resource"], str)
                  else statement["Resource"])
    ]  # fmt: skip
    assert len(resources) >= 14
    assert all(r.startswith("arn:aws:iot:eu-west-1:123456789012:") for r in resources)
    assert {d.policies for d in load_fleet(root).devices} == {("p-jobs-mqtt",)}
    run_cli("policy", root, "--template", "jobs-https", "--add")
    assert {d.policies for d in load_fleet(root).devices} == {("p-jobs-mqtt", "p-jobs-https")}
    lint = run_cli("lint", root / "policies" / "p-jobs-mqtt.json")
    assert lint.returncode == 0, lint.stdout
    assert "0 errors, 0 warnings" in lint.stdout


def test_lint_reports_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Subscribe",
                       "Resource": "arn:aws:iot:us-east-1:123456789012:topic/a/+/b"}],
    }))  # fmt: skip
    result = run_cli("lint", bad)
    assert result.returncode == 1
    assert "error" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["mint", "{missing}", "--count", "1"], "not a fleet directory", id="no-fleet"),
        pytest.param(["mint", "{fleet}", "--count", "0"], "--count must be at least 1",
                     id="count"),
        pytest.param(["mint", "{fleet}", "--count", "2", "--prefix", "a b"],
                     "invalid thing name", id="prefix"),
        pytest.param(["init", "{fleet}"], "already exists; use --force", id="existing-ca"),
        pytest.param(["lint", "{missing}"], "cannot read", id="lint-missing"),
        pytest.param(["policy", "{fleet}", "--region", "mars"], "region", id="bad-region"),
        pytest.param(["export", "{fleet}", "-o", "{missing}/x/y.csv"], "cannot write",
                     id="export-unwritable"),
        pytest.param(["init", "{fleet}/manifest.jsonl/x"], "cannot write", id="not-a-directory"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    cli_fleet: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    argv = [a.format(fleet=cli_fleet, missing=tmp_path / "nowhere") for a in args]
    result = run_cli(*argv)
    assert result.returncode == 1
    assert result.stderr.startswith("certs-tool: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_manifest_names_the_line(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    run_cli("init", root)
    run_cli("mint", root, "--count", "3", "--workers", "1")
    manifest = root / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    lines[2] = lines[2].replace('"keyType":"ec-p256"', '"keyType":"dsa-512"')
    manifest.write_text("\n".join(lines) + "\n")
    result = run_cli("mint", root, "--count", "3")
    assert result.returncode == 1
    assert "manifest.jsonl:3:" in result.stderr
    assert "Traceback" not in result.stderr


def test_passphrase_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "fleet"
    env = {"CERTS_TOOL_CA_PASSPHRASE": "s3cret-phrase"}
    assert run_cli("init", root, "--encrypt-ca-key", env=env).returncode == 0
    assert stat.S_IMODE((root / "ca" / "ca.key").stat().st_mode) == 0o600
    no_phrase = run_cli("mint", root, "--count", "1", env={"CERTS_TOOL_CA_PASSPHRASE": ""})
    assert no_phrase.returncode == 1
    assert "CERTS_TOOL_CA_PASSPHRASE" in no_phrase.stderr
    wrong = run_cli("mint", root, "--count", "1", env={"CERTS_TOOL_CA_PASSPHRASE": "nope"})
    assert wrong.returncode == 1
    assert "wrong passphrase" in wrong.stderr
    right = run_cli("mint", root, "--count", "1", env=env)
    assert right.returncode == 0, right.stderr
    # The passphrase never appears in anything the tool prints.
    assert "s3cret-phrase" not in right.stdout + right.stderr


def test_encrypt_without_passphrase_source_fails(tmp_path: Path) -> None:
    result = run_cli("init", tmp_path / "fleet", "--encrypt-ca-key",
                     env={"CERTS_TOOL_CA_PASSPHRASE": ""})  # fmt: skip
    assert result.returncode == 1
    assert "CERTS_TOOL_CA_PASSPHRASE" in result.stderr
    assert not (tmp_path / "fleet").exists()
