"""A distributed run (`--processes N`, or `--master` and `--worker` on several machines): the
master keeps the run and its lease book, the workers run the users.

    master init: answers simfleet:hello ─ starts the run (fleet, embedded emulator, thing
                 group) ─ sends simfleet:setup to every worker that said hello ─ serves
                 leases; every RECONCILE_INTERVAL, frees the devices of workers Locust no
                 longer counts (quit, or missing past its heartbeat timeout) and gives up
                 requests that waited too long
    worker init: simfleet:hello (again every HELLO_INTERVAL) ─ waits for simfleet:setup ─
                 checks its fleet is the master's ─ builds its run (users lease through
                 `LeaseClient`); or refuses: simfleet:refused, Locust's quit, exit status 1

Messages besides the lease ones (`lease_client`):
    simfleet:hello     worker → master   {}
    simfleet:setup     master → worker   `RunSetup.to_message()`, or {"error": "..."} when the
                                          master could not start the run
    simfleet:refused   worker → master   {"reason": "..."}
    simfleet:job       worker → master   {"job_id": "..."}: its Operator created a job
    simfleet:end-test  worker → master   {}: --stop-when-done on the worker running the Operator

A worker whose users spawn before its set-up arrives (Locust starts the test once enough
workers are connected) holds them in `run.run_of` until its run is ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust.argument_parser import default_args_dict
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from simfleet.locust.errors import ConfigError, RunError
from simfleet.locust.events import locust_reporter
from simfleet.locust.identity import LOCAL, FleetFingerprint, IdentityPool
from simfleet.locust.lease_book import Grant
from simfleet.locust.lease_client import LEASE, LEASES, RELEASE, LeaseClient
from simfleet.locust.metrics_scrape import fetch_metrics, metrics_url, parse_metrics
from simfleet.locust.operator import iot_client
from simfleet.locust.options import RunConfig
from simfleet.locust.run_setup import RunSetup, absolute_ca, worker_endpoints, worker_fleet
from simfleet.locust.run_state import Role, SimfleetRun
from simfleet.locust.startup import devices_needed, operators, probe, roles_of

log = logging.getLogger("simfleet")

HELLO = "simfleet:hello"
SETUP = "simfleet:setup"
REFUSED = "simfleet:refused"
JOB = "simfleet:job"
END_TEST = "simfleet:end-test"
HELLO_INTERVAL = 5.0
# A master may mint a large fleet and fill its thing group (one call per device) first.
SETUP_TIMEOUT = 600.0
RECONCILE_INTERVAL = 1.0  # with lease_book.RECLAIM_DELAY, under lease_book.LEASE_WAIT
TAKEOVERS = "simfleet_mqtt_takeovers_total"


class MasterLink:
    """The master's side: answers workers' hellos once the run has started, then serves
    their leases from the run's book and takes their jobs and end-of-test requests."""

    def __init__(
        self,
        environment: Environment,
        runner: MasterRunner,
        *,
        end_test: Callable[[Environment], None],
    ) -> None:
        self._environment = environment
        self._runner = runner
        self._end_test = end_test
        self._setup: dict[str, Any] | None = None
        self._waiting: set[str] = set()
        # Registered before the run starts (which takes a while): a worker connects and says
        # hello meanwhile.
        runner.register_message(HELLO, self._on_hello)

    def started(self, run: SimfleetRun) -> None:
        """The run is up: serve leases, and send every worker the set-up."""
        pool = run.identities
        assert isinstance(pool, IdentityPool)  # startup.start's, on a master
        self._run = run
        self._book = pool.book
        runner = self._runner
        runner.register_message(LEASE, self._on_lease)
        runner.register_message(RELEASE, self._on_release)
        runner.register_message(JOB, self._on_job)
        runner.register_message(REFUSED, self._on_refused)
        # In a greenlet of its own: ending the test kills the runner's, the listener's too.
        runner.register_message(END_TEST, self._on_end_test, concurrent=True)
        runner.greenlet.spawn(self._keep)  # the runner's: it ends when the runner quits
        run.audit = self._audit
        self._setup = RunSetup(
            fleet_dir=run.fleet.root.resolve(),
            fingerprint=FleetFingerprint.of(run.fleet),
            needed=devices_needed(self._environment, run.config),
            endpoints=absolute_ca(run.endpoints),
            target_arn=run.target_arn,
            options=_run_options(self._environment),
        ).to_message()
        self._answer_waiting()

    def failed(self, reason: str) -> None:
        """The run did not start: every worker connected or waiting is told why."""
        self._setup = {"error": reason}
        self._waiting.update(self._runner.clients.keys())
        self._answer_waiting()

    def _answer_waiting(self) -> None:
        for worker in sorted(self._waiting):
            self._runner.send_message(SETUP, self._setup, client_id=worker)
        self._waiting.clear()

    def _on_hello(self, msg: Any, **_: Any) -> None:
        self._waiting.add(msg.node_id)
        if self._setup is not None:
            self._answer_waiting()

    def _on_lease(self, msg: Any, **_: Any) -> None:
        worker = msg.node_id
        request, count = int(msg.data["request"]), int(msg.data["count"])
        if worker not in self._runner.clients:
            # Its devices were reclaimed when Locust dropped it: its users may still run.
            self._send([Grant(holder=worker, request=request, devices=(), pending=0,
                              exhausted=count)],
                       reason="the master no longer counts this worker in the run (it went "
                       "missing): its users get no device")  # fmt: skip
            return
        self._send(self._book.request(worker, request, count, now=time.monotonic()))

    def _on_release(self, msg: Any, **_: Any) -> None:
        devices = [int(device) for device in msg.data["devices"]]
        self._send(self._book.release(msg.node_id, devices))

    def _on_job(self, msg: Any, **_: Any) -> None:
        self._run.job_created(str(msg.data["job_id"]))

    def _on_refused(self, msg: Any, **_: Any) -> None:
        log.error("worker %s does not take part in the run: %s", msg.node_id, msg.data["reason"])

    def _on_end_test(self, **_: Any) -> None:
        if self._runner.state not in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
            self._end_test(self._environment)

    def _keep(self) -> None:
        while True:
            gevent.sleep(RECONCILE_INTERVAL)
            live = {LOCAL, *self._runner.clients.keys()}
            grants, reclaimed = self._book.reconcile(live, time.monotonic())
            for worker, held in reclaimed.items():
                if held:
                    log.warning("worker %s is gone: its %d devices are free again", worker, held)
            self._send(grants)

    def _send(self, grants: list[Grant], *, reason: str | None = None) -> None:
        for grant in grants:
            data: dict[str, Any] = {
                "request": grant.request,
                "devices": list(grant.devices),
                "pending": grant.pending,
                "exhausted": grant.exhausted,
            }
            if reason is not None:
                data["reason"] = reason
            self._runner.send_message(LEASES, data, client_id=grant.holder)

    def _audit(self) -> list[str]:
        """The identity line of the summary: what the book handed out and, on the emulator,
        how many connections pushed off another with the same client ID (AWS's takeover)."""
        audit = self._book.audit()
        workers = len(audit.holders - {LOCAL})
        line = (
            f"identities: {audit.leases} leases of {audit.distinct} devices to the users of "
            f"{workers} workers, in {audit.requests} requests"
        )
        endpoints = self._run.endpoints
        if endpoints.control.api_url is not None:
            url = metrics_url(endpoints.control.api_url)
            try:
                metrics = parse_metrics(fetch_metrics(url, ca_file=endpoints.ca_file))
            except (OSError, ValueError) as exc:
                line += f"; client-ID takeovers not known ({url}: {exc})"
            else:
                if TAKEOVERS in metrics:
                    line += f"; client-ID takeovers on the emulator: {metrics[TAKEOVERS]:.0f}"
        return [line]


def start_worker(environment: Environment, runner: WorkerRunner) -> SimfleetRun:
    """The run of a worker, from its master's set-up; RunError (after telling the master)
    when it cannot take part."""
    link = _WorkerLink(runner)
    try:
        data = link.setup()
        if "error" in data:
            raise RunError(f"the master could not start the run: {data['error']}")
        try:
            return _worker_run(environment, runner, RunSetup.from_message(data), link)
        except RunError as exc:
            runner.send_message(REFUSED, {"reason": str(exc)})
            raise
    except RunError:
        runner.send_message("quit")  # Locust's own: the master forgets this worker at once
        raise


class _WorkerLink:
    def __init__(self, runner: WorkerRunner) -> None:
        self._runner = runner
        self._arrived = threading.Event()
        self._data: Mapping[str, Any] = {}
        self.client: LeaseClient | None = None
        runner.register_message(SETUP, self._on_setup)
        runner.register_message(LEASES, self._on_leases)

    def setup(self) -> Mapping[str, Any]:
        deadline = time.monotonic() + SETUP_TIMEOUT
        while True:
            self._runner.send_message(HELLO, {})
            if self._arrived.wait(HELLO_INTERVAL):
                return self._data
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the master sent no run set-up within {SETUP_TIMEOUT:g}s: does it run a "
                    "simfleet locustfile?"
                )
            log.info("waiting for the master to start the run")

    def _on_setup(self, msg: Any, **_: Any) -> None:
        self._data = msg.data
        self._arrived.set()

    def _on_leases(self, msg: Any, **_: Any) -> None:
        if self.client is not None:
            self.client.handle_grant(msg.data)


def _worker_run(
    environment: Environment, runner: WorkerRunner, setup: RunSetup, link: _WorkerLink
) -> SimfleetRun:
    own = environment.parsed_options
    fleet = worker_fleet(setup, _own_path(own, "fleet_dir"))
    endpoints = worker_endpoints(setup, fleet, _own_path(own, "ca_file"))
    # The master's options (Locust sends them with every spawn too), with this worker's paths.
    merged = {**setup.options, "fleet_dir": str(fleet.root), "ca_file": None}
    config = RunConfig.from_options(SimpleNamespace(**merged), now=datetime.now(UTC))
    roles = roles_of(environment)
    probe(endpoints, fleet, config, roles)
    operator = None
    if Role.OPERATOR in roles:
        operator, _ = operators(environment, iot_client(endpoints.control))
    client = LeaseClient(
        fleet.devices,
        send=runner.send_message,
        schedule=gevent.spawn_later,
    )
    link.client = client
    # At test stop, before the worker says it has stopped: the master then finds it holds
    # nothing, however soon the next test starts.
    hook: Any = environment.events.test_stop  # EventHook.add_listener is not annotated
    hook.add_listener(lambda **_: client.flush())
    run = SimfleetRun(
        config=config,
        fleet=fleet,
        endpoints=endpoints,
        identities=client,
        reporter=locust_reporter(environment.events.request),
        operator=operator,
        quiet_operator=None,  # the master sums the jobs up
        target_arn=setup.target_arn,
        emulator=None,
    )
    run.on_job = lambda job_id: runner.send_message(JOB, {"job_id": job_id})
    return run


def _run_options(environment: Environment) -> dict[str, Any]:
    """The master's options that are not Locust's own (simfleet's), and --host: what
    RunConfig is built from."""
    options = vars(environment.parsed_options or SimpleNamespace())
    defaults = default_args_dict()
    return {k: v for k, v in options.items() if k not in defaults or k == "host"}


def _own_path(options: Any, name: str) -> Path | None:
    value = getattr(options, name, None)
    return None if value is None or value == "" else Path(value)
