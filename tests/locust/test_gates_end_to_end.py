"""End to end: real headless Locust runs against the embedded emulator with SLO gates set from
the command line, a config file and environment variables; the exit status, the verdict lines
and the report files. Each run is bounded by -t and a timeout."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.locust.locust_process import run_locust, stats_rows

pytestmark = pytest.mark.slow

DEVICES = 10
FAST_RUN = ("-u", str(DEVICES + 1), "-r", "50", "--device-profile", "fast", "--start-delay", "1",
            "--stop-when-done")  # fmt: skip


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fleet for the module's runs: the first mints it, the others reuse it."""
    return tmp_path_factory.mktemp("gates") / "fleet"


def test_a_clean_run_passes_its_gates_and_writes_the_report(
    tmp_path: Path, fleet_dir: Path
) -> None:
    conf = tmp_path / "gates.conf"
    conf.write_text("gate-success-ratio = 0.5\ngate-connect-failure-ratio = 0\n")
    run = run_locust(
        "jobs_mqtt.py", *FAST_RUN, "--fleet-dir", str(fleet_dir), "--job-prefix", "clean",
        "--config", str(conf), "--gate-p95-queued-to-terminal", "30",
        "--html", str(tmp_path / "out" / "run.html"), "--job-report-interval", "1",
        env={"LOCUST_GATE_NON_TERMINAL": "0", "LOCUST_GATE_REJECTIONS": "total=0.5"},
        cwd=tmp_path, run_time=45,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    gate_lines = [line for line in run.stdout.splitlines() if line.startswith("gate ")]
    assert [line.split(":")[0] for line in gate_lines] == [
        "gate success-ratio", "gate p95-queued-to-terminal", "gate connect-failure-ratio",
        "gate rejections total", "gate non-terminal",
    ]  # fmt: skip
    assert all(": pass, " in line for line in gate_lines)
    assert run.stdout.splitlines()[-1] == "SLO gates passed: 5 of 5"

    document = json.loads((tmp_path / "out" / "run-jobs.json").read_text())
    assert document["gates"]["passed"] is True
    plane = document["executions"]["control_plane"]
    assert (plane["total"], plane["pending"]) == (DEVICES, 0)
    assert plane["jobs"][0]["job_id"] == "clean-1"
    assert document["executions"]["job_rows"]["terminal"] == DEVICES
    samples = document["status_over_time"]["samples"]
    assert samples, "no DescribeJob sample"
    assert sum(samples[-1]["counts"].values()) == DEVICES
    phases = {phase["name"]: phase for phase in document["phases"]}
    assert phases["queued to terminal"]["count"] == DEVICES
    cumulative = document["rollout"]["cumulative"]
    assert cumulative["in_progress"][-1][1] == cumulative["done"][-1][1] == DEVICES
    assert document["connects"] == {"attempts": DEVICES, "failures": 0, "failure_ratio": 0.0}
    counters = document["emulator"]["counters"]
    assert counters["simfleet_mqtt_connects_accepted_total"] >= DEVICES
    assert counters["simfleet_mqtt_takeovers_total"] == 0

    page = (tmp_path / "out" / "run-jobs.html").read_text()
    data = re.search(r'id="job-report-data">(.*?)</script>', page, re.DOTALL)
    assert data is not None
    assert json.loads(data.group(1)) == document
    for chart in ("status-over-time", "rollout-per-minute", "rollout", "emulator-gauges",
                  "phase-queued-to-terminal"):  # fmt: skip
        assert f'data-chart="{chart}"' in page
    assert (tmp_path / "out" / "run.html").is_file()  # Locust's own report, next to it


def test_a_breached_gate_exits_non_zero_naming_it(tmp_path: Path, fleet_dir: Path) -> None:
    # The fast profile's two steps take at least 0.1 s: no execution ends within 0.05 s.
    report = tmp_path / "gates.json"
    run = run_locust(
        "jobs_mqtt.py", *FAST_RUN, "--fleet-dir", str(fleet_dir), "--job-prefix", "breach",
        "--gate-success-ratio", "0.5", "--gate-p95-queued-to-terminal", "0.05",
        "--job-report-json", str(report), cwd=tmp_path, run_time=45,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("gate success-ratio: pass, ") for line in lines)
    assert any(line.startswith("gate p95-queued-to-terminal: FAIL, ") for line in lines)
    assert lines[-1] == "SLO gates breached: p95-queued-to-terminal (exit status 3)"
    gates = json.loads(report.read_text())["gates"]
    assert (gates["passed"], gates["breached"]) == (False, ["p95-queued-to-terminal"])
    assert gates["results"][1]["figure"] > 0.05
    assert list(tmp_path.glob("*.html")) == []  # only the JSON was asked for


def test_request_failures_do_not_fail_a_run_whose_gates_hold(
    tmp_path: Path, fleet_dir: Path
) -> None:
    """The emulator throttles Jobs writes to 5/s: devices are refused (failures, which without
    gates exit 1) and retry until done. The rejection figures match Locust's own CSV."""
    report = tmp_path / "gates.json"
    run = run_locust(
        "jobs_mqtt.py", *FAST_RUN, "--fleet-dir", str(fleet_dir), "--job-prefix", "throttled",
        "--emulator-quotas", "jobs-writes=5", "--gate-success-ratio", "0.5",
        "--gate-rejections", "RequestThrottled=1", "--job-report-json", str(report),
        "--csv", str(tmp_path / "stats"), cwd=tmp_path, run_time=45,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "SLO gates passed: 2 of 2"
    document = json.loads(report.read_text())
    throttled = document["jobs_requests"]["rejections"]["RequestThrottled"]
    assert throttled > 0
    with (tmp_path / "stats_failures.csv").open(newline="") as stream:
        failures = list(csv.DictReader(stream))
    assert throttled == sum(
        int(row["Occurrences"]) for row in failures
        if row["Error"] == "JobsRejected('RequestThrottled')"
    )  # fmt: skip
    jobs_rows = [row for row in stats_rows(tmp_path / "stats") if row["Type"] == "MQTT"
                 and row["Name"] not in ("connect", "subscribe", "disconnect")]  # fmt: skip
    assert document["jobs_requests"]["requests"] == sum(
        int(row["Request Count"]) for row in jobs_rows
    )


def test_an_impossible_gate_is_refused_at_start(tmp_path: Path, fleet_dir: Path) -> None:
    run = run_locust(
        "jobs_mqtt.py", *FAST_RUN, "--fleet-dir", str(fleet_dir),
        "--gate-rejections", "RequestThrottled=1.5", cwd=tmp_path, run_time=30,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.seconds < 15
    assert "Traceback" not in run.stderr
    [error] = run.errors()
    assert error.endswith("--gate-rejections RequestThrottled 1.5: a ratio is between 0 and 1")
    assert run.job_lines() == []
