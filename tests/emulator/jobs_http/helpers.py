"""A real Jobs HTTPS server on 127.0.0.1:0 over a real emulator state (Store, Registry,
JobsService, ControlPlane in a tmp state directory), served from an event loop in a background
thread; blocking clients (http.client with a device certificate, boto3 with SigV4) call it.

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
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.jobs_http import (
    Authorize,
    JobsHttpConfig,
    JobsHttpServer,
    allow_every_caller,
)
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import ExecutionRecord, parse_jobs_topic

T = TypeVar("T")

REGION = "eu-west-1"
ACCOUNT = "111122223333"
KEY_ID = "AKIDSIMFLEETJOBSDATA"
SECRET = "jobs-data-secret/with+chars"
DOCUMENT = {"operation": "reboot", "delaySeconds": 5}


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    error_type: str | None
    body: Any  # the decoded JSON body
    headers: dict[str, str]


class DeviceClient:
    """One device's keep-alive HTTPS connection, with its client certificate."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.connection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=context, timeout=10
        )

    def request(
        self, method: str, target: str, body: bytes | dict[str, Any] | None = None
    ) -> Answer:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.connection.request(method, target, body=data)
        response = self.connection.getresponse()
        raw = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(
            status=response.status,
            error_type=headers.get("x-amzn-errortype"),
            body=json.loads(raw) if raw else None,
            headers=headers,
        )

    def close(self) -> None:
        self.connection.close()


def device_context(
    fleet: Fleet, device: DeviceRecord | None, *, trust: Fleet | None = None
) -> ssl.SSLContext:
    """Trust `trust`'s CA (default: `fleet`'s) and present `device`'s certificate, if any."""
    context = ssl.create_default_context(cafile=str((trust or fleet).ca_cert_path))
    if device is not None:
        context.load_cert_chain(fleet.cert_path(device), fleet.key_path(device))
    return context


class Served:
    """Emulator state + JobsHttpServer on their own loop thread."""

    def __init__(
        self,
        fleet: Fleet,
        state_dir: Path,
        *,
        config: JobsHttpConfig | None = None,
        authorize: Authorize = allow_every_caller,
    ) -> None:
        self.fleet = fleet
        # Near the wall clock: SigV4 refuses a request time 5 minutes off the server's clock.
        self.clock = ManualClock(time.time())
        self.published: list[tuple[str, bytes]] = []
        self._clients: list[DeviceClient] = []
        self._boto3: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        config = config or JobsHttpConfig(region=REGION, account_id=ACCOUNT)

        def build() -> tuple[Store, Registry, JobsService, ControlPlane, JobsHttpServer]:
            state_dir.mkdir(parents=True, exist_ok=True)
            store = Store.open(state_dir)
            registry = Registry(store, clock=self.clock)
            registry.register_fleet(fleet)
            jobs = JobsService(
                store,
                registry,
                self.clock,
                lambda topic, payload: self.published.append((topic, payload)),
            )
            control = ControlPlane(
                registry, jobs, region=REGION, account_id=ACCOUNT, clock=self.clock
            )
            server = JobsHttpServer(
                jobs=jobs,
                principals=registry,
                credentials={KEY_ID: SECRET},
                certificate=fleet.server_cert_path,
                private_key=fleet.server_key_path,
                ca_file=fleet.ca_cert_path,
                config=config,
                clock=self.clock,
                authorize=authorize,
            )
            return store, registry, jobs, control, server

        self.store, self.registry, self.jobs, self.control, self.server = self.call(build)
        self.port: int = self.run(self.server.start("127.0.0.1", 0))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        """`function()` run on the loop thread, where the state lives."""

        async def run() -> T:
            return function()

        return self.run(run())

    def create_job(
        self, job_id: str, things: list[str], document: dict[str, Any] = DOCUMENT
    ) -> None:
        self.call(
            lambda: self.control.create_job(
                jobId=job_id, targets=[thing_arn(t) for t in things], document=json.dumps(document)
            )
        )

    def executions(self) -> dict[str, list[ExecutionRecord]]:
        """Every thing's executions, to compare before and after a call."""
        return self.call(
            lambda: {
                d.thing_name: self.jobs.executions_for_thing(d.thing_name)
                for d in self.fleet.devices
            }
        )

    def mqtt(self, thing: str, level: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A device's publish on `$aws/things/{thing}/jobs/{level}`, through the MQTT service
        path: the last level of the reply topic and the decoded reply."""
        topic = parse_jobs_topic(f"$aws/things/{thing}/jobs/{level}")
        assert topic is not None
        reply = self.call(lambda: self.jobs.handle_mqtt(topic, json.dumps(payload).encode()))
        decoded: dict[str, Any] = json.loads(reply.payload)
        return reply.topic.rsplit("/", 1)[1], decoded

    def device(self, index: int = 0, *, fleet: Fleet | None = None) -> DeviceClient:
        source = fleet or self.fleet
        client = DeviceClient(
            self.port, device_context(source, source.devices[index], trust=self.fleet)
        )
        self._clients.append(client)
        return client

    def anonymous(self) -> DeviceClient:
        """A caller with no client certificate."""
        client = DeviceClient(self.port, device_context(self.fleet, None))
        self._clients.append(client)
        return client

    def boto3(self, session: boto3.session.Session, *, secret: str = SECRET) -> Any:
        client = session.client(
            "iot-jobs-data",
            endpoint_url=self.url,
            verify=str(self.fleet.ca_cert_path),
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}),
        )
        self._boto3.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for b3 in self._boto3:
            b3.close()
        self.run(self.server.close())
        self.call(self.store.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
