"""HttpsTransport end to end: a gevent-patched child (https_runner.py) against the real emulator.

One emulator and one child run serve most tests (module fixtures); the server-gone test stops
its own emulator. Jobs are created through an unmodified boto3 `iot` client.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs_tool import Fleet, init_fleet, load_fleet, mint_devices
from simfleet.device import JobsTransport
from simfleet.device.https import HttpsConfig, HttpsTransport
from tests.emulator.e2e.process import EmulatorProcess

RUNNER = Path(__file__).with_name("https_runner.py")
DOCUMENT = {"operation": "firmware-update", "version": "2.1.0"}
JOBS = {"ops": "https-ops", "finish": "https-finish", "reject": "https-reject"}
# Which device of the fleet each job targets (the runner uses the same indexes).
TARGETS = {"ops": 0, "finish": 1, "reject": 2}
SCENARIOS = [
    "operations",
    "finish",
    "rejections",
    "denied",
    "wrong_ca",
    "foreign_credentials",
    "keepalive",
    "misbehaving",
]

Results = dict[str, Any]


def run_scenarios(
    emulator: EmulatorProcess, fleet: Fleet, other: Fleet, scenarios: list[str]
) -> Results:
    spec = {
        "host": emulator.ready["host"],
        "port": emulator.ready["jobs_port"],
        "pid": emulator.process.pid,
        "fleet": str(fleet.root),
        "other_ca": str(other.ca_cert_path),
        "other_fleet": str(other.root),
        "jobs": JOBS,
        "scenarios": scenarios,
    }
    done = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: Results = json.loads(done.stdout)
    for name in scenarios:
        assert "crashed" not in results[name], (name, results[name], done.stderr)
    return results


@pytest.fixture(scope="module")
def other_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """A fleet of another CA, which the emulator does not trust."""
    root = tmp_path_factory.mktemp("other") / "fleet"
    init_fleet(root, name="other")
    mint_devices(root, count=1, workers=1)
    return load_fleet(root)


@pytest.fixture(scope="module")
def emulator(
    shared_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(shared_fleet, tmp_path_factory.mktemp("state")).start()
    iot = process.iot()
    for key, job_id in JOBS.items():
        thing = shared_fleet.devices[TARGETS[key]].thing_name
        iot.create_job(
            jobId=job_id, targets=[process.thing_arn(thing)], document=json.dumps(DOCUMENT)
        )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def results(emulator: EmulatorProcess, shared_fleet: Fleet, other_fleet: Fleet) -> Results:
    return run_scenarios(emulator, shared_fleet, other_fleet, SCENARIOS)


def test_the_four_operations_end_to_end(results: Results, shared_fleet: Fleet) -> None:
    ops = results["operations"]
    assert JOBS["ops"] in ops["queued"]
    assert ops["document"] == DOCUMENT
    assert ops["bare_document"] is None
    assert ops["described_status"] == "QUEUED"
    assert ops["started"]["job_id"] == JOBS["ops"]
    assert ops["started"]["status"] == "IN_PROGRESS"
    assert ops["started"]["details"] == {"step": "download"}
    assert ops["updated"] == {"status": "IN_PROGRESS", "version": ops["started"]["version"] + 1}
    assert ops["after"] == {"status": "IN_PROGRESS", "details": {"step": "install"}}
    names = [row["name"] for row in ops["rows"]]
    assert names == [
        "get-pending",
        "describe",
        "describe",
        "start-next",
        "update IN_PROGRESS",
        "describe",
    ]
    thing = shared_fleet.devices[0].thing_name
    for row in ops["rows"]:
        assert row["protocol"] == "HTTPS"
        assert row["error"] is None
        assert row["size"] > 0
        assert row["duration_ms"] > 0
        assert row["context"]["thing_name"] == thing
    assert ops["rows"][1]["context"]["job_id"] == JOBS["ops"]


def test_keep_alive_reuses_one_tls_connection(results: Results) -> None:
    for scenario in ("operations", "keepalive"):
        ports = results[scenario]["ports"]
        assert all(len(open_now) == 1 for open_now in ports), ports
        assert len({open_now[0] for open_now in ports}) == 1, ports
    assert results["operations"]["connected_after"] is False
    assert results["operations"]["open_after"] == []
    assert results["keepalive"]["closed"] == []


def test_an_idle_connection_past_its_expiry_is_replaced(results: Results) -> None:
    before, after = results["keepalive"]["before_idle"], results["keepalive"]["after_idle"]
    assert len(before) == 1
    assert len(after) == 1
    assert before != after


def test_an_execution_started_over_https_is_finished_by_another_connection(
    results: Results, emulator: EmulatorProcess, shared_fleet: Fleet
) -> None:
    finish = results["finish"]
    assert finish["started"] == JOBS["finish"]
    assert finish["dropped"] == {"connected": False, "open": []}
    assert finish["final"] == "SUCCEEDED"
    execution = emulator.iot().describe_job_execution(
        jobId=JOBS["finish"], thingName=shared_fleet.devices[1].thing_name
    )["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert execution["statusDetails"]["detailsMap"] == {"result": "installed"}


@pytest.mark.parametrize(
    ("case", "code"),
    [
        pytest.param("unknown", "ResourceNotFound", id="describe-unknown-job"),
        pytest.param("update_unknown", "ResourceNotFound", id="update-unknown-job"),
        # A stale expectedVersion is VersionMismatch, which HTTPS answers as
        # InvalidStateTransitionException (simfleet/jobs/errors.py), so it reads back as that.
        pytest.param("stale", "InvalidStateTransition", id="stale-expected-version"),
    ],
)
def test_error_answers_become_jobs_rejected(results: Results, case: str, code: str) -> None:
    assert results["rejections"][case] == {"error": "JobsRejected", "reason": code, "code": code}


def test_rejections_are_failure_rows_named_by_the_request(results: Results) -> None:
    rejections = results["rejections"]
    assert rejections["still"] == "IN_PROGRESS"
    rows = [(r["name"], r["error"], r["reason"]) for r in rejections["rows"]]
    assert rows == [
        ("describe", "JobsRejected", "ResourceNotFound"),
        ("update IN_PROGRESS", "JobsRejected", "ResourceNotFound"),
        ("start-next", None, None),
        ("update SUCCEEDED", "JobsRejected", "InvalidStateTransition"),
        ("describe", None, None),
    ]


def test_a_thing_that_is_not_the_certificates_is_denied(results: Results) -> None:
    denied = results["denied"]
    assert denied["refused"] == {
        "error": "DeviceError",
        "reason": "ForbiddenException",
        "code": None,
    }
    assert [(r["name"], r["reason"]) for r in denied["rows"]] == [
        ("get-pending", "ForbiddenException")
    ]


def test_a_wrong_ca_fails_the_connect(results: Results) -> None:
    wrong = results["wrong_ca"]
    assert wrong["refused"] == {
        "error": "ConnectFailed",
        "reason": "tls: certificate verify failed",
        "code": None,
    }
    assert wrong["connected"] is False
    assert wrong["open"] == []
    # A call without a connection fails at once, and is still reported.
    assert wrong["called"] == {"error": "ConnectionLost", "reason": "not connected", "code": None}
    assert [(r["name"], r["reason"]) for r in wrong["rows"]] == [("get-pending", "not connected")]


def test_a_certificate_of_another_ca_gets_no_answer(results: Results) -> None:
    foreign = results["foreign_credentials"]["foreign"]
    # TLS 1.3: the server judges the client's certificate after the client's handshake ends,
    # so the connect succeeds and the first call finds the connection closed.
    assert foreign["connect"] == {}
    assert foreign["call"] == {
        "error": "ConnectionLost",
        "reason": "connection closed",
        "code": None,
    }


def test_no_client_certificate_is_refused_by_the_sigv4_side(results: Results) -> None:
    bare = results["foreign_credentials"]["no_certificate"]
    assert bare["connect"] == {}
    assert bare["call"] == {
        "error": "DeviceError",
        "reason": "MissingAuthenticationTokenException",
        "code": None,
    }
    rows = results["foreign_credentials"]["rows"]
    assert [(r["name"], r["error"]) for r in rows] == [
        ("get-pending", "ConnectionLost"),
        ("get-pending", "DeviceError"),
    ]


@pytest.mark.parametrize(
    ("job_id", "error", "reason", "connected"),
    [
        pytest.param("silent", "RequestTimedOut", "timeout", True, id="no-answer"),
        pytest.param("notjson", "DeviceError", "malformed reply", True, id="body-not-json"),
        pytest.param("garbage", "ConnectionLost", "malformed HTTP answer", False, id="not-http"),
    ],
)
def test_a_misbehaving_server_is_a_failure_with_its_reason(
    results: Results, job_id: str, error: str, reason: str, connected: bool
) -> None:
    outcome = results["misbehaving"][job_id]
    assert (outcome["error"], outcome["reason"]) == (error, reason)
    assert outcome["connected"] is connected
    assert outcome["seconds"] < 3
    assert (job_id, reason) in [
        (r["context"]["job_id"], r["reason"]) for r in results["misbehaving"]["rows"]
    ]


def test_a_server_gone_is_connection_lost(
    shared_fleet: Fleet, other_fleet: Fleet, tmp_path: Path
) -> None:
    emulator = EmulatorProcess(shared_fleet, tmp_path).start()
    try:
        gone = run_scenarios(emulator, shared_fleet, other_fleet, ["server_gone"])["server_gone"]
        stopped = emulator.process.wait(timeout=30)  # the runner's SIGTERM: a clean stop
    finally:
        emulator.stop()
    assert stopped == 0
    # The server closed the kept connection; the call found it closed, and no new one opens.
    refused = "tcp: connection refused"
    assert gone["lost"] == {"error": "ConnectionLost", "reason": refused, "code": None}
    assert gone["connected"] is False
    assert gone["reconnect"] == {"error": "ConnectFailed", "reason": refused, "code": None}
    assert [(r["name"], r["error"]) for r in gone["rows"]] == [("get-pending", "ConnectionLost")]


def test_https_answers_no_notifications_and_reports_nothing_for_it() -> None:
    rows: list[object] = []
    transport: JobsTransport = HttpsTransport(
        "sim-000000",
        config=HttpsConfig(host="127.0.0.1"),
        ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        report=rows.append,
    )
    assert transport.protocol == "HTTPS"
    assert transport.thing_name == "sim-000000"
    assert transport.pushes_notifications is False
    assert transport.connected is False
    assert transport.next_notification(30.0) is None
    transport.disconnect()
    transport.drop()
    assert rows == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"host": ""}, "host", id="empty-host"),
        pytest.param({"port": 0}, "port", id="port-zero"),
        pytest.param({"port": 65536}, "port", id="port-too-big"),
        pytest.param({"connect_timeout": 0.0}, "connect_timeout", id="no-connect-timeout"),
        pytest.param({"keepalive_expiry": -1.0}, "keepalive_expiry", id="negative-expiry"),
    ],
)
def test_a_config_that_is_not_valid_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpsConfig(**{"host": "127.0.0.1", **changes})


def test_the_server_name_is_the_host_unless_given() -> None:
    assert HttpsConfig(host="127.0.0.1").tls_name == "127.0.0.1"
    assert HttpsConfig(host="10.0.0.1", server_name="example.jobs").tls_name == "example.jobs"
    assert HttpsConfig(host="h").port == 8443
