"""End to end: real headless Locust runs of the locustfiles, against the embedded emulator and
against one started apart (`--host`), on loopback. Each run is bounded by -t and a timeout."""

from __future__ import annotations

import re
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import apply_policy_template, init_fleet, load_fleet, mint_devices
from tests.conftest import MakeFleet
from tests.emulator.e2e.process import EmulatorProcess
from tests.locust.locust_process import counts, run_locust, stats_rows

pytestmark = pytest.mark.slow

JOB_ROWS = ("queued to notified", "queued to in progress", "in progress to terminal",
            "queued to terminal")  # fmt: skip
FAST_RUN = ("--device-profile", "fast", "--start-delay", "1", "--stop-when-done", "-r", "50")
# Devices that crash mid-job half the time and go offline between jobs, briefly. Offline
# stretches stay above AWS's one connect per second per client ID, which the emulator enforces.
FLAKY_TOML = """
base = "flaky"
crash_probability = 0.5
crash_offline = { kind = "uniform", low = 1.2, high = 2.5 }
offline_probability = 0.2
offline_duration = { kind = "uniform", low = 1.2, high = 2.0 }
idle_wait = 0.5
reconnect_backoff = { base = 1.2, cap = 2 }

[[steps]]
name = "download"
duration = { kind = "uniform", low = 0.1, high = 0.4 }

[[steps]]
name = "install"
duration = { kind = "uniform", low = 0.1, high = 0.4 }
"""


def _summary(line: str) -> dict[str, int]:
    """'job x: 20 executions, 19 SUCCEEDED, 1 FAILED, 0 pending' -> {'executions': 20, ...}"""
    _, _, counted = line.partition(": ")
    return {name: int(n) for n, name in re.findall(r"(\d+) (\w+)", counted)}


@pytest.fixture(scope="module")
def separate_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator started apart, as a user would run one for `--host`: 24 devices, the first
    20 in thing group `fleet-20`."""
    root = tmp_path_factory.mktemp("separate") / "fleet"
    init_fleet(root)
    apply_policy_template(root, "jobs-all")
    mint_devices(root, count=24, workers=1)
    emulator = EmulatorProcess(load_fleet(root), root.parent / "state").start()
    iot = emulator.iot()
    iot.create_thing_group(thingGroupName="fleet-20")
    for device in emulator.fleet.devices[:20]:
        iot.add_thing_to_thing_group(thingGroupName="fleet-20", thingName=device.thing_name)
    yield emulator
    if emulator.process.poll() is None:
        emulator.stop()


def _external(emulator: EmulatorProcess) -> tuple[list[str], dict[str, str]]:
    ready = emulator.ready
    args = ["--host", f"mqtts://localhost:{ready['mqtt_port']}",
            "--jobs-host", f"https://localhost:{ready['jobs_port']}",
            "--fleet-dir", str(emulator.fleet.root), "--api-url", ready["api_url"],
            "--region", ready["region"], "--thing-group", "fleet-20"]  # fmt: skip
    env = {"AWS_ACCESS_KEY_ID": ready["access_key_id"],
           "AWS_SECRET_ACCESS_KEY": ready["secret_access_key"]}  # fmt: skip
    return args, env


def _metric(emulator: EmulatorProcess, name: str) -> float:
    context = ssl.create_default_context(cafile=emulator.ready["ca_file"])
    with urllib.request.urlopen(emulator.ready["metrics_url"], context=context) as answer:
        text = answer.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))  # fmt: skip


@pytest.mark.parametrize(
    ("locustfile", "protocol"),
    [
        pytest.param("jobs_mqtt.py", "MQTT", id="mqtt"),
        pytest.param("jobs_https.py", "HTTPS", id="https"),
    ],
)
def test_devices_complete_a_job_on_the_embedded_emulator(
    tmp_path: Path, locustfile: str, protocol: str
) -> None:
    run = run_locust(
        locustfile, "-u", "31", *FAST_RUN, "--fleet-dir", str(tmp_path / "fleet"),
        "--job-prefix", "e2e", "--csv", str(tmp_path / "stats"), cwd=tmp_path, run_time=45,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    [line] = run.job_lines()
    summary = _summary(line)
    assert line.startswith("job e2e-1: 30 executions, ")
    assert summary["SUCCEEDED"] + summary["FAILED"] == 30  # what the fast profile ends with
    assert summary["pending"] == 0
    assert "(job" not in line  # COMPLETED
    assert run.seconds < 40  # --stop-when-done ended it, not -t
    rows = counts(stats_rows(tmp_path / "stats"))  # one row per operation
    assert all(not re.search(r"sim-\d+|\$aws", name) for _, name in rows)  # no device, no topic
    job_rows = {name: n for (kind, name), n in rows.items() if kind == "JOB" and name in JOB_ROWS}
    notified = job_rows.pop("queued to notified", 0)
    assert job_rows == {name: 30 for name in JOB_ROWS if name != "queued to notified"}
    # HTTPS devices are never notified: they poll. An MQTT device that connects after the job
    # was queued finds it by looking, not by a notification.
    assert notified in (range(1, 31) if protocol == "MQTT" else (0,))
    assert rows[(protocol, "update IN_PROGRESS")] == 60  # two steps with progress updates
    assert rows[("API", "CreateJob")] == 1
    finals = {name: n for (kind, name), n in rows.items() if name.startswith("final ")}
    assert finals == {f"final {s}": n for s, n in summary.items() if s.isupper() and n}
    if protocol == "MQTT":
        assert rows[("MQTT", "connect")] == 30


def test_a_mixed_fleet_against_an_emulator_started_apart(
    tmp_path: Path, separate_emulator: EmulatorProcess
) -> None:
    """fleet_rollout: MQTT and HTTPS devices, half and half, and an operator rolling out at its
    default rate; the control plane then shows every execution terminal, and no device took
    over another's client ID."""
    args, env = _external(separate_emulator)
    takeovers_before = _metric(separate_emulator, "simfleet_mqtt_takeovers_total")
    run = run_locust(
        "fleet_rollout.py", "-u", "21", *FAST_RUN, *args, "--job-prefix", "mixed",
        "--csv", str(tmp_path / "stats"), cwd=tmp_path, env=env, run_time=45,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    iot = separate_emulator.iot()
    job = iot.describe_job(jobId="mixed-1")["job"]
    assert job["status"] == "COMPLETED"
    assert job["jobExecutionsRolloutConfig"]["maximumPerMinute"] == 100  # RolloutOperator's
    executions = iot.list_job_executions_for_job(jobId="mixed-1", maxResults=100)
    statuses = [e["jobExecutionSummary"]["status"] for e in executions["executionSummaries"]]
    assert len(statuses) == 20
    assert set(statuses) <= {"SUCCEEDED", "FAILED"}
    rows = counts(stats_rows(tmp_path / "stats"))
    assert rows[("MQTT", "connect")] == 10  # one each, and the other 10 devices use HTTPS
    assert rows[("HTTPS", "start-next")] >= 10
    assert rows[("MQTT", "update SUCCEEDED")] + rows[("HTTPS", "update SUCCEEDED")] == (
        statuses.count("SUCCEEDED")
    )
    assert _metric(separate_emulator, "simfleet_mqtt_takeovers_total") == takeovers_before
    assert run.job_lines() == [f"job mixed-1: {_line_counts(statuses)}"]


def _line_counts(statuses: list[str]) -> str:
    return (f"20 executions, {statuses.count('SUCCEEDED')} SUCCEEDED, "
            f"{statuses.count('FAILED')} FAILED, 0 pending")  # fmt: skip


def test_crashing_devices_leave_nothing_in_progress(tmp_path: Path) -> None:
    profile = tmp_path / "crashy.toml"
    profile.write_text(FLAKY_TOML)
    run = run_locust(
        "jobs_mqtt.py", "-u", "21", *FAST_RUN, "--device-profile", str(profile),
        "--fleet-dir", str(tmp_path / "fleet"), "--job-prefix", "crash", "--csv",
        str(tmp_path / "stats"), "--exit-code-on-error", "0", cwd=tmp_path, run_time=50,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [line] = run.job_lines()
    summary = _summary(line)
    assert summary["executions"] == 20
    assert summary["pending"] == 0  # no execution QUEUED or IN_PROGRESS
    assert "(job" not in line
    rows = counts(stats_rows(tmp_path / "stats"))
    assert rows[("MQTT", "connect")] > 20  # devices crashed and came back


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"-u": "11"}, "holds 4 devices but the run needs 10", id="fleet-small"),
        pytest.param({"--fleet-dir": "nowhere"}, "is not a fleet directory", id="no-fleet"),
        pytest.param({"--device-profile": "bad.yaml"}, "failed_probability: must be a number",
                     id="bad-profile"),
        pytest.param({"--host": "mqtts://localhost:1"}, "cannot reach the MQTT endpoint",
                     id="unreachable"),
        # A CA that did not sign the emulator's certificate.
        pytest.param({"--ca-file": "small-ca"}, "does not verify with the CA", id="wrong-ca"),
    ],
)  # fmt: skip
def test_bad_input_fails_fast_with_one_message(
    tmp_path: Path,
    make_fleet: MakeFleet,
    separate_emulator: EmulatorProcess,
    changes: dict[str, str],
    message: str,
) -> None:
    small = make_fleet(count=4)
    (tmp_path / "bad.yaml").write_text("failed_probability: lots\n")
    known = {
        "small": str(small.root),
        "small-ca": str(small.ca_cert_path),
        "nowhere": str(tmp_path / "nowhere"),
        "bad.yaml": str(tmp_path / "bad.yaml"),
    }
    options = {
        "-u": "5",
        "--host": f"mqtts://localhost:{separate_emulator.ready['mqtt_port']}",
        "--fleet-dir": known["small"],
        "--ca-file": str(separate_emulator.fleet.ca_cert_path),
        "--thing-group": "fleet-20",
        "--region": "us-east-1",
    }
    options.update({k: known.get(v, v) for k, v in changes.items()})
    run = run_locust(
        "jobs_mqtt.py", *(part for item in options.items() for part in item), cwd=tmp_path,
        run_time=30,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.seconds < 15
    assert "Traceback" not in run.stderr
    [error] = run.errors()
    assert message in error
    assert run.job_lines() == []
