"""Scenarios of `MqttTransport` in a gevent-patched child process, for test_mqtt_transport.

    python mqtt_runner.py < spec.json  ─▶  {"<scenario>": {...}, ...} on stdout

Locust monkey-patches everything at import and so does this runner, first; the pytest process
never is (docs/devices.md). The spec names the emulator (its ready line and how it was started),
the fleet, a CA file of another fleet (`other_ca`) and the scenarios to run, in order. Each
scenario returns what it saw, JSON-shaped, for the test to assert; an unexpected exception is
returned as `{"crashed": repr}`. Every wait is bounded; traffic goes to 127.0.0.1 only.
`restart` kills the emulator and starts it again: it runs last.
"""

from gevent import monkey  # type: ignore[import-untyped]

monkey.patch_all()

import json  # noqa: E402 - after patching, as under Locust
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # type: ignore[import-untyped]  # noqa: E402
import gevent  # noqa: E402
from botocore.config import Config  # type: ignore[import-untyped]  # noqa: E402
from gevent.event import Event  # type: ignore[import-untyped]  # noqa: E402
from gevent.pool import Pool  # type: ignore[import-untyped]  # noqa: E402

from certs_tool import Fleet, load_fleet  # noqa: E402
from simfleet.device import DeviceError, JobsRejected, RequestReport  # noqa: E402
from simfleet.device.mqtt import LastWill, MqttConfig, MqttTransport  # noqa: E402
from simfleet.device.tls import DeviceSSLContext, device_ssl_context  # noqa: E402
from simfleet.emulator.broker.tls import ssl_context_for_fleet  # noqa: E402
from simfleet.jobs import (  # noqa: E402
    DescribeRequest,
    ExecutionStatus,
    GetPendingAccepted,
    GetPendingRequest,
    StartNextAccepted,
    StartNextRequest,
    UpdateRequest,
)

TIMEOUT = 5.0
Result = dict[str, Any]
# Devices of the fleet by scenario (the test mints enough; `many` takes the rest).
DEVICES = {
    "round_trip": 0, "job": 1, "wrong_ca": 2, "denied": 3, "timeout": 5, "alpn": 8,
    "resume": 9, "keepalive": 12,
}  # fmt: skip
DROPPED, DISCONNECTED = 6, 7
RESTARTED = (10, 11)
MANY_FROM = 20


@dataclass
class Run:
    spec: dict[str, Any]
    fleet: Fleet
    rows: list[RequestReport] = field(default_factory=list)

    def transport(
        self,
        index: int,
        *,
        thing_name: str | None = None,
        ca_file: str | None = None,
        alpn: bool = False,
        will: LastWill | None = None,
        report: Callable[[RequestReport], None] | None = None,
        port: int | None = None,
        keep_alive: int = 60,
        connect_timeout: float = TIMEOUT,
        resume: bool = False,
        context: DeviceSSLContext | None = None,
    ) -> MqttTransport:
        device = self.fleet.devices[index]
        context = context or device_ssl_context(
            ca_file or self.fleet.ca_cert_path,
            self.fleet.cert_path(device),
            self.fleet.key_path(device),
        )
        config = MqttConfig(
            host="localhost",
            port=port or self.spec["ready"]["mqtt_port"],
            alpn=alpn,
            will=will,
            keep_alive=keep_alive,
            connect_timeout=connect_timeout,
            resume_tls_session=resume,
        )
        return MqttTransport(
            thing_name or device.thing_name,
            config=config,
            ssl_context=context,
            report=report or self.rows.append,
        )

    def thing(self, index: int) -> str:
        return self.fleet.devices[index].thing_name

    def iot(self) -> Any:
        ready = self.spec["ready"]
        return boto3.client(
            "iot", endpoint_url=ready["api_url"], region_name=ready["region"],
            aws_access_key_id=ready["access_key_id"],
            aws_secret_access_key=ready["secret_access_key"],
            verify=ready["ca_file"], config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip

    def arn(self, index: int) -> str:
        ready = self.spec["ready"]
        return f"arn:aws:iot:{ready['region']}:{ready['account_id']}:thing/{self.thing(index)}"


def row(report: RequestReport) -> Result:
    return {
        "protocol": report.protocol,
        "name": report.name,
        "error": None if report.error is None else type(report.error).__name__,
        "reason": None if report.error is None else report.error.reason,
        "size": report.size,
        "duration_ms": report.duration_ms,
        "context": dict(report.context),
    }


def failure(call: Callable[[], object]) -> Result:
    """What `call` raised: {"error": class name, "reason"} (and the AWS "code" of a
    rejection); {} when it did not."""
    try:
        call()
    except JobsRejected as error:
        return {"error": "JobsRejected", "reason": error.reason, "code": error.code.value}
    except DeviceError as error:
        return {"error": type(error).__name__, "reason": error.reason}
    return {}


# -- scenarios ------------------------------------------------------------------------------------


def round_trip(run: Run) -> Result:
    transport = run.transport(DEVICES["round_trip"])
    transport.connect()
    reply = transport.call(GetPendingRequest(), timeout=TIMEOUT)
    unknown = failure(
        lambda: transport.call(DescribeRequest(job_id="no-such-job"), timeout=TIMEOUT)
    )
    notice = transport.next_notification(0.1)
    transport.disconnect()
    after = failure(lambda: transport.call(GetPendingRequest(), timeout=TIMEOUT))
    return {
        "reply": type(reply).__name__,
        "queued": len(reply.queued_jobs) if isinstance(reply, GetPendingAccepted) else None,
        "unknown": unknown,
        "notice": repr(notice),
        "connected_after": transport.connected,
        "rows": [row(r) for r in run.rows],
        "after_disconnect": after,
    }


def job(run: Run) -> Result:
    index = DEVICES["job"]
    transport = run.transport(index, report=lambda _row: None)
    transport.connect()
    iot = run.iot()
    iot.create_job(jobId="mqtt-job", targets=[run.arn(index)],
                   document=json.dumps({"operation": "firmware-update"}))  # fmt: skip
    notice = transport.next_notification(TIMEOUT)
    assert notice is not None, "no notify-next"
    assert notice.execution is not None, notice
    started = transport.call(StartNextRequest(status_details={"step": "download"}), timeout=TIMEOUT)
    assert isinstance(started, StartNextAccepted), started
    assert started.execution is not None, started
    done = transport.call(
        UpdateRequest(
            job_id=started.execution.job_id,
            status=ExecutionStatus.SUCCEEDED,
            expected_version=started.execution.version_number,
        ),
        timeout=TIMEOUT,
    )
    transport.disconnect()
    seen = iot.describe_job_execution(jobId="mqtt-job", thingName=run.thing(index))["execution"]
    iot.close()
    return {
        "notified": {"job_id": notice.execution.job_id, "status": notice.execution.status.value},
        "started": started.execution.status.value,
        "updated": type(done).__name__,
        "control_plane": seen["status"],
    }


def wrong_ca(run: Run) -> Result:
    transport = run.transport(DEVICES["wrong_ca"], ca_file=run.spec["other_ca"])
    return {**failure(transport.connect), "rows": [row(r) for r in run.rows]}


def denied(run: Run) -> Result:
    """Device 3's certificate with device 4's client ID: the policy allows Connect only as
    the certificate's own thing, and AWS closes a denied 3.1.1 CONNECT with no CONNACK."""
    transport = run.transport(DEVICES["denied"], thing_name=run.thing(DEVICES["denied"] + 1))
    return {**failure(transport.connect), "connected": transport.connected}


def timeout(run: Run) -> Result:
    """The emulator stops answering (SIGSTOP) for one request, then comes back."""
    transport = run.transport(DEVICES["timeout"], report=lambda _row: None)
    transport.connect()
    pid = run.spec["ready"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        late = failure(lambda: transport.call(GetPendingRequest(), timeout=0.5))
    finally:
        os.kill(pid, signal.SIGCONT)
    reply = transport.call(GetPendingRequest(client_token="after"), timeout=TIMEOUT)
    connected = transport.connected
    transport.disconnect()
    return {**late, "next_reply_token": reply.client_token, "connected": connected}


def drop(run: Run) -> Result:
    """Two devices with a last will that fails their job; one crashes, one leaves cleanly."""
    iot = run.iot()
    iot.create_job(jobId="mqtt-will", targets=[run.arn(DROPPED), run.arn(DISCONNECTED)],
                   document=json.dumps({"operation": "reboot"}))  # fmt: skip
    transports = {}
    for index in (DROPPED, DISCONNECTED):
        will = LastWill(
            topic=f"$aws/things/{run.thing(index)}/jobs/mqtt-will/update",
            payload=json.dumps({"status": "FAILED", "statusDetails": {"why": "lost"}}).encode(),
            qos=1,
        )
        transports[index] = run.transport(index, will=will, report=lambda _row: None)
        transports[index].connect()
    transports[DROPPED].drop()
    transports[DISCONNECTED].disconnect()
    after_drop = failure(lambda: transports[DROPPED].call(GetPendingRequest(), timeout=TIMEOUT))
    statuses: dict[str, Any] = {"after_drop": after_drop}
    with gevent.Timeout(TIMEOUT, False):
        while statuses.get("dropped") != "FAILED":
            for key, index in (("dropped", DROPPED), ("disconnected", DISCONNECTED)):
                execution = iot.describe_job_execution(
                    jobId="mqtt-will", thingName=run.thing(index)
                )
                statuses[key] = execution["execution"]["status"]
            gevent.sleep(0.05)
    iot.close()
    transports[DROPPED].connect()  # back after the crash, as an agent resumes
    reply = transports[DROPPED].call(GetPendingRequest(), timeout=TIMEOUT)
    transports[DROPPED].disconnect()
    return {**statuses, "reconnected": type(reply).__name__}


def alpn(run: Run) -> Result:
    seen = {}
    for offered in (True, False):
        transport = run.transport(DEVICES["alpn"], alpn=offered, report=lambda _row: None)
        transport.connect()
        seen[str(offered)] = transport.negotiated_alpn
        transport.call(GetPendingRequest(), timeout=TIMEOUT)
        transport.disconnect()
    return seen


def many(run: Run) -> Result:
    """Every device from MANY_FROM on, connected at once in this one process."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    failures: list[Result] = []

    def report(r: RequestReport) -> None:
        if r.error is not None:
            failures.append(row(r))

    def start(index: int) -> MqttTransport:
        transport = run.transport(index, report=report)
        transport.connect()
        return transport

    indexes = range(MANY_FROM, len(run.fleet.devices))
    transports = list(Pool(100).imap(start, indexes))
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    replies = Pool(200).map(lambda t: t.call(GetPendingRequest(), timeout=TIMEOUT), transports)
    online = sum(t.connected for t in transports)
    for transport in transports:
        transport.disconnect()
    return {
        "devices": len(transports),
        "online": online,
        "replies": sum(isinstance(r, GetPendingAccepted) for r in replies),
        "highest_fd": highest,
        "failures": failures[:5],
    }


def resume(run: Run) -> Result:
    """TLS session reuse asked for: the session is kept and offered again. The emulator's MQTT
    listener sends no TLS 1.3 tickets, so the offer cannot be taken: a full handshake."""
    device = run.fleet.devices[DEVICES["resume"]]
    context = device_ssl_context(
        run.fleet.ca_cert_path, run.fleet.cert_path(device), run.fleet.key_path(device)
    )
    transport = run.transport(
        DEVICES["resume"], resume=True, context=context, report=lambda _row: None
    )
    transport.connect()
    kept = context.session is not None
    transport.disconnect()
    transport.connect()
    reused = transport.tls_session_reused
    reply = transport.call(GetPendingRequest(), timeout=TIMEOUT)
    transport.disconnect()
    return {"kept": kept, "reused": reused, "reply": type(reply).__name__}


def keepalive(run: Run) -> Result:
    """Keep-alive 1 s against a small local broker (the emulator enforces AWS's 30 s minimum):
    one that answers pings, one that stops answering them, one that never sends CONNACK."""

    def answering() -> Result:
        broker = FakeBroker(run, pong=True)
        transport = run.transport(DEVICES["keepalive"], port=broker.port, keep_alive=1,
                                  report=lambda _row: None)  # fmt: skip
        transport.connect()
        gevent.sleep(3.2)
        connected = transport.connected
        transport.disconnect()
        return {"pings": broker.close(), "connected": connected}

    def unanswered() -> Result:
        broker = FakeBroker(run, pong=False)
        transport = run.transport(DEVICES["keepalive"] + 1, port=broker.port, keep_alive=1,
                                  report=lambda _row: None)  # fmt: skip
        transport.connect()
        lost = failure(lambda: transport.next_notification(4.0))
        return {"pings": broker.close(), **lost}

    def mute() -> Result:
        broker = FakeBroker(run, connack=False)
        transport = run.transport(DEVICES["keepalive"] + 2, port=broker.port,
                                  connect_timeout=0.5)  # fmt: skip
        refused = failure(transport.connect)
        broker.close()
        return {**refused, "rows": [row(r) for r in run.rows]}

    def interrupted() -> Result:
        """The caller's greenlet killed while it waits for CONNACK (a Locust user stopping)."""
        broker = FakeBroker(run, connack=False)
        transport = run.transport(DEVICES["keepalive"] + 3, port=broker.port,
                                  report=lambda _row: None)  # fmt: skip
        attempt = gevent.spawn(transport.connect)
        gevent.sleep(0.3)
        attempt.kill()
        closed = broker.ended.wait(TIMEOUT)
        broker.close()
        return {"state": transport.state.value, "socket_closed": closed}

    cases = (answering, unanswered, mute, interrupted)
    jobs = [gevent.spawn(case) for case in cases]
    return {case.__name__: job.get(timeout=10) for case, job in zip(cases, jobs, strict=True)}


class FakeBroker:
    """Just enough MQTT 3.1.1 over the fleet's TLS: CONNACK, SUBACK granting QoS 1, PINGRESP
    (each optional); it counts PINGREQs. One connection, on 127.0.0.1."""

    def __init__(self, run: Run, *, pong: bool = True, connack: bool = True) -> None:
        fleet = run.fleet
        self._context = ssl_context_for_fleet(
            fleet.server_cert_path, fleet.server_key_path, fleet.ca_cert_path
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._pong, self._connack = pong, connack
        self.pings = 0
        self.ended = Event()  # the client's connection closed
        self._server = gevent.spawn(self._serve)

    def close(self) -> int:
        self._server.kill()
        self._listener.close()
        return self.pings

    def _serve(self) -> None:
        raw, _ = self._listener.accept()
        with self._context.wrap_socket(raw, server_side=True) as conn:
            while packet := _read_packet(conn):
                kind, body = packet
                if kind == 1 and self._connack:  # CONNECT
                    conn.sendall(b"\x20\x02\x00\x00")
                elif kind == 8:  # SUBSCRIBE: grant QoS 1 to every filter
                    granted = b"\x01" * _count_filters(body[2:])
                    conn.sendall(bytes([0x90, 2 + len(granted)]) + body[:2] + granted)
                elif kind == 12:  # PINGREQ
                    self.pings += 1
                    if self._pong:
                        conn.sendall(b"\xd0\x00")
        self.ended.set()


def _read_packet(conn: ssl.SSLSocket) -> tuple[int, bytes] | None:
    header = conn.recv(1)
    if not header:
        return None
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return header[0] >> 4, body


def _count_filters(payload: bytes) -> int:
    count, at = 0, 0
    while at < len(payload):
        at += 2 + int.from_bytes(payload[at : at + 2], "big") + 1  # length, filter, QoS
        count += 1
    return count


def restart(run: Run) -> Result:
    """The emulator is killed under two connected devices, then started again."""
    waiting, calling = (run.transport(i, report=lambda _row: None) for i in RESTARTED)
    waiting.connect()
    calling.connect()
    listener = gevent.spawn(lambda: failure(lambda: waiting.next_notification(TIMEOUT)))
    gevent.sleep(0.1)
    os.kill(run.spec["ready"]["pid"], signal.SIGKILL)
    heard = listener.get(timeout=TIMEOUT)
    called = failure(lambda: calling.call(GetPendingRequest(), timeout=TIMEOUT))
    offline = failure(waiting.connect)
    emulator = start_emulator(run.spec)
    try:
        waiting.connect()
        reply = waiting.call(GetPendingRequest(), timeout=TIMEOUT)
        waiting.disconnect()
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.communicate(timeout=30)
    return {
        "listener": heard,
        "caller": called,
        "while_down": offline,
        "after_restart": type(reply).__name__,
    }


def start_emulator(spec: dict[str, Any]) -> subprocess.Popen[str]:
    """The emulator again, on the same ports, fleet and state directory."""
    ready = spec["ready"]
    process = subprocess.Popen(
        [sys.executable, "-m", "simfleet.cli", "emulator", "--fleet", spec["fleet"],
         "--state-dir", spec["state_dir"], "--mqtt-port", str(ready["mqtt_port"]),
         "--jobs-port", str(ready["jobs_port"]), "--quotas", "off", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    with gevent.Timeout(60):
        line = process.stdout.readline()
    assert line, "the emulator did not start again"
    return process


SCENARIOS: dict[str, Callable[[Run], Result]] = {
    f.__name__: f
    for f in (
        round_trip,
        job,
        wrong_ca,
        denied,
        timeout,
        drop,
        alpn,
        resume,
        keepalive,
        many,
        restart,
    )
}


def main() -> None:
    spec = json.load(sys.stdin)
    results: Result = {}
    fleet = load_fleet(Path(spec["fleet"]))
    for name in spec["scenarios"]:
        run = Run(spec=spec, fleet=fleet)
        try:
            with gevent.Timeout(30):
                results[name] = SCENARIOS[name](run)
        except BaseException as error:  # reported to the test, which fails
            results[name] = {"crashed": repr(error)}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
