"""GET /metrics on a real control-plane server over TLS on 127.0.0.1: readable without SigV4
from loopback, and its figures are what the test did."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from aiohttp.test_utils import make_mocked_request
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from certs_tool import Fleet
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import HttpsApiServer, control_plane_api
from simfleet.emulator.http.server import is_loopback
from simfleet.emulator.prometheus import CONTENT_TYPE
from tests.emulator.metrics.helpers import REGION, Served, get
from tests.emulator.state.helpers import ACCOUNT

DOCUMENT = json.dumps({"operation": "reboot"})


def _arn(thing: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{thing}"


@pytest.fixture
def served(shared_fleet: Fleet, tmp_path: Path) -> Iterator[Served]:
    running = Served(shared_fleet, tmp_path / "state")
    yield running
    running.close()


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    return boto3.session.Session()


def test_readable_without_sigv4_from_loopback(served: Served) -> None:
    answer = get(served.api_port, served.context(), "/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"] == CONTENT_TYPE
    text = answer.body.decode()
    assert text.endswith("\n")
    # Every other path still needs a signature (and is counted; the scrapes are not).
    assert get(served.api_port, served.context(), "/jobs").status == 403
    families = served.scrape()
    for name, family in families.items():
        assert name.startswith("simfleet_"), name
        assert (family.type == "counter") == name.endswith("_total"), name
    control = families["simfleet_control_plane_requests_total"]
    assert control.by("outcome") == {"MissingAuthenticationTokenException": 1}
    assert control.by("operation") == {"ListJobs": 1}
    assert families["simfleet_job_executions"].total() == 0
    assert families["simfleet_event_loop_lag_probes_seconds"].value("_count") >= 0


def test_figures_match_what_the_test_did(
    served: Served, things: list[str], boto_session: boto3.session.Session
) -> None:
    iot = served.iot(boto_session)
    # Four signed control-plane calls, one of them refused.
    iot.create_job(jobId="job-1", targets=[_arn(t) for t in things[:3]], document=DOCUMENT)
    iot.describe_job(jobId="job-1")
    iot.describe_job(jobId="job-1")
    with pytest.raises(ClientError) as refused:
        iot.describe_job(jobId="nope")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Over MQTT, thing 0 runs its execution to SUCCEEDED and asks about a job that is not.
    assert served.mqtt(things[0], "start-next", {}) == "accepted"
    assert served.mqtt(things[0], "job-1/update", {"status": "SUCCEEDED"}) == "accepted"
    assert served.mqtt(things[0], "nope/get", {}) == "rejected"
    # Over HTTPS with its certificate, device 1 lists its jobs, then asks for thing 2's.
    device = served.fleet.devices[1]
    assert device.thing_name == things[1]
    context = served.context(device)
    assert get(served.jobs_port, context, f"/things/{things[1]}/jobs").status == 200
    denied = get(served.jobs_port, context, f"/things/{things[2]}/jobs")
    assert denied.status == 403

    families = served.scrape()
    control = families["simfleet_control_plane_requests_total"]
    assert control.total() == 4
    assert control.value(operation="CreateJob", outcome="ok") == 1
    assert control.value(operation="DescribeJob", outcome="ok") == 2
    assert control.value(operation="DescribeJob", outcome="ResourceNotFoundException") == 1

    requests = families["simfleet_jobs_requests_total"]
    expected = {
        ("mqtt", "StartNextPendingJobExecution", "ok"): 1,
        ("mqtt", "UpdateJobExecution", "ok"): 1,
        ("mqtt", "DescribeJobExecution", "ResourceNotFound"): 1,
        ("https", "GetPendingJobExecutions", "ok"): 1,
        ("https", "GetPendingJobExecutions", denied.headers["x-amzn-errortype"]): 1,
    }
    assert {
        (labels["protocol"], labels["operation"], labels["outcome"]): value
        for labels, value in ((dict(key[1]), value) for key, value in requests.samples.items())
    } == expected

    denials = families["simfleet_policy_denials_total"]
    assert denials.value(policy="iot", action="iotjobsdata:GetPendingJobExecutions") == 1
    assert denials.total() == 1

    executions = families["simfleet_job_executions"].by("status")
    assert executions["SUCCEEDED"] == 1
    assert executions["QUEUED"] == 2
    assert sum(executions.values()) == 3
    assert families["simfleet_jobs"].by("status")["IN_PROGRESS"] == 1
    assert families["simfleet_jobs"].total() == 1
    # The scrapes themselves are not control-plane requests.
    assert served.scrape()["simfleet_control_plane_requests_total"].total() == 4


def test_a_blocked_loop_shows_in_the_scrape(served: Served) -> None:
    before = served.scrape()["simfleet_event_loop_lag_max_seconds"].value()
    served.call(lambda: time.sleep(0.2))  # the loop blocked, as by a slow handler
    time.sleep(0.05)  # a probe runs after the block
    after = served.scrape()
    assert before < 0.1
    assert after["simfleet_event_loop_lag_max_seconds"].value() >= 0.2 - 0.01 - 0.001
    assert after["simfleet_event_loop_lag_probes_seconds"].value("_count") >= 1


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        pytest.param("127.0.0.1", True, id="v4"),
        pytest.param("127.9.8.7", True, id="v4-net"),
        pytest.param("::1", True, id="v6"),
        pytest.param("::ffff:127.0.0.1", True, id="v4-mapped"),
        pytest.param("::1%lo", True, id="v6-zone"),
        pytest.param("10.0.0.1", False, id="private"),
        pytest.param("128.0.0.1", False, id="v4-other"),
        pytest.param("::2", False, id="v6-other"),
        pytest.param("::ffff:10.0.0.1", False, id="v4-mapped-other"),
        pytest.param("localhost", False, id="name"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="unknown"),
    ],
)
def test_loopback_addresses(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


class _Peer:
    """A transport seen from aiohttp's request: only its peer address is read."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 50000) if name == "peername" else default


def _server(shared_fleet: Fleet, metrics: Callable[[], str] | None) -> HttpsApiServer:
    api = control_plane_api(
        object(), credentials={"k": "s"}, region=REGION, clock=ManualClock(time.time())
    )
    return HttpsApiServer(
        api,
        certificate=shared_fleet.server_cert_path,
        private_key=shared_fleet.server_key_path,
        metrics=metrics,
    )


@pytest.mark.parametrize(
    ("peer", "method", "status"),
    [
        pytest.param("127.0.0.1", "GET", 200, id="loopback"),
        pytest.param("::1", "GET", 200, id="loopback-v6"),
        pytest.param("192.0.2.7", "GET", 403, id="remote-unsigned"),
        pytest.param("127.0.0.1", "POST", 403, id="loopback-post"),
    ],
)
def test_only_a_loopback_get_skips_sigv4(
    shared_fleet: Fleet, peer: str, method: str, status: int
) -> None:
    server = _server(shared_fleet, lambda: "# HELP a x\n# TYPE a gauge\na 1\n")

    async def ask() -> tuple[int, str | None]:
        request = make_mocked_request(method, "/metrics", transport=_Peer(peer))
        response = await server._handle(request)
        return response.status, response.headers.get("x-amzn-ErrorType")

    answered, error = asyncio.run(ask())
    assert answered == status
    assert error == (None if status == 200 else "MissingAuthenticationTokenException")


def test_without_a_metrics_source_there_is_no_such_route(served: Served) -> None:
    server = _server(served.fleet, None)
    port = served.run(server.start("127.0.0.1", 0))
    try:
        answer = get(port, served.context(), "/metrics")
        assert answer.status == 403  # an ordinary unsigned request to the API
        assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    finally:
        served.run(server.close())


def test_a_failing_source_answers_500_and_the_server_keeps_serving(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("counters broke")
        return "# HELP a x\n# TYPE a gauge\na 1\n"

    server = _server(served.fleet, flaky)
    port = served.run(server.start("127.0.0.1", 0))
    try:
        failed = get(port, served.context(), "/metrics")
        assert failed.status == 500
        assert b"counters broke" not in failed.body
        assert "GET /metrics failed" in caplog.text
        again = get(port, served.context(), "/metrics")
        assert (again.status, again.body) == (200, b"# HELP a x\n# TYPE a gauge\na 1\n")
    finally:
        served.run(server.close())
