"""The emulator's parts wired as the app wires them for /metrics, over a real state in a tmp
directory, served from an event loop in a background thread: the control plane (HTTPS, SigV4,
GET /metrics) and the Jobs HTTPS API (device certificates) on 127.0.0.1:0; MQTT Jobs requests
go through the counting handler as the broker would pass them.

The state lives on the loop thread (SQLite connections stay in their thread): tests touch it
through `call`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from certs_tool import DeviceRecord, Fleet
from simfleet.emulator.broker import Broker
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import HttpsApiServer, RequestCounters, control_plane_api
from simfleet.emulator.jobs_counting import CountingJobsHandler
from simfleet.emulator.jobs_http import JobsHttpConfig, JobsHttpCounters, JobsHttpServer
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.loop_lag import LoopLagMonitor
from simfleet.emulator.metrics import EmulatorMetrics
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import parse_jobs_topic
from tests.emulator.metrics.promtext import Family, parse

T = TypeVar("T")

REGION = "eu-west-1"
ACCOUNT = "111122223333"
KEY_ID = "AKIDSIMFLEETMETRICS0"
SECRET = "metrics-secret/with+chars"
LAG_INTERVAL = 0.01


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def get(port: int, context: ssl.SSLContext, target: str) -> Answer:
    """One GET over TLS to 127.0.0.1:port, unsigned."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return Answer(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=response.read(),
        )
    finally:
        connection.close()


class Served:
    """State + broker (no listener) + control plane with /metrics + Jobs HTTPS API."""

    def __init__(self, fleet: Fleet, state_dir: Path) -> None:
        self.fleet = fleet
        # Near the wall clock: SigV4 refuses a request time 5 minutes off the server's clock.
        self.clock = ManualClock(time.time())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._boto3: list[Any] = []
        self.call(lambda: self._build(state_dir))
        self.api_port: int = self.run(self.api_server.start("127.0.0.1", 0))
        self.jobs_port: int = self.run(self.jobs_server.start("127.0.0.1", 0))

    def _build(self, state_dir: Path) -> None:
        """What app.py does, on the loop thread."""
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(state_dir)
        registry = Registry(self.store, clock=self.clock)
        registry.register_fleet(self.fleet)
        self.jobs = JobsService(self.store, registry, self.clock, lambda topic, payload: None)
        self.counting = CountingJobsHandler(self.jobs, RequestCounters())
        broker = Broker(
            principals=registry, jobs=self.counting, clock=self.clock, scheduler=self._loop
        )
        control = ControlPlane(
            registry, self.jobs, region=REGION, account_id=ACCOUNT, clock=self.clock
        )
        self.jobs_server = JobsHttpServer(
            jobs=self.jobs,
            principals=registry,
            credentials={KEY_ID: SECRET},
            certificate=self.fleet.server_cert_path,
            private_key=self.fleet.server_key_path,
            ca_file=self.fleet.ca_cert_path,
            config=JobsHttpConfig(region=REGION, account_id=ACCOUNT),
            clock=self.clock,
            counters=JobsHttpCounters(policy_denials=broker.counters.denials),
        )
        api = control_plane_api(
            control, credentials={KEY_ID: SECRET}, region=REGION, clock=self.clock
        )
        self.monitor = LoopLagMonitor(interval=LAG_INTERVAL)
        self.monitor.start()
        self.metrics = EmulatorMetrics(
            broker=broker.counters,
            control_plane=api.counters,
            jobs_mqtt=self.counting.counters,
            jobs_https=self.jobs_server.counters,
            jobs=self.jobs,
            loop_lag=self.monitor.lag,
        )
        self.api_server = HttpsApiServer(
            api,
            certificate=self.fleet.server_cert_path,
            private_key=self.fleet.server_key_path,
            metrics=self.metrics.render,
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        """`function()` run on the loop thread, where the state lives."""

        async def run() -> T:
            return function()

        return self.run(run())

    def context(self, device: DeviceRecord | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.fleet.ca_cert_path))
        if device is not None:
            context.load_cert_chain(self.fleet.cert_path(device), self.fleet.key_path(device))
        return context

    def scrape(self) -> dict[str, Family]:
        answer = get(self.api_port, self.context(), "/metrics")
        assert answer.status == 200, answer
        return parse(answer.body.decode())

    def iot(self, session: boto3.session.Session) -> Any:
        client = session.client(
            "iot",
            endpoint_url=f"https://127.0.0.1:{self.api_port}",
            verify=str(self.fleet.ca_cert_path),
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}),
        )
        self._boto3.append(client)
        return client

    def mqtt(self, thing: str, level: str, payload: dict[str, Any]) -> str:
        """A device's publish on `$aws/things/{thing}/jobs/{level}` as the broker passes it on:
        the last level of the reply topic."""
        topic = parse_jobs_topic(f"$aws/things/{thing}/jobs/{level}")
        assert topic is not None
        encoded = json.dumps(payload).encode()
        reply = self.call(lambda: self.counting.handle_mqtt(topic, encoded))
        return reply.topic.rsplit("/", 1)[1]

    def close(self) -> None:
        for client in self._boto3:
            client.close()
        self.run(self.api_server.close())
        self.run(self.jobs_server.close())
        self.run(self.monitor.close())
        self.call(self.store.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
