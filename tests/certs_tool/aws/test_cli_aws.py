"""`certs-tool register / cleanup / endpoint / iam-policy` as a user runs them, against moto."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from certs_tool import Fleet
from certs_tool.aws import CaMode, RegisterMode
from certs_tool.aws.commands import CA_MODES, MODES
from certs_tool.cli import main
from tests.certs_tool.aws.helpers import MotoServer, journal_lines, listing, raw_client
from tests.certs_tool.helpers import run_cli
from tests.conftest import MakeFleet

FAST = [
    f"--rate={api}=500"
    for api in ("RegisterCACertificate", "RegisterCertificate", "CreateThing",
                "AttachThingPrincipal", "AttachPolicy", "CreatePolicy")
]  # fmt: skip


def one_error_line(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("certs-tool: error: ")
    assert text in lines[0]


def held(fleet: Fleet, moto: MotoServer) -> dict[str, list[str]]:
    return listing(raw_client(moto.url), fleet.metadata.ca_certificate_id)


def test_register_then_clean_up(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=5)
    url = ["--endpoint-url", moto.url]
    first = run_cli("register", fleet.root, *url, "--thing-group", "cli-group", *FAST)
    assert first.returncode == 0, first.stderr
    assert "5 devices on " + moto.url + ": registered 5" in first.stdout
    assert "\r" not in first.stderr  # no terminal, no progress bar
    again = run_cli("register", fleet.root, *url, "--thing-group", "cli-group")
    assert "registered 0" in again.stdout
    assert "kept 5; 0 calls" in again.stdout

    before = held(fleet, moto)
    dry = run_cli("cleanup", fleet.root, *url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "5 certificates (deactivated, detached, deleted):" in dry.stdout
    assert "5 things: sim-000000, sim-000001, sim-000002 and 2 more" in dry.stdout
    assert "1 thing groups: cli-group" in dry.stdout
    assert f"1 CA certificate: {fleet.metadata.ca_certificate_id}" in dry.stdout
    assert held(fleet, moto) == before

    unasked = run_cli("cleanup", fleet.root, *url)
    one_error_line(unasked, "stdin is not a terminal to confirm on: pass --yes")
    assert held(fleet, moto) == before

    done = run_cli("cleanup", fleet.root, *url, "--yes")
    assert done.returncode == 0, done.stderr
    assert "removed 5 devices, 1 thing groups, 1 policies and the CA" in done.stdout
    assert all(not names for names in held(fleet, moto).values())
    twice = run_cli("cleanup", fleet.root, *url, "--yes")
    assert twice.returncode == 0
    assert "nothing of it is left" in twice.stdout


def test_cleanup_asks_on_a_terminal(make_fleet: MakeFleet, moto: MotoServer) -> None:
    fleet = make_fleet(count=2)
    assert run_cli("register", fleet.root, "--endpoint-url", moto.url).returncode == 0
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"n\n")
        answer = subprocess.run(
            [sys.executable, "-m", "certs_tool.cli", "cleanup", str(fleet.root),
             "--endpoint-url", moto.url],
            stdin=terminal, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(controller)
    assert answer.returncode == 1
    assert "this removes from" in answer.stdout
    assert "cancelled: nothing was deleted" in answer.stdout
    assert len(held(fleet, moto)["things"]) == 2


@pytest.mark.parametrize(
    "case",
    [
        pytest.param((["cleanup", "--yes", "@moto"], {}, "was never registered with"),
                     id="never-registered"),
        pytest.param((["register", "@moto"], {"AWS_ACCESS_KEY_ID": ""},
                      "no usable AWS credentials"), id="no-credentials"),
        pytest.param((["register", "--endpoint-url", "http://127.0.0.1:9"], {},
                      "cannot reach http://127.0.0.1:9"), id="endpoint-down"),
        pytest.param((["register"], {"AWS_DEFAULT_REGION": ""},
                      "no AWS region: pass --region or set AWS_REGION"), id="no-region"),
        pytest.param((["register", "--region", "eu west"], {}, "invalid AWS region"),
                     id="bad-region"),
        pytest.param((["register", "--region", "eu-west-1", "--endpoint-url", "ftp:/x y"], {},
                      "invalid endpoint"), id="bad-endpoint"),
        pytest.param((["register", "@moto", "--rate", "Nope=3"], {}, "unknown API 'Nope'"),
                     id="bad-rate"),
        pytest.param((["register", "@moto", "--thing-group", "no spaces"], {},
                      "invalid thing group name"), id="bad-group"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    make_fleet: MakeFleet,
    moto: MotoServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[list[str], dict[str, str], str],
) -> None:
    """In-process (main() as the console script calls it): no interpreter start per case."""
    args, env, message = case
    fleet = make_fleet(count=1)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = [args[0], str(fleet.root)]
    for arg in args[1:]:
        argv += ["--endpoint-url", moto.url] if arg == "@moto" else [arg]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("certs-tool: error: ")
    assert message in lines[0]
    assert journal_lines(fleet.root) == []


def test_endpoint_prints_locust_options(moto: MotoServer) -> None:
    result = run_cli("endpoint", "--endpoint-url", moto.url, "--region", "eu-west-1")
    assert result.returncode == 0, result.stderr
    options = result.stdout.splitlines()[-1]
    assert options.startswith("locust options:    --host mqtts://")
    assert "-ats.iot.eu-west-1.amazonaws.com:8883 --jobs-host https://" in options
    assert options.endswith(":8443 --ca-file AmazonRootCA1.pem --region eu-west-1")


def test_iam_policy_is_written_and_linted(make_fleet: MakeFleet, tmp_path: Path) -> None:
    output = tmp_path / "operator.json"
    result = run_cli("iam-policy", "--prefix", "sim", "--account", "111122223333", "-o", output)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("0 errors, 0 warnings\n")
    document = json.loads(output.read_text())
    assert document["Version"] == "2012-10-17"
    fleet = make_fleet(count=1, name="simfleet-x")
    scoped = run_cli("iam-policy", "--fleet", fleet.root, "-o", output)
    assert scoped.returncode == 0, scoped.stderr
    assert f"cacert/{fleet.metadata.ca_certificate_id}" in output.read_text()
    one_error_line(
        run_cli("iam-policy", "--fleet", fleet.root, "--prefix", "zz", "-o", output),
        "do not start with --prefix 'zz'",
    )


def test_help_lists_the_aws_commands() -> None:
    result = run_cli("--help")
    for command in ("register", "cleanup", "endpoint", "iam-policy"):
        assert command in result.stdout


def test_the_command_line_choices_are_the_librarys() -> None:
    """commands.py spells them out so that `certs-tool mint` need not import boto3."""
    assert tuple(mode.value for mode in RegisterMode) == MODES
    assert sorted(CA_MODES.values()) == sorted(mode.value for mode in CaMode)
