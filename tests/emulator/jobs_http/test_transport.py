"""What the driver reads off a connection: bodies however TLS splits them, each keep-alive
connection's own certificate, and a distinct request id on every answer."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs_tool import Fleet
from simfleet.emulator.jobs_http import JobsHttpConfig
from simfleet.jobs import ExecutionStatus
from tests.emulator.jobs_http.helpers import ACCOUNT, REGION, Served, device_context

MAX_BODY_BYTES = 4096
# Past one TLS record (16 KiB of plaintext): the handler starts before the body is all in.
LARGE_PADDING = 40_000


@pytest.fixture
def limited(shared_fleet: Fleet, tmp_path: Path) -> Iterator[Served]:
    config = JobsHttpConfig(region=REGION, account_id=ACCOUNT, max_body_bytes=MAX_BODY_BYTES)
    served = Served(shared_fleet, tmp_path / "state", config=config)
    yield served
    served.close()


def _raw_call(
    served: Served, method: str, target: str, body: bytes, *, split: bool
) -> tuple[int, bytes]:
    """One call on a new connection: head and body in one TLS write (one record, if under
    16 KiB), or, with `split`, the body in a write of its own a moment after the head."""
    context = device_context(served.fleet, served.fleet.devices[0])
    raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        if split:
            tls.sendall(head.encode())
            time.sleep(0.05)  # the server parses the head (and may start the handler) first
            tls.sendall(body)
        else:
            tls.sendall(head.encode() + body)
        response = http.client.HTTPResponse(tls)
        response.begin()
        return response.status, response.read()


def test_a_body_sent_after_its_head_is_read_whole(served: Served, things: list[str]) -> None:
    served.create_job("job-1", [things[0]])
    body = json.dumps({"statusDetails": {"step": "late"}}).encode()

    status, answer = _raw_call(served, "PUT", f"/things/{things[0]}/jobs/$next", body, split=True)

    assert status == 200, answer
    assert json.loads(answer)["execution"]["statusDetails"] == {"step": "late"}
    [record] = served.executions()[things[0]]
    assert (record.status, record.status_details) == (ExecutionStatus.IN_PROGRESS, {"step": "late"})


def test_a_body_of_several_tls_records_is_read_whole(served: Served, things: list[str]) -> None:
    served.create_job("job-1", [things[0]])
    device = served.device(0)
    assert device.request("PUT", f"/things/{things[0]}/jobs/$next").status == 200
    body = b'{"status":"IN_PROGRESS","statusDetails":{"step":"big"}' + b" " * LARGE_PADDING + b"}"

    answer = device.request("POST", f"/things/{things[0]}/jobs/job-1", body)

    assert answer.status == 200, answer.body
    [record] = served.executions()[things[0]]
    assert record.status_details == {"step": "big"}


@pytest.mark.parametrize(
    ("padding", "split"),
    [
        pytest.param(2 * MAX_BODY_BYTES, False, id="with-the-head-in-one-record"),
        pytest.param(LARGE_PADDING, False, id="with-the-head-in-several-records"),
        pytest.param(LARGE_PADDING, True, id="after-the-head"),
    ],
)
def test_a_body_over_the_limit_is_refused_however_it_arrives(
    limited: Served, things: list[str], padding: int, split: bool
) -> None:
    limited.create_job("job-1", [things[0]])
    target = f"/things/{things[0]}/jobs/$next"
    # Valid JSON: refused for its size, not its syntax.
    body = b'{"statusDetails":{"step":"x"}' + b" " * padding + b"}"
    before = limited.executions()

    status, raw = _raw_call(limited, "PUT", target, body, split=split)
    error = json.loads(raw)

    assert status == 400
    assert str(MAX_BODY_BYTES) in error["message"]
    assert limited.executions() == before


def test_each_connection_keeps_its_own_certificate(served: Served, things: list[str]) -> None:
    first, second = served.device(0), served.device(1)
    for _ in range(2):  # interleaved on two keep-alive connections
        assert first.request("GET", f"/things/{things[0]}/jobs").status == 200
        assert second.request("GET", f"/things/{things[1]}/jobs").status == 200
        assert first.request("GET", f"/things/{things[1]}/jobs").status == 403
        assert second.request("GET", f"/things/{things[0]}/jobs").status == 403


def test_every_answer_has_its_own_uuid_request_id(served: Served, things: list[str]) -> None:
    device = served.device(0)
    answers = [
        device.request("GET", f"/things/{things[0]}/jobs"),
        device.request("GET", f"/things/{things[0]}/jobs"),
        device.request("GET", f"/things/{things[1]}/jobs"),  # an error answer has one too
        served.device(1).request("GET", f"/things/{things[1]}/jobs"),
    ]
    ids = [answer.headers["x-amzn-requestid"] for answer in answers]
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert (str(parsed), parsed.version, parsed.variant) == (request_id, 4, uuid.RFC_4122)
