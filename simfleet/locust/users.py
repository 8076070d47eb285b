"""The Locust users: one `MqttDevice` or `HttpsDevice` is one device of the fleet, and one
`Operator` rolls out jobs through the control plane.

`DeviceUser` builds a device from the run (an identity, a transport, the behaviour profile)
and runs its `DeviceAgent`; the concrete users only say which transport, and hold the tasks,
wait times and weights. Importing this module registers the run's options and listeners.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import ClassVar

if "locust" not in sys.modules:
    # Locust monkey-patches ssl and socket with gevent when it is imported; ssl imported before
    # that (by boto3, by simfleet.locust's own modules) breaks the patching.
    raise ImportError(
        "simfleet's Locust users run in a process Locust has patched: import locust before "
        "simfleet (`locust -f LOCUSTFILE` does)"
    )

import gevent  # type: ignore[import-untyped]
import locust
from locust import User, constant, task
from locust.exception import StopUser

from certs_tool import DeviceRecord
from simfleet.device.agent import DeviceAgent
from simfleet.device.errors import ConnectFailed
from simfleet.device.https import HttpsConfig, HttpsTransport
from simfleet.device.mqtt import MqttConfig, MqttTransport
from simfleet.device.tls import device_ssl_context
from simfleet.device.transport import JobsTransport
from simfleet.locust.errors import ControlPlaneError, FleetExhausted
from simfleet.locust.operator import JobPlanner
from simfleet.locust.options import JobPlan
from simfleet.locust.run import Role, SimfleetRun, end_test, install, run_of
from simfleet.locust.storm import connections_of

log = logging.getLogger("simfleet")

install(locust.events)

# One generator for every device of the process: a random.Random holds ~3 KB of state, 5 % of
# an idle device's budget, and a load run needs no per-device reproducibility (the agent's
# tests seed their own).
_RANDOM = random.Random()  # noqa: S311 - simulated behaviour, not secrets

STATUS_POLL = 2.0  # seconds between DescribeJob calls while waiting for jobs to end


class DeviceUser(User):
    """One simulated device with its own identity; `transport` says how it talks to Jobs."""

    abstract = True
    wait_time = constant(0)  # run_once() waits itself (for notifications, polls, steps)
    role: ClassVar[Role]

    def on_start(self) -> None:
        self._run: SimfleetRun = run_of(self.environment)
        self._agent: DeviceAgent | None = None
        self._device: DeviceRecord | None = None
        try:
            self._device = self._run.identities.lease()
        except FleetExhausted as exc:
            self._run.warn_once(f"{exc}; the users beyond the fleet stop")

    def on_stop(self) -> None:
        if self._agent is not None:
            self._agent.stop()
        if self._device is not None:
            connections_of(self.environment).leave(self._device.thing_name)
            self._run.identities.release(self._device)
            self._device = None

    @task
    def work(self) -> None:
        if self._device is None:
            raise StopUser  # no identity left for this user (reported once by on_start)
        if self._agent is None:
            self._agent = self._start_agent(self._device)
        else:
            self._agent.run_once()

    def _start_agent(self, device: DeviceRecord) -> DeviceAgent:
        run = self._run
        config = run.config
        rng = _RANDOM
        # Spread the connects so that their times measure the endpoint, not the spawn queue.
        gevent.sleep(rng.uniform(0.0, config.start_delay))
        try:
            transport = _transport(run, device, self.role)
        except ConnectFailed as exc:  # the credentials cannot be loaded
            run.warn_once(f"{device.thing_name}: {exc.reason}")
            raise StopUser from None
        connections_of(self.environment).enlist(transport)  # what a disconnect storm drops
        agent = DeviceAgent(
            transport,
            config.profile,
            rng=rng,
            sleep=gevent.sleep,
            wall_clock=time.time,
            monotonic=time.monotonic,
            report=run.reporter,
        )
        agent.start()
        return agent


class MqttDevice(DeviceUser):
    """A device on MQTT: notify-next pushes it work (or it polls, as its profile says)."""

    role = Role.MQTT_DEVICE


class HttpsDevice(DeviceUser):
    """A device on the Jobs HTTPS API: it polls, as AWS recommends for HTTPS devices."""

    role = Role.HTTPS_DEVICE


def _transport(run: SimfleetRun, device: DeviceRecord, role: Role) -> JobsTransport:
    """The device's connection, with its own TLS context (CA file, its cert and key only)."""
    endpoints = run.endpoints
    files = (endpoints.ca_file, run.fleet.cert_path(device), run.fleet.key_path(device))
    if role is Role.HTTPS_DEVICE:
        assert endpoints.jobs is not None  # check_scenario requires it for HTTPS devices
        return HttpsTransport(
            device.thing_name,
            config=HttpsConfig(host=endpoints.jobs.host, port=endpoints.jobs.port),
            ssl_context=device_ssl_context(*files),
            report=run.reporter,
        )
    mqtt = endpoints.mqtt
    return MqttTransport(  # client ID = thing name; ALPN on port 443 or with --mqtt-alpn
        device.thing_name,
        config=MqttConfig(host=mqtt.host, port=mqtt.port, alpn=run.config.mqtt_alpn),
        ssl_context=device_ssl_context(*files),
        report=run.reporter,
    )


class Operator(User):
    """Creates the run's jobs through the control plane, at --job-rate, up to --job-count,
    once every user has been spawned and the start delay has passed; with --stop-when-done it
    ends the run when every job is over. `-u` counts it: N devices are `-u N+1`."""

    fixed_count = 1
    wait_time = constant(1)
    role = Role.OPERATOR
    # The jobs' rollout rate when --rollout-max-per-minute is not given (None: no rollout).
    rollout_max_per_minute: ClassVar[int | None] = None

    def on_start(self) -> None:
        self._run: SimfleetRun = run_of(self.environment)
        self._planner: JobPlanner | None = None
        self._open: list[str] = []  # created, not seen finished
        self._next_check = 0.0

    @task
    def operate(self) -> None:
        run = self._run
        plan = run.config.plan
        operator = run.operator
        # The init listener sets both up when the locustfile has an Operator.
        assert operator is not None
        assert run.target_arn is not None
        if self._planner is None:
            run.spawned.wait()
            gevent.sleep(run.config.start_delay)
            self._planner = self.job_planner(plan, start=time.monotonic())
        for job_id in self._planner.due(time.monotonic()):
            try:
                operator.create_job(
                    job_id,
                    targets=[run.target_arn],
                    document=plan.document,
                    rollout_max_per_minute=(
                        plan.rollout_max_per_minute or self.rollout_max_per_minute
                    ),
                )
            except ControlPlaneError:
                continue  # a failure row of CreateJob says why
            run.job_created(job_id)
            self._open.append(job_id)
        if plan.stop_when_done and self._planner.done and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + STATUS_POLL
            self._stop_when_done()

    def job_planner(self, plan: JobPlan, *, start: float) -> JobPlanner:
        """When the jobs of `plan` fall due, from `start` (the soak's Operator: in waves)."""
        return JobPlanner(
            prefix=plan.prefix, count=plan.count, per_minute=plan.per_minute, start=start
        )

    def _stop_when_done(self) -> None:
        operator = self._run.operator
        assert operator is not None
        still_open = []
        for job_id in self._open:
            try:
                finished = operator.progress(job_id).finished
            except ControlPlaneError:
                finished = False  # a failure row of DescribeJob says why; ask again later
            if not finished:
                still_open.append(job_id)
        self._open = still_open
        if not still_open:
            log.info("every job of the run is over (--stop-when-done): stopping")
            # From another greenlet: stopping the runner stops every user, this one too.
            gevent.spawn(end_test, self.environment)


class RolloutOperator(Operator):
    """An Operator whose jobs roll out at 100 things a minute unless the options say else."""

    rollout_max_per_minute = 100
