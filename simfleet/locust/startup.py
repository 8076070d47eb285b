"""Start-up of the process that keeps the run's lease book (the local runner, or the master of a
distributed run): the fleet, the embedded emulator (no --host) or a TLS probe of the given
endpoints, the control plane, the identities. A worker starts from what its master sends
(`distributed.start_worker`), with `probe` and `operators` from here.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from locust.env import Environment

from certs_tool import Fleet
from simfleet.device import Reporter
from simfleet.locust.embedded import EmbeddedEmulator, create_run_group, prepare_fleet
from simfleet.locust.endpoints import MQTT_ALPN, Endpoints, probe_tls
from simfleet.locust.errors import ConfigError, ControlPlaneError, EndpointError
from simfleet.locust.events import api_reporter, locust_reporter
from simfleet.locust.identity import IdentityPool, open_fleet
from simfleet.locust.operator import ControlPlaneAccess, JobsOperator, iot_client
from simfleet.locust.options import RUN_GROUP, RunConfig
from simfleet.locust.run_state import Role, SimfleetRun

log = logging.getLogger("simfleet")

SETUP_ATTEMPTS = 10  # tries of each set-up call against the control plane's quotas


def roles_of(environment: Environment) -> set[Role | None]:
    return {getattr(cls, "role", None) for cls in environment.user_classes}


def devices_needed(environment: Environment, config: RunConfig) -> int:
    """How many devices the run uses (-u minus the Operator, or --fleet-size), once the
    options are checked against the locustfile's users."""
    options = environment.parsed_options
    num_users = getattr(options, "num_users", None)
    roles = roles_of(environment)
    fixed = sum(
        cls.fixed_count
        for cls in environment.user_classes
        if getattr(cls, "role", None) is Role.OPERATOR
    )
    return config.check_scenario(
        device_users=num_users - fixed if num_users else None,
        https=Role.HTTPS_DEVICE in roles,
        operator=Role.OPERATOR in roles,
    )


def start(environment: Environment) -> SimfleetRun:
    """The run of the local runner or master: `identities` is an `IdentityPool`, the book."""
    options = environment.parsed_options
    if options is None:  # Locust's main() always parses them; a library use may not
        raise ConfigError("simfleet needs Locust's parsed options (run it with `locust -f`)")
    config = RunConfig.from_options(options, now=datetime.now(UTC))
    roles = roles_of(environment)
    needed = devices_needed(environment, config)
    reporter = locust_reporter(environment.events.request)
    if config.embedded:
        return _start_embedded(environment, config, needed, roles, reporter)
    fleet = open_fleet(config.fleet_dir, needed)
    endpoints = _given_endpoints(config, fleet, operator=Role.OPERATOR in roles)
    probe(endpoints, fleet, config, roles)
    operator = quiet = None
    target_arn = None
    if Role.OPERATOR in roles:
        operator, quiet = operators(environment, iot_client(endpoints.control))
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
            operator, quiet = operators(environment, iot_client(endpoints.control))
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


def operators(environment: Environment, client: Any) -> tuple[JobsOperator, JobsOperator]:
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


def probe(endpoints: Endpoints, fleet: Fleet, config: RunConfig, roles: set[Role | None]) -> None:
    """One TLS handshake per endpoint the run's devices use, with the first device's files."""
    device = fleet.devices[0]
    cert, key = fleet.cert_path(device), fleet.key_path(device)
    if Role.MQTT_DEVICE in roles:
        alpn = MQTT_ALPN if config.mqtt_alpn or endpoints.mqtt.port == 443 else None
        probe_tls(endpoints.mqtt, what="the MQTT endpoint", ca_file=endpoints.ca_file,
                  cert_file=cert, key_file=key, alpn=alpn)  # fmt: skip
    if Role.HTTPS_DEVICE in roles and endpoints.jobs is not None:
        probe_tls(endpoints.jobs, what="the Jobs HTTPS endpoint", ca_file=endpoints.ca_file,
                  cert_file=cert, key_file=key)  # fmt: skip


def _ignore(_: object) -> None:
    """The reporter of set-up and summary calls: they are not part of the measured test."""
