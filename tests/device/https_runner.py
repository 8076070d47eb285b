"""Scenarios of `HttpsTransport` in a gevent-patched child process, for test_https_transport.

    python https_runner.py < spec.json  ─▶  {"<scenario>": {...}, ...} on stdout

Locust monkey-patches everything at import and so does this runner, first; the pytest process
never is (docs/devices.md). The spec names the emulator (`host`, `port`, `pid`), the fleet,
another fleet the emulator does not trust (`other_fleet`, its CA file `other_ca`) and the
scenarios to run, in order. Each scenario returns what it saw, JSON-shaped, for the test to
assert; an unexpected exception is returned as `{"crashed": repr}`. Every loop is bounded;
traffic goes to 127.0.0.1 only.
"""

from gevent import monkey  # type: ignore[import-untyped]

monkey.patch_all()

import json  # noqa: E402 - after patching, as under Locust
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402

from certs_tool import DeviceRecord, Fleet, load_fleet  # noqa: E402
from simfleet.device import DeviceError, RequestReport  # noqa: E402
from simfleet.device.https import HttpsConfig, HttpsTransport  # noqa: E402
from simfleet.device.tls import device_ssl_context  # noqa: E402
from simfleet.jobs import (  # noqa: E402
    DescribeAccepted,
    DescribeRequest,
    ExecutionStatus,
    GetPendingAccepted,
    GetPendingRequest,
    JobExecution,
    JobExecutionState,
    JobsRequest,
    StartNextAccepted,
    StartNextRequest,
    UpdateAccepted,
    UpdateRequest,
)
from simfleet.jobs.responses import Accepted  # noqa: E402

TIMEOUT = 5.0
Result = dict[str, Any]


@dataclass
class Run:
    spec: dict[str, Any]
    fleet: Fleet
    rows: list[RequestReport] = field(default_factory=list)

    def device(self, index: int) -> DeviceRecord:
        return self.fleet.devices[index]

    def context(self, index: int, *, ca_file: str | None = None) -> ssl.SSLContext:
        device = self.device(index)
        return device_ssl_context(
            ca_file or self.fleet.ca_cert_path,
            self.fleet.cert_path(device),
            self.fleet.key_path(device),
        )

    def transport(
        self,
        index: int,
        *,
        thing_name: str | None = None,
        ca_file: str | None = None,
        port: int | None = None,
        keepalive_expiry: float = 240.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> HttpsTransport:
        config = HttpsConfig(
            host=self.spec["host"],
            port=port or self.spec["port"],
            keepalive_expiry=keepalive_expiry,
        )
        return HttpsTransport(
            thing_name or self.device(index).thing_name,
            config=config,
            ssl_context=ssl_context or self.context(index, ca_file=ca_file),
            report=self.rows.append,
        )

    def connections(self, port: int | None = None) -> list[int]:
        """Local ports of this process's established TCP connections to the Jobs port."""
        wanted = port or self.spec["port"]
        return sorted(
            c.laddr.port
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == wanted and c.status == psutil.CONN_ESTABLISHED
        )


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


def execution_of(reply: Accepted) -> JobExecution:
    assert isinstance(reply, StartNextAccepted | DescribeAccepted), reply
    assert reply.execution is not None, reply
    return reply.execution


def state_of(reply: Accepted) -> JobExecutionState:
    assert isinstance(reply, UpdateAccepted), reply
    assert reply.execution_state is not None, reply
    return reply.execution_state


def failure(call: Callable[[], object]) -> Result:
    """What `call` raised: {"error": class name, "reason", "code"}; {} when it did not."""
    try:
        call()
    except DeviceError as error:
        code = getattr(error, "code", None)
        return {
            "error": type(error).__name__,
            "reason": error.reason,
            "code": None if code is None else code.value,
        }
    return {}


def operations(run: Run) -> Result:
    """The four operations on the job `ops` targets at device 0, on one connection."""
    job_id = run.spec["jobs"]["ops"]
    transport = run.transport(0)
    transport.connect()
    ports: list[list[int]] = []

    def call(request: JobsRequest) -> Accepted:
        reply = transport.call(request, timeout=TIMEOUT)
        ports.append(run.connections())
        return reply

    pending = call(GetPendingRequest())
    assert isinstance(pending, GetPendingAccepted), pending
    described = execution_of(call(DescribeRequest(job_id=job_id, include_job_document=True)))
    bare = execution_of(call(DescribeRequest(job_id=job_id, include_job_document=False)))
    started = execution_of(call(StartNextRequest(status_details={"step": "download"})))
    updated = state_of(
        call(
            UpdateRequest(
                job_id=job_id,
                status=ExecutionStatus.IN_PROGRESS,
                status_details={"step": "install"},
                expected_version=started.version_number,
                include_job_execution_state=True,
            )
        )
    )
    after = execution_of(call(DescribeRequest(job_id=job_id, include_job_document=False)))
    transport.disconnect()
    return {
        "queued": [summary.job_id for summary in pending.queued_jobs],
        "document": described.job_document,
        "bare_document": bare.job_document,
        "described_status": described.status.value,
        "started": {
            "job_id": started.job_id,
            "status": started.status.value,
            "details": dict(started.status_details or {}),
            "version": started.version_number,
        },
        "updated": {"status": updated.status.value, "version": updated.version_number},
        "after": {"status": after.status.value, "details": dict(after.status_details or {})},
        "ports": ports,
        "connected_after": transport.connected,
        "open_after": run.connections(),
        "rows": [row(r) for r in run.rows],
    }


def finish(run: Run) -> Result:
    """Start `finish` over one connection, drop it, finish it over a new one."""
    job_id = run.spec["jobs"]["finish"]
    first = run.transport(1)
    first.connect()
    started = execution_of(first.call(StartNextRequest(), timeout=TIMEOUT))
    first.drop()
    dropped = {"connected": first.connected, "open": run.connections()}
    second = run.transport(1)
    second.connect()
    done = second.call(
        UpdateRequest(
            job_id=job_id,
            status=ExecutionStatus.SUCCEEDED,
            expected_version=started.version_number,
            status_details={"result": "installed"},
            include_job_execution_state=True,
        ),
        timeout=TIMEOUT,
    )
    second.disconnect()
    return {
        "started": started.job_id,
        "dropped": dropped,
        "final": state_of(done).status.value,
    }


def rejections(run: Run) -> Result:
    """A job id that does not exist, and a stale expectedVersion, on device 2."""
    job_id = run.spec["jobs"]["reject"]
    transport = run.transport(2)
    transport.connect()
    first = len(run.rows)
    unknown = failure(
        lambda: transport.call(DescribeRequest(job_id="no-such-job"), timeout=TIMEOUT)
    )
    update_unknown = failure(
        lambda: transport.call(
            UpdateRequest(job_id="no-such-job", status=ExecutionStatus.IN_PROGRESS),
            timeout=TIMEOUT,
        )
    )
    started = transport.call(StartNextRequest(), timeout=TIMEOUT)
    version = execution_of(started).version_number
    stale = failure(
        lambda: transport.call(
            UpdateRequest(
                job_id=job_id, status=ExecutionStatus.SUCCEEDED, expected_version=version - 1
            ),
            timeout=TIMEOUT,
        )
    )
    # The connection outlives refusals: the next call succeeds on it.
    still = transport.call(DescribeRequest(job_id=job_id), timeout=TIMEOUT)
    transport.disconnect()
    return {
        "unknown": unknown,
        "update_unknown": update_unknown,
        "stale": stale,
        "still": execution_of(still).status.value,
        "rows": [row(r) for r in run.rows[first:]],
    }


def denied(run: Run) -> Result:
    """Device 3's certificate calling on device 4's thing."""
    transport = run.transport(3, thing_name=run.device(4).thing_name)
    transport.connect()
    first = len(run.rows)
    refused = failure(lambda: transport.call(GetPendingRequest(), timeout=TIMEOUT))
    transport.disconnect()
    return {"refused": refused, "rows": [row(r) for r in run.rows[first:]]}


def wrong_ca(run: Run) -> Result:
    """Device 5 trusting another fleet's CA: the server's certificate does not verify."""
    transport = run.transport(5, ca_file=run.spec["other_ca"])
    first = len(run.rows)
    refused = failure(transport.connect)
    called = failure(lambda: transport.call(GetPendingRequest(), timeout=TIMEOUT))
    return {
        "refused": refused,
        "connected": transport.connected,
        "called": called,
        "open": run.connections(),
        "rows": [row(r) for r in run.rows[first:]],
    }


def foreign_credentials(run: Run) -> Result:
    """Device 5's thing with a certificate of another fleet's CA, and with no certificate."""
    other = load_fleet(Path(run.spec["other_fleet"]))
    record = other.devices[0]
    foreign = run.transport(
        5,
        ssl_context=device_ssl_context(
            run.fleet.ca_cert_path, other.cert_path(record), other.key_path(record)
        ),
    )
    bare = run.transport(5, ssl_context=ssl.create_default_context(cafile=run.fleet.ca_cert_path))
    first = len(run.rows)
    outcomes: Result = {}
    for name, transport in (("foreign", foreign), ("no_certificate", bare)):
        outcomes[name] = {
            "connect": failure(transport.connect),
            "call": failure(partial(transport.call, GetPendingRequest(), timeout=TIMEOUT)),
        }
        transport.drop()
    return {**outcomes, "rows": [row(r) for r in run.rows[first:]]}


def keepalive(run: Run) -> Result:
    """Twenty calls over one connection; then an idle expiry of 0.2 s replacing it."""
    kept = run.transport(5)
    kept.connect()
    ports = []
    for _ in range(20):
        kept.call(GetPendingRequest(), timeout=TIMEOUT)
        ports.append(run.connections())
    kept.disconnect()
    closed = run.connections()
    expiring = run.transport(5, keepalive_expiry=0.2)
    expiring.connect()
    expiring.call(GetPendingRequest(), timeout=TIMEOUT)
    before = run.connections()
    gevent.sleep(0.4)
    expiring.call(GetPendingRequest(), timeout=TIMEOUT)
    after = run.connections()
    expiring.disconnect()
    return {"ports": ports, "closed": closed, "before_idle": before, "after_idle": after}


def _fake_server(run: Run) -> tuple[Any, int]:
    """A TLS server on 127.0.0.1 with the fleet's server certificate that answers by job id:
    `silent` never, `garbage` with bytes that are no HTTP, `notjson` a 200 with a text body,
    `close` by closing the connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(run.fleet.server_cert_path, run.fleet.server_key_path)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            while head := tls.recv(65536):
                if b"/silent" in head:
                    gevent.sleep(10)
                elif b"/garbage" in head:
                    tls.sendall(b"SURPRISE\r\n\r\n")
                elif b"/notjson" in head:
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnope")
                else:
                    return

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            gevent.spawn(serve, conn)

    return gevent.spawn(accept), listener.getsockname()[1]


def misbehaving(run: Run) -> Result:
    """Device 6 against the fake server: a silent one, garbage, a body that is no JSON."""
    server, port = _fake_server(run)
    transport = run.transport(6, port=port)
    transport.connect()
    first = len(run.rows)
    outcomes: Result = {}
    for job_id, timeout in (("silent", 0.3), ("notjson", TIMEOUT), ("garbage", TIMEOUT)):
        started = time.monotonic()
        outcome = failure(partial(transport.call, DescribeRequest(job_id=job_id), timeout=timeout))
        outcome["seconds"] = time.monotonic() - started
        outcome["connected"] = transport.connected
        outcomes[job_id] = outcome
    server.kill()
    return {**outcomes, "rows": [row(r) for r in run.rows[first:]]}


def server_gone(run: Run) -> Result:
    """Device 7 connected; then the emulator is stopped and the device calls again."""
    transport = run.transport(7)
    transport.connect()
    transport.call(GetPendingRequest(), timeout=TIMEOUT)
    os.kill(run.spec["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the port refuses connections
        try:
            socket.create_connection((run.spec["host"], run.spec["port"]), 1).close()
        except OSError:
            break
        gevent.sleep(0.05)
    first = len(run.rows)
    lost = failure(lambda: transport.call(GetPendingRequest(), timeout=TIMEOUT))
    again = failure(transport.connect)
    return {
        "lost": lost,
        "connected": transport.connected,
        "reconnect": again,
        "rows": [row(r) for r in run.rows[first:]],
    }


SCENARIOS: dict[str, Callable[[Run], Result]] = {
    scenario.__name__: scenario
    for scenario in (
        operations,
        finish,
        rejections,
        denied,
        wrong_ca,
        foreign_credentials,
        keepalive,
        misbehaving,
        server_gone,
    )
}


def main() -> None:
    spec = json.load(sys.stdin)
    run = Run(spec=spec, fleet=load_fleet(Path(spec["fleet"])))
    results: Result = {}
    for name in spec["scenarios"]:
        try:
            with gevent.Timeout(30):
                results[name] = SCENARIOS[name](run)
        except BaseException as error:  # reported to the test, which fails
            results[name] = {"crashed": repr(error)}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
