"""Emulator parts built with quotas, as app.py wires them: one `Quotas` shared by the broker and
the Jobs service, the broker's limits taken from the same `QuotaConfig`.

- `quota_broker`: the in-memory broker of the broker tests (fake Jobs handler), with quotas.
- `JobsStack`: a real state (Store, Registry, JobsService, ControlPlane) with quotas, and an
  in-memory broker in front of its Jobs service.
- `ServedJobs`: that state behind a real Jobs HTTPS server (TLS on 127.0.0.1:0), served from
  an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from certs_tool import Fleet
from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.broker import Broker, BrokerConfig
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.jobs_http import JobsHttpConfig, JobsHttpServer
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.quotas import QuotaConfig, Quotas
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.jobs import MqttReply, parse_jobs_topic
from tests.emulator.broker.helpers import (
    FakeScheduler,
    FleetPrincipals,
    InMemoryJobs,
    MemoryBroker,
    MemoryClient,
    device_der,
)
from tests.emulator.jobs_http.helpers import DeviceClient, device_context

T = TypeVar("T")

REGION = "eu-west-1"
ACCOUNT = "111122223333"
KEY_ID = "AKIDSIMFLEETQUOTAS01"
SECRET = "quota-secret"


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def only(**quotas: Any) -> QuotaConfig:
    """Every quota off but the ones named (field names, e.g. `jobs_reads=3`)."""
    return QuotaConfig(**{**vars(QuotaConfig.off()), **quotas})


def quota_broker(
    fleet: Fleet, config: QuotaConfig, *, extra_policies: tuple[PolicyDocument, ...] = ()
) -> tuple[MemoryBroker, Quotas]:
    clock = ManualClock()
    scheduler = FakeScheduler(clock)
    principals = FleetPrincipals(fleet, extra_policies=extra_policies)
    jobs = InMemoryJobs(clock)
    quotas = Quotas(config, now=clock.now())
    broker = Broker(
        principals=principals,
        jobs=jobs,
        clock=clock,
        scheduler=scheduler,
        config=BrokerConfig().with_quotas(config),
        quotas=quotas,
    )
    jobs.publish = broker.publish_internal
    memory = MemoryBroker(
        fleet=fleet,
        broker=broker,
        principals=principals,
        jobs=jobs,
        clock=clock,
        scheduler=scheduler,
    )
    return memory, quotas


class JobsStack:
    """A real emulator state with quotas; `broker` routes MQTT Jobs requests to its service."""

    def __init__(self, fleet: Fleet, state_dir: Path, config: QuotaConfig, clock: ManualClock):
        self.fleet = fleet
        self.clock = clock
        self.quotas = Quotas(config, now=clock.now())
        self.published: list[tuple[str, bytes]] = []
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(state_dir)
        self.registry = Registry(self.store, clock=clock)
        self.registry.register_fleet(fleet)
        self.jobs = JobsService(self.store, self.registry, clock, self._publish, quotas=self.quotas)
        self.control = ControlPlane(
            self.registry, self.jobs, region=REGION, account_id=ACCOUNT, clock=clock
        )
        self.scheduler = FakeScheduler(clock)
        self.broker = Broker(
            principals=self.registry,
            jobs=self.jobs,
            clock=clock,
            scheduler=self.scheduler,
            config=BrokerConfig(region=REGION, account_id=ACCOUNT).with_quotas(config),
            quotas=self.quotas,
        )

    def _publish(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, payload))
        self.broker.publish_internal(topic, payload)

    def thing(self, index: int) -> str:
        return self.fleet.devices[index].thing_name

    def create_job(self, job_id: str, things: list[str], **members: Any) -> None:
        self.control.create_job(
            jobId=job_id,
            targets=[thing_arn(t) for t in things],
            document=json.dumps({"op": job_id}),
            **members,
        )

    def mqtt(self, thing: str, level: str, payload: bytes | dict[str, Any]) -> MqttReply:
        """A publish on `$aws/things/{thing}/jobs/{level}`, straight to the Jobs service."""
        topic = parse_jobs_topic(f"$aws/things/{thing}/jobs/{level}")
        assert topic is not None
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.jobs.handle_mqtt(topic, raw)

    def connected(self, index: int) -> MemoryClient:
        client = MemoryClient(self.broker, device_der(self.fleet, self.fleet.devices[index]))
        assert client.connect(self.fleet.devices[index].client_id).return_code == 0
        return client

    def close(self) -> None:
        self.store.close()


class ServedJobs:
    """A `JobsStack`'s Jobs service behind a real JobsHttpServer on its own loop thread."""

    def __init__(self, fleet: Fleet, state_dir: Path, config: QuotaConfig) -> None:
        # Near the wall clock: SigV4 refuses a request time 5 minutes off the server's.
        self.clock = ManualClock(time.time())
        self._clients: list[DeviceClient] = []
        self._boto3: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.fleet = fleet

        def build() -> tuple[JobsStack, JobsHttpServer]:
            stack = JobsStack(fleet, state_dir, config, self.clock)
            server = JobsHttpServer(
                jobs=stack.jobs,
                principals=stack.registry,
                credentials={KEY_ID: SECRET},
                certificate=fleet.server_cert_path,
                private_key=fleet.server_key_path,
                ca_file=fleet.ca_cert_path,
                config=JobsHttpConfig(region=REGION, account_id=ACCOUNT),
                clock=self.clock,
            )
            return stack, server

        self.stack, self.server = self.call(build)
        self.port: int = self.run(self.server.start("127.0.0.1", 0))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        """`function()` on the loop thread, where the state lives."""

        async def run() -> T:
            return function()

        return self.run(run())

    def device(self, index: int = 0) -> DeviceClient:
        context = device_context(self.fleet, self.fleet.devices[index])
        client = DeviceClient(self.port, context)
        self._clients.append(client)
        return client

    def boto3(self) -> Any:
        client = boto3.session.Session().client(
            "iot-jobs-data",
            endpoint_url=f"https://127.0.0.1:{self.port}",
            verify=str(self.fleet.ca_cert_path),
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
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
        self.call(self.stack.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
