"""The run: what Locust's event listeners set up at start-up and tear down at the end.

    init              RunConfig from the options; the fleet; the embedded emulator (no --host)
                      or a TLS probe of the given endpoints; the control plane; the identities.
                      Any RunError: one line on stderr and exit status 1, before a user starts.
    test_start        the options the web UI may change (profile, start delay, job plan)
    spawning_complete lets the Operator start its jobs
    test_stop         the job summary, asked of the control plane while it still runs
    quit              prints the summary after Locust's stats, stops the emulator

Users find their run with `run_of(environment)`. Only a local runner is supported: the
identity pool is per process, and a distributed run (master and workers) needs one that leases
through the master, so that no two workers hand out the same device.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import boto3  # type: ignore[import-untyped]
from locust.env import Environment
from locust.event import Events
from locust.runners import LocalRunner, Runner

from certs_tool import Fleet
from simfleet.device import Reporter
from simfleet.locust.embedded import EmbeddedEmulator, create_run_group, prepare_fleet
from simfleet.locust.endpoints import MQTT_ALPN, Endpoints, probe_tls
from simfleet.locust.errors import ConfigError, ControlPlaneError, EndpointError, RunError
from simfleet.locust.events import api_reporter, locust_reporter
from simfleet.locust.identity import Identities, IdentityPool, open_fleet
from simfleet.locust.operator import ControlPlaneAccess, JobsOperator, iot_client
from simfleet.locust.options import RUN_GROUP, RunConfig, add_options
from simfleet.locust.summary import summary_line

log = logging.getLogger("simfleet")

SETUP_ATTEMPTS = 10  # tries of each set-up call against the control plane's quotas


class Role(Enum):
    """What a user class is to the run (set as `role` on the classes in `users`)."""

    MQTT_DEVICE = "MQTT"
    HTTPS_DEVICE = "HTTPS"
    OPERATOR = "operator"


class SimfleetRun:
    """The state one Locust process shares between its users and listeners."""

    def __init__(
        self,
        *,
        config: RunConfig,
        fleet: Fleet,
        endpoints: Endpoints,
        identities: Identities,
        reporter: Reporter,
        operator: JobsOperator | None,
        quiet_operator: JobsOperator | None,
        target_arn: str | None,
        emulator: EmbeddedEmulator | None,
    ) -> None:
        self.config = config
        self.fleet = fleet
        self.endpoints = endpoints
        self.identities = identities
        self.reporter = reporter
        self.operator = operator  # reports its calls as API rows
        self._quiet_operator = quiet_operator  # for the summary, after the test
        self.target_arn = target_arn
        self._emulator = emulator
        self.spawned = threading.Event()  # gevent's, once Locust has monkey-patched
        self.created_jobs: list[str] = []
        self._summary: list[str] = []
        self._warned: set[str] = set()

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.error("%s", message)

    def collect_summary(self) -> None:
        if self._quiet_operator is None or not self.created_jobs:
            return
        lines = []
        for job_id in self.created_jobs:
            try:
                lines.append(summary_line(self._quiet_operator.progress(job_id)))
            except ControlPlaneError as exc:
                lines.append(f"job {job_id}: no summary, DescribeJob failed: {exc}")
        self._summary = lines

    @property
    def summary(self) -> list[str]:
        """The job summary lines of the last test (one per job the Operator created)."""
        return list(self._summary)

    def print_summary(self) -> None:
        for line in self._summary:
            print(line)
        sys.stdout.flush()

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()


_RUNS: weakref.WeakKeyDictionary[Environment, SimfleetRun] = weakref.WeakKeyDictionary()


def run_of(environment: Environment) -> SimfleetRun:
    """The run of `environment`, set up by the init listener."""
    return _RUNS[environment]


def install(events: Events) -> None:
    """Register the options and the run's listeners on Locust's events."""
    listeners: list[tuple[Any, Callable[..., None]]] = [
        (events.init_command_line_parser, add_options),
        (events.init, _on_init),
        (events.test_start, _on_test_start),
        (events.spawning_complete, _on_spawning_complete),
        (events.test_stop, _on_test_stop),
        (events.quit, _on_quit),
    ]
    for hook, listener in listeners:  # EventHook.add_listener is not annotated
        hook.add_listener(listener)


def _on_init(environment: Environment, runner: Runner, **_: Any) -> None:
    try:
        if not isinstance(runner, LocalRunner):
            raise ConfigError(
                "simfleet runs one Locust process for now (no --processes, --master or "
                "--worker): its identity pool cannot yet keep workers' devices apart"
            )
        run = _start(environment)
    except RunError as exc:
        log.error("%s", exc)
        # Locust only logs an exception raised here; SystemExit is not caught, and stops the
        # process before any user starts.
        sys.exit(1)
    _RUNS[environment] = run
    # A run that ends without Locust's quit event (an error in Locust, a second Ctrl-C) still
    # stops its emulator; stop() is idempotent.
    atexit.register(run.close)


def _start(environment: Environment) -> SimfleetRun:
    options = environment.parsed_options
    if options is None:  # Locust's main() always parses them; a library use may not
        raise ConfigError("simfleet needs Locust's parsed options (run it with `locust -f`)")
    config = RunConfig.from_options(options, now=datetime.now(UTC))
    roles = {getattr(cls, "role", None) for cls in environment.user_classes}
    fixed = sum(
        cls.fixed_count
        for cls in environment.user_classes
        if getattr(cls, "role", None) is Role.OPERATOR
    )
    device_users = options.num_users - fixed if options.num_users else None
    needed = config.check_scenario(
        device_users=device_users,
        https=Role.HTTPS_DEVICE in roles,
        operator=Role.OPERATOR in roles,
    )
    reporter = locust_reporter(environment.events.request)
    if config.embedded:
        return _start_embedded(environment, config, needed, roles, reporter)
    fleet = open_fleet(config.fleet_dir, needed)
    endpoints = _given_endpoints(config, fleet, operator=Role.OPERATOR in roles)
    _probe(endpoints, fleet, config, roles)
    operator = quiet = None
    target_arn = None
    if Role.OPERATOR in roles:
        operator, quiet = _operators(environment, iot_client(endpoints.control))
        assert config.thing_group is not None  # check_scenario requires it with an Operator
        try:
            target_arn = quiet.thing_group_arn(config.thing_group)
        except ControlPlaneError as exc:
            raise EndpointError(
                f"the control plane refused DescribeThingGroup {config.thing_group}: {exc}"
            ) from None
    return SimfleetRun(
        config=config,
        fleet=fleet,
        endpoints=endpoints,
        identities=IdentityPool(fleet.devices),
        reporter=reporter,
        operator=operator,
        quiet_operator=quiet,
        target_arn=target_arn,
        emulator=None,
    )


def _start_embedded(
    environment: Environment,
    config: RunConfig,
    needed: int,
    roles: set[Role | None],
    reporter: Reporter,
) -> SimfleetRun:
    fleet = prepare_fleet(config.fleet_dir, needed)
    identities = IdentityPool(fleet.devices)
    emulator = EmbeddedEmulator(fleet, quotas=config.emulator_quotas)
    endpoints = Endpoints.from_ready_line(emulator.start())
    operator = quiet = None
    target_arn = None
    group = config.thing_group or RUN_GROUP
    try:
        # Only an Operator needs the group, and it costs one control-plane call per device.
        if Role.OPERATOR in roles:
            things = [device.thing_name for device in fleet.devices[:needed]]
            target_arn = create_run_group(
                iot_client(endpoints.control, attempts=SETUP_ATTEMPTS), group, things
            )
            operator, quiet = _operators(environment, iot_client(endpoints.control))
    except BaseException:
        emulator.stop()
        raise
    log.info(
        "embedded emulator: %d devices%s; MQTT %s, Jobs HTTPS %s",
        len(fleet.devices), f", the first {needed} in thing group {group}" if target_arn else "",
        endpoints.mqtt, endpoints.jobs,
    )  # fmt: skip
    environment.host = f"mqtts://{endpoints.mqtt}"
    return SimfleetRun(
        config=config,
        fleet=fleet,
        endpoints=endpoints,
        identities=identities,
        reporter=reporter,
        operator=operator,
        quiet_operator=quiet,
        target_arn=target_arn,
        emulator=emulator,
    )


def _operators(environment: Environment, client: Any) -> tuple[JobsOperator, JobsOperator]:
    """The Operator's (its calls are `API` rows) and the run's own, for set-up and the
    summary, which are not part of the measured test."""
    return (
        JobsOperator(client, report=api_reporter(environment.events.request)),
        JobsOperator(client, report=_ignore),
    )


def _given_endpoints(config: RunConfig, fleet: Fleet, *, operator: bool) -> Endpoints:
    assert config.mqtt is not None  # not embedded
    ca_file = config.ca_file or fleet.ca_cert_path
    region = config.region or boto3.session.Session().region_name
    if operator and region is None:
        raise ConfigError(
            "the Operator needs the control plane's region: give --region (or set AWS_REGION)"
        )
    return Endpoints(
        mqtt=config.mqtt,
        jobs=config.jobs,
        ca_file=ca_file,
        control=ControlPlaneAccess(
            region=region,
            api_url=config.api_url,
            # The emulator's control plane has the fleet's certificate; AWS's a public one.
            verify=str(ca_file) if config.api_url else True,
        ),
    )


def _probe(endpoints: Endpoints, fleet: Fleet, config: RunConfig, roles: set[Role | None]) -> None:
    device = fleet.devices[0]
    cert, key = fleet.cert_path(device), fleet.key_path(device)
    if Role.MQTT_DEVICE in roles:
        alpn = MQTT_ALPN if config.mqtt_alpn or endpoints.mqtt.port == 443 else None
        probe_tls(endpoints.mqtt, what="the MQTT endpoint", ca_file=endpoints.ca_file,
                  cert_file=cert, key_file=key, alpn=alpn)  # fmt: skip
    if Role.HTTPS_DEVICE in roles and endpoints.jobs is not None:
        probe_tls(endpoints.jobs, what="the Jobs HTTPS endpoint", ca_file=endpoints.ca_file,
                  cert_file=cert, key_file=key)  # fmt: skip


def _on_test_start(environment: Environment, **_: Any) -> None:
    run = _RUNS.get(environment)
    if run is None:
        return
    run.spawned.clear()
    try:
        run.config = run.config.for_test(environment.parsed_options, now=datetime.now(UTC))
    except ConfigError as exc:
        log.error("%s; this test keeps the previous settings", exc)


def _on_spawning_complete(user_count: int, **_: Any) -> None:
    del user_count
    for run in list(_RUNS.values()):
        run.spawned.set()


def _on_test_stop(environment: Environment, **_: Any) -> None:
    run = _RUNS.get(environment)
    if run is not None:
        run.collect_summary()
        if not _headless(environment):
            # The web UI stays up for the next test: say now how this one's jobs went.
            for line in run.summary:
                log.info("%s", line)


def _headless(environment: Environment) -> bool:
    options = environment.parsed_options
    return bool(options is not None and options.headless)


def end_test(environment: Environment) -> None:
    """What --stop-when-done does: quit a headless run; in the web UI, stop the test only."""
    runner = environment.runner
    if runner is None:
        return
    if _headless(environment):
        runner.quit()
    else:
        runner.stop()


def _on_quit(exit_code: int, **_: Any) -> None:
    del exit_code
    for run in list(_RUNS.values()):
        run.print_summary()
        run.close()


def _ignore(_: object) -> None:
    """The reporter of set-up and summary calls: they are not part of the measured test."""
