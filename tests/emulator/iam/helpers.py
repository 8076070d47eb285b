"""Policies, principals and a served emulator for the IAM tests.

`Served` runs a real control plane (`control_plane_api` + `HttpsApiServer`) and a real Jobs
HTTPS API (`JobsHttpServer`) over one real emulator state (Store, Registry, JobsService,
ControlPlane in a tmp state directory), both authorized by one `IamAuthorizer`, on an event
loop in a background thread; blocking boto3 clients call them. The state lives on the loop
thread (SQLite connections stay in their thread): tests touch it through `call`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from certs_tool import Fleet
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import Caller, HttpsApiServer, RestJsonApi, control_plane_api
from simfleet.emulator.iam import (
    IamAuthorizer,
    IamPrincipal,
    Principals,
    parse_iam_policy,
)
from simfleet.emulator.jobs_http import JobsHttpConfig, JobsHttpServer
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store

T = TypeVar("T")

REGION = "eu-west-1"
ACCOUNT = "111122223333"
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:"


def arn(kind: str, name: str) -> str:
    return f"{ARN}{kind}/{name}"


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def statement(
    effect: str = "Allow",
    action: str | list[str] | None = "*",
    resource: str | list[str] | None = "*",
    **extra: Any,
) -> dict[str, Any]:
    """One statement; `extra` adds elements (NotAction=..., Condition=...)."""
    body: dict[str, Any] = {"Effect": effect, **extra}
    if action is not None:
        body["Action"] = action
    if resource is not None:
        body["Resource"] = resource
    return body


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def principal(
    name: str, key_id: str, *documents: dict[str, Any], secret: str = "secret"
) -> IamPrincipal:
    return IamPrincipal(
        name=name,
        access_key_id=key_id,
        secret_access_key=secret,
        policies=tuple(parse_iam_policy(document) for document in documents),
    )


def authorizer(*documents: dict[str, Any], name: str = "operator") -> tuple[IamAuthorizer, Caller]:
    """An authorizer knowing one principal with these policies, and that principal's caller."""
    key_id = "AKIDIAMTESTOPERATOR0"
    iam = IamAuthorizer(
        Principals.of(principal(name, key_id, *documents)), region=REGION, account_id=ACCOUNT
    )
    return iam, Caller(access_key_id=key_id)


class Served:
    """A control plane and a Jobs HTTPS API over one state, authorized by `iam`."""

    def __init__(self, fleet: Fleet, state_dir: Path, principals: Principals) -> None:
        self.fleet = fleet
        self.principals = principals
        # Near the wall clock: SigV4 refuses a request time 5 minutes off the server's clock.
        self.clock = ManualClock(time.time())
        self._clients: list[Any] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.iam = IamAuthorizer(principals, region=REGION, account_id=ACCOUNT)

        def build() -> tuple[Store, ControlPlane, RestJsonApi, HttpsApiServer, JobsHttpServer]:
            state_dir.mkdir(parents=True, exist_ok=True)
            store = Store.open(state_dir)
            registry = Registry(store, clock=self.clock)
            registry.register_fleet(fleet)
            jobs = JobsService(store, registry, self.clock, lambda topic, payload: None)
            control = ControlPlane(
                registry, jobs, region=REGION, account_id=ACCOUNT, clock=self.clock
            )
            api = control_plane_api(
                control,
                credentials=principals.credentials(),
                region=REGION,
                clock=self.clock,
                authorize=self.iam.authorize_call,
            )
            api_server = HttpsApiServer(
                api, certificate=fleet.server_cert_path, private_key=fleet.server_key_path
            )
            jobs_server = JobsHttpServer(
                jobs=jobs,
                principals=registry,
                credentials=principals.credentials(),
                certificate=fleet.server_cert_path,
                private_key=fleet.server_key_path,
                ca_file=fleet.ca_cert_path,
                config=JobsHttpConfig(region=REGION, account_id=ACCOUNT),
                clock=self.clock,
                authorize=self.iam.authorize,
            )
            return store, control, api, api_server, jobs_server

        self.store, self.control, self.api, self.api_server, self.jobs_server = self.call(build)
        self.api_port: int = self.run(self.api_server.start("127.0.0.1", 0))
        self.jobs_port: int = self.run(self.jobs_server.start("127.0.0.1", 0))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        """`function()` run on the loop thread, where the state lives."""

        async def run() -> T:
            return function()

        return self.run(run())

    def client(self, session: boto3.session.Session, service: str, key_id: str) -> Any:
        """A boto3 client of `service` ("iot" or "iot-jobs-data") signing as `key_id`."""
        known = self.principals.by_access_key(key_id)
        port = self.api_port if service == "iot" else self.jobs_port
        client = session.client(
            service,
            endpoint_url=f"https://127.0.0.1:{port}",
            verify=str(self.fleet.ca_cert_path),
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key="unknown" if known is None else known.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}),
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.run(self.api_server.close())
        self.run(self.jobs_server.close())
        self.call(self.store.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
