"""The emulator process: wire the parts together, register the fleet (unless
`register_fleet` is off), print the ready line, serve until SIGTERM or SIGINT, then close the
store and exit 0.

    Store ─ Registry ─ JobsService ─ ControlPlane ── HttpsApiServer (boto3 "iot")
                           │  ▲  ▲
               notify ─────┘  │  └── JobsHttpServer (HTTPS Jobs API: device certificate or SigV4)
                           ▼  └──── MQTT jobs requests
                 Broker ── BrokerServer (MQTT over mutual TLS)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certs_tool import Fleet, load_fleet
from certs_tool.files import PRIVATE, storage_errors, write_file_atomic
from simfleet.emulator.api_quotas import ApiQuotas, MergedCounts
from simfleet.emulator.broker import Broker, BrokerConfig, BrokerServer, ssl_context_for_fleet
from simfleet.emulator.clock import Clock, SystemClock
from simfleet.emulator.config import EmulatorConfig
from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.http import ApiCall, HttpsApiServer, RequestCounters, control_plane_api
from simfleet.emulator.iam import IamAuthorizer, Principals, administrator, load_principals
from simfleet.emulator.jobs_counting import CountingJobsHandler
from simfleet.emulator.jobs_http import JobsHttpConfig, JobsHttpCounters, JobsHttpServer
from simfleet.emulator.jobs_service import JobsService
from simfleet.emulator.loop_lag import LoopLagMonitor
from simfleet.emulator.metrics import EmulatorMetrics
from simfleet.emulator.quotas import Quotas
from simfleet.emulator.registry import Registry
from simfleet.emulator.store import Store
from simfleet.emulator.tls_trust import TlsTrust

log = logging.getLogger("simfleet.emulator")
CREDENTIALS_FILE = "credentials.json"
# AWS access key ids are 20 upper-case characters starting with AKIA; ours says what it is.
ACCESS_KEY_PREFIX = "AKIASIMFLEET"


@dataclass(frozen=True, kw_only=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def load_or_create_credentials(state_dir: Path) -> Credentials:
    """The control plane's key pair, kept in the state directory so that a restarted emulator
    accepts the clients of the previous run."""
    path = state_dir / CREDENTIALS_FILE
    try:
        raw = json.loads(path.read_text())
        return Credentials(
            access_key_id=raw["accessKeyId"], secret_access_key=raw["secretAccessKey"]
        )
    except FileNotFoundError:
        pass
    credentials = Credentials(
        access_key_id=ACCESS_KEY_PREFIX + secrets.token_hex(4).upper(),
        secret_access_key=secrets.token_urlsafe(30),
    )
    text = json.dumps(
        {
            "accessKeyId": credentials.access_key_id,
            "secretAccessKey": credentials.secret_access_key,
        }
    )
    write_file_atomic(path, text.encode(), mode=PRIVATE)
    return credentials


class _RegistryEvents:
    """What registration changes on the wire (certificate_book.CertificateEvents): TLS anchors
    for the broker and the Jobs HTTPS API, and the connections of a certificate that left
    ACTIVE."""

    def __init__(self) -> None:
        self.trusts: list[TlsTrust] = []  # one per server context
        self.broker: Broker | None = None

    def trust_certificate(self, pem: bytes) -> None:
        for trust in self.trusts:
            trust.trust(pem)

    def deactivated(self, certificate_id: str) -> None:
        if self.broker is not None:
            self.broker.close_certificate(certificate_id)


class Emulator:
    """Everything one emulator runs, started and stopped together."""

    def __init__(self, config: EmulatorConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.fleet: Fleet = load_fleet(config.fleet_dir)
        with storage_errors(config.state_dir):
            config.state_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = load_or_create_credentials(config.state_dir)
        # The ready line's key pair is always an administrator: harnesses rely on it.
        admin = administrator(self.credentials.access_key_id, self.credentials.secret_access_key)
        self.principals = (
            Principals.of(admin)
            if config.iam_principals is None
            else load_principals(config.iam_principals).with_principals([admin])
        )
        self.iam = IamAuthorizer(
            self.principals, region=config.region, account_id=config.account_id
        )
        self.store = Store.open(config.state_dir)
        self._events = _RegistryEvents()
        self.registry = Registry(self.store, clock=self.clock, events=self._events)
        self.new_devices = self.registry.register_fleet(self.fleet) if config.register_fleet else 0
        self._broker: Broker | None = None
        # One Quotas object: MQTT and HTTPS draw on the same Jobs budget, as on AWS.
        self.quotas = Quotas(config.quotas, now=self.clock.now())
        self.api_quotas = ApiQuotas(config.api_quotas, now=self.clock.now())
        self.jobs = JobsService(
            self.store, self.registry, self.clock, self._notify, quotas=self.quotas
        )
        # MQTT Jobs requests are counted between the broker and the service (/metrics).
        self.jobs_mqtt = CountingJobsHandler(self.jobs, RequestCounters())
        self._lag = LoopLagMonitor()
        self.control_plane = ControlPlane(
            self.registry, self.jobs, region=config.region, account_id=config.account_id,
            clock=self.clock,
        )  # fmt: skip
        self._mqtt: BrokerServer | None = None
        self._jobs_http: JobsHttpServer | None = None
        self._api: HttpsApiServer | None = None
        self._timers: asyncio.Task[None] | None = None

    def _notify(self, topic: str, payload: bytes) -> None:
        if self._broker is not None:
            self._broker.publish_internal(topic, payload)

    async def start(self) -> dict[str, Any]:
        """Listen on every port; return the ready line's fields."""
        loop = asyncio.get_running_loop()
        self._lag.start()
        self._broker = Broker(
            principals=self.registry,
            jobs=self.jobs_mqtt,
            clock=self.clock,
            scheduler=loop,
            config=BrokerConfig(
                region=self.config.region, account_id=self.config.account_id
            ).with_quotas(self.config.quotas),
            quotas=self.quotas,
        )
        self._mqtt = BrokerServer(self._broker)
        context = ssl_context_for_fleet(
            self.fleet.server_cert_path, self.fleet.server_key_path, self.fleet.ca_cert_path
        )
        self._trust_registered(context)
        self._events.broker = self._broker
        mqtt_port = await self._mqtt.start(self.config.host, self.config.mqtt_port, context)
        self._jobs_http = JobsHttpServer(
            jobs=self.jobs,
            principals=self.registry,
            credentials=self.principals.credentials(),
            authorize=self.iam.authorize,
            certificate=self.fleet.server_cert_path,
            private_key=self.fleet.server_key_path,
            ca_file=self.fleet.ca_cert_path,
            config=JobsHttpConfig(region=self.config.region, account_id=self.config.account_id),
            clock=self.clock,
            # One count of policy denials across MQTT and HTTPS.
            counters=JobsHttpCounters(policy_denials=self._broker.counters.denials),
        )
        self._trust_registered(self._jobs_http.ssl_context)
        jobs_port = await self._jobs_http.start(self.config.host, self.config.jobs_port)
        api = control_plane_api(
            self.control_plane,
            credentials=self.principals.credentials(),
            region=self.config.region,
            clock=self.clock,
            authorize=self._authorize_call,
        )
        metrics = EmulatorMetrics(
            broker=self._broker.counters,
            control_plane=api.counters,
            jobs_mqtt=self.jobs_mqtt.counters,
            jobs_https=self._jobs_http.counters,
            jobs=self.jobs,
            loop_lag=self._lag.lag,
            throttles=MergedCounts(self.quotas.counters, self.api_quotas.throttles),
            iam_denials=(self.iam.denials, self._jobs_http.counters.iam_denials),
        )
        self._api = HttpsApiServer(
            api,
            certificate=self.fleet.server_cert_path,
            private_key=self.fleet.server_key_path,
            metrics=metrics.render,
        )
        api_port = await self._api.start(self.config.host, self.config.api_port)
        self._timers = asyncio.create_task(self._drive_jobs(), name="jobs-timers")
        url_host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return {
            "host": self.config.host,
            "mqtt_port": mqtt_port,
            "jobs_port": jobs_port,
            "api_url": f"https://{url_host}:{api_port}",
            "metrics_url": f"https://{url_host}:{api_port}/metrics",
            "region": self.config.region,
            "account_id": self.config.account_id,
            "access_key_id": self.credentials.access_key_id,
            "secret_access_key": self.credentials.secret_access_key,
            "ca_file": str(self.fleet.ca_cert_path.resolve()),
            "devices": len(self.fleet.devices),
            "state_dir": str(self.config.state_dir.resolve()),
            "pid": os.getpid(),
        }

    def _trust_registered(self, context: ssl.SSLContext) -> None:
        """A server's TLS (the broker's, the Jobs HTTPS API's) lets through what the registry
        holds (tls_trust.py), from now on as registration calls add to it."""
        trust = TlsTrust(context, [self.fleet.ca_cert_path.read_bytes()])
        for ca in self.registry.certificates.cas():
            trust.trust(ca.pem)
        for pem in self.store.pems_without_ca():
            trust.trust(pem)
        self._events.trusts.append(trust)

    def _authorize_call(self, call: ApiCall) -> None:
        """IAM first, then the API's rate quota: a refused call takes no token."""
        self.iam.authorize_call(call)
        self.api_quotas.admit(call.operation, self.clock.now())

    async def _drive_jobs(self) -> None:
        """Rollouts, timeouts, retries and aborts happen at their time even when no device
        speaks: wake at the next deadline (whole seconds), at least once a second."""
        while True:
            due = self.jobs.next_deadline()
            delay = 1.0 if due is None else min(1.0, max(0.0, due - self.clock.now()))
            await asyncio.sleep(delay)
            try:
                self.jobs.tick()
            except Exception:
                # One bad tick must not stop every later timer; it is logged with its cause.
                log.exception("jobs timer tick failed")

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("the emulator is not started")
        return self._broker

    async def close(self) -> None:
        await self._lag.close()
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
        if self._mqtt is not None:
            await self._mqtt.close()
        if self._jobs_http is not None:
            await self._jobs_http.close()
        if self._api is not None:
            await self._api.close()
        self.store.close()


async def serve(config: EmulatorConfig) -> None:
    """Run until SIGTERM or SIGINT; print the ready line on stdout once listening."""
    emulator = Emulator(config)
    try:
        ready = await emulator.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        registered = (
            f"{emulator.new_devices} new"
            if config.register_fleet
            else "not registered: --no-register-fleet"
        )
        log.info(
            "serving %d devices (%s): MQTT on %s:%d, Jobs HTTPS on port %d, control plane %s",
            ready["devices"], registered, config.host, ready["mqtt_port"],
            ready["jobs_port"], ready["api_url"],
        )  # fmt: skip
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await stop.wait()
        log.info("stopping")
    finally:
        await emulator.close()
