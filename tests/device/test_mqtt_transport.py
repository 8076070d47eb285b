"""MqttTransport end to end: a gevent-patched child (mqtt_runner.py) against the real emulator.

One emulator and one child run every scenario (module fixtures); the last scenario kills the
emulator and starts it again. Jobs are created through an unmodified boto3 `iot` client. The
offline behaviour, which touches no socket, is tested here in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from certs_tool import Fleet, KeyType, apply_policy_template, init_fleet, load_fleet, mint_devices
from simfleet.device import ConnectionLost, JobsTransport, RequestReport
from simfleet.device.mqtt import LastWill, MqttConfig, MqttTransport
from simfleet.device.tls import device_ssl_context
from simfleet.jobs import GetPendingRequest
from tests.emulator.e2e.process import EmulatorProcess

RUNNER = Path(__file__).with_name("mqtt_runner.py")
SCENARIOS = [
    "round_trip", "job", "wrong_ca", "denied", "timeout", "drop", "alpn", "resume", "keepalive",
    "many",
]  # fmt: skip
MANY = 1_120  # devices held at once by one process: past select()'s 1023 descriptors
FLEET_SIZE = 20 + MANY  # mqtt_runner.MANY_FROM + MANY

Results = dict[str, Any]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    # Module-scoped (conftest's make_fleet is per test): one fleet for one emulator and child.
    root = tmp_path_factory.mktemp("mqtt") / "fleet"
    init_fleet(root, key_type=KeyType.EC_P256, name="mqtt")
    apply_policy_template(root, "jobs-all")
    mint_devices(root, count=FLEET_SIZE, key_type=KeyType.EC_P256)
    return load_fleet(root)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("other") / "fleet"
    init_fleet(root, name="other")
    return root / "ca" / "ca.pem"


@pytest.fixture(scope="module")
def results(fleet: Fleet, other_ca: Path, tmp_path_factory: pytest.TempPathFactory) -> Results:
    state_dir = tmp_path_factory.mktemp("state")
    emulator = EmulatorProcess(fleet, state_dir).start("--quotas", "off")
    spec = {
        "ready": emulator.ready,
        "fleet": str(fleet.root),
        "state_dir": str(state_dir),
        "other_ca": str(other_ca),
        "scenarios": [*SCENARIOS, "restart"],  # restart kills the emulator: last
    }
    try:
        done = subprocess.run(
            [sys.executable, str(RUNNER)],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        if emulator.process.poll() is None:
            emulator.stop()
        else:  # killed by the restart scenario: close its pipes
            emulator.process.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    found: Results = json.loads(done.stdout)
    for name in spec["scenarios"]:
        assert "crashed" not in found[name], (name, found[name], done.stderr[-3000:])
    return found


# -- against the emulator ---------------------------------------------------------------------


def test_connect_subscribe_and_request_round_trips(results: Results) -> None:
    seen = results["round_trip"]
    assert seen["reply"] == "GetPendingAccepted"
    assert seen["queued"] == 0
    assert seen["unknown"] == {
        "error": "JobsRejected",
        "reason": "ResourceNotFound",
        "code": "ResourceNotFound",
    }
    assert seen["notice"] == "None"
    assert seen["connected_after"] is False
    assert seen["after_disconnect"] == {"error": "ConnectionLost", "reason": "disconnected"}
    rows = seen["rows"]
    assert [(r["name"], r["reason"]) for r in rows] == [
        ("connect", None),
        ("subscribe", None),
        ("get-pending", None),
        ("describe", "ResourceNotFound"),
        ("disconnect", None),
        ("get-pending", "disconnected"),
    ]
    assert all(r["protocol"] == "MQTT" for r in rows)
    assert rows[0]["duration_ms"] > 0
    assert rows[2]["size"] > 0
    thing = rows[0]["context"]["thing_name"]
    assert rows[2]["context"] == {"thing_name": thing}
    assert rows[3]["context"] == {"thing_name": thing, "job_id": "no-such-job"}


def test_a_job_from_the_control_plane_arrives_as_notify_next_and_completes(
    results: Results,
) -> None:
    assert results["job"] == {
        "notified": {"job_id": "mqtt-job", "status": "QUEUED"},
        "started": "IN_PROGRESS",
        "updated": "UpdateAccepted",
        "control_plane": "SUCCEEDED",
    }


def test_a_wrong_ca_fails_the_tls_handshake(results: Results) -> None:
    seen = results["wrong_ca"]
    assert seen["error"] == "ConnectFailed"
    assert seen["reason"] == "tls: certificate verify failed"
    assert [(r["name"], r["reason"]) for r in seen["rows"]] == [
        ("connect", "tls: certificate verify failed")
    ]


def test_a_connect_the_policy_denies_gets_no_connack(results: Results) -> None:
    assert results["denied"] == {
        "error": "ConnectFailed",
        "reason": "no CONNACK: connection closed",
        "connected": False,
    }


def test_a_request_without_reply_times_out_and_the_late_reply_is_ignored(
    results: Results,
) -> None:
    seen = results["timeout"]
    assert (seen["error"], seen["reason"]) == ("RequestTimedOut", "timeout")
    assert seen["next_reply_token"] == "after"
    assert seen["connected"] is True


def test_drop_is_an_unclean_disconnect(results: Results) -> None:
    # The broker publishes the will (here: fail the job) only for the crash.
    assert results["drop"] == {
        "after_drop": {"error": "ConnectionLost", "reason": "dropped"},
        "dropped": "FAILED",
        "disconnected": "QUEUED",
        "reconnected": "GetPendingAccepted",
    }


def test_alpn_x_amzn_mqtt_ca_is_negotiated_when_offered(results: Results) -> None:
    assert results["alpn"] == {"True": "x-amzn-mqtt-ca", "False": None}


def test_a_kept_tls_session_is_offered_again(results: Results) -> None:
    # The emulator's MQTT listener sends no session tickets: offered, but not resumable.
    assert results["resume"] == {"kept": True, "reused": False, "reply": "GetPendingAccepted"}


def test_keep_alive_pings_and_a_broker_that_stops_answering(results: Results) -> None:
    seen = results["keepalive"]
    # Keep-alive 1 s: a PINGREQ within 1.25 s of silence, so at least two in 3.2 s.
    assert seen["answering"]["connected"] is True
    assert seen["answering"]["pings"] >= 2
    assert seen["unanswered"]["pings"] >= 1
    assert seen["unanswered"]["error"] == "ConnectionLost"
    assert seen["unanswered"]["reason"] == "keep-alive timeout"
    # No CONNACK: the connect timeout (0.5 s) bounds the wait.
    assert seen["mute"]["reason"] == "timeout"
    [connect] = seen["mute"]["rows"]
    assert connect["name"] == "connect"
    assert 450 <= connect["duration_ms"] < 2000
    # A greenlet killed inside connect() leaves no socket open behind it.
    assert seen["interrupted"] == {"state": "offline", "socket_closed": True}


def test_one_process_holds_devices_past_file_descriptor_1023(results: Results) -> None:
    seen = results["many"]
    assert seen["failures"] == []
    assert seen["devices"] == seen["online"] == seen["replies"] == MANY
    assert seen["highest_fd"] > 1023


def test_a_killed_endpoint_loses_the_connection_and_a_reconnect_works_after_restart(
    results: Results,
) -> None:
    seen = results["restart"]
    assert seen["listener"]["error"] == seen["caller"]["error"] == "ConnectionLost"
    assert seen["listener"]["reason"] == "connection lost"
    assert seen["while_down"] == {"error": "ConnectFailed", "reason": "tcp: connection refused"}
    assert seen["after_restart"] == "GetPendingAccepted"


# -- in-process: configuration and the offline transport -------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"host": ""}, "host", id="empty-host"),
        pytest.param({"port": 0}, "port", id="port-zero"),
        pytest.param({"port": 65536}, "port", id="port-too-large"),
        pytest.param({"keep_alive": -1}, "keep_alive", id="negative-keep-alive"),
        pytest.param({"keep_alive": 65536}, "keep_alive", id="keep-alive-too-large"),
        pytest.param({"connect_timeout": 0}, "connect_timeout", id="no-connect-timeout"),
    ],
)
def test_config_refuses_bad_values(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MqttConfig(**{"host": "localhost", **options})


@pytest.mark.parametrize(
    ("will", "message"),
    [
        pytest.param({"topic": ""}, "topic", id="empty-topic"),
        pytest.param({"topic": "t", "qos": 2}, "QoS", id="qos-2"),
    ],
)
def test_last_will_refuses_bad_values(will: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LastWill(**will)


@pytest.mark.parametrize(
    ("port", "asked", "offered"),
    [
        pytest.param(8883, False, False, id="8883"),
        pytest.param(8883, True, True, id="8883-asked"),
        pytest.param(443, False, True, id="443"),
    ],
)
def test_alpn_is_offered_on_port_443_or_when_asked(port: int, asked: bool, offered: bool) -> None:
    assert MqttConfig(host="h", port=port, alpn=asked).offers_alpn is offered


def test_an_offline_transport_fails_calls_and_notifications_with_connection_lost(
    shared_fleet: Fleet,
) -> None:
    device = shared_fleet.devices[0]
    context = device_ssl_context(
        shared_fleet.ca_cert_path, shared_fleet.cert_path(device), shared_fleet.key_path(device)
    )
    rows: list[RequestReport] = []
    transport: JobsTransport = MqttTransport(
        device.thing_name, config=MqttConfig(host="localhost"), ssl_context=context,
        report=rows.append,
    )  # fmt: skip
    assert (transport.protocol, transport.pushes_notifications) == ("MQTT", True)
    assert transport.thing_name == device.thing_name
    assert transport.connected is False
    with pytest.raises(ConnectionLost, match="not connected"):
        transport.call(GetPendingRequest(), timeout=1.0)
    with pytest.raises(ConnectionLost, match="not connected"):
        transport.next_notification(0.0)
    transport.disconnect()
    transport.drop()
    assert [(r.name, type(r.error).__name__) for r in rows] == [("get-pending", "ConnectionLost")]
