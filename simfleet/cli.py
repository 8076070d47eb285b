"""`simfleet`: the command line of the simulator: `simfleet emulator`, `simfleet locust-options`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from certs_tool import CertsToolError
from simfleet import __version__
from simfleet.emulator.api_quotas import ApiQuotaConfig, parse_quota_spec
from simfleet.emulator.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, ConfigError, EmulatorConfig
from simfleet.emulator.quotas import Quota, QuotaConfig


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.command(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simfleet", description="Load-testing fleet simulator for AWS IoT Jobs."
    )
    parser.add_argument("--version", action="version", version=f"simfleet {__version__}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    emulator = commands.add_parser(
        "emulator",
        help="run a local AWS IoT Core (MQTT, Jobs, control plane) for a fleet",
        description="Serve a local AWS IoT Core for the devices of FLEET. Prints one JSON line "
        "with its endpoints and credentials when ready; stops on SIGTERM or SIGINT.",
    )
    emulator.add_argument("--fleet", type=Path, required=True, help="fleet directory (certs-tool)")
    emulator.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="where jobs, executions and the registry are kept (SQLite)",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    emulator.add_argument("--mqtt-port", type=int, default=8883, help="0 picks a free port")
    emulator.add_argument(
        "--jobs-port", type=int, default=8443,
        help="HTTPS Jobs device API port (device certificate or SigV4); 0 picks a free port",
    )  # fmt: skip
    emulator.add_argument(
        "--api-port", type=int, default=0, help="control-plane HTTPS port (default: a free port)"
    )
    emulator.add_argument(
        "--iam-principals", type=Path, metavar="FILE",
        help="IAM principals (access keys with IAM policies) for SigV4 callers; the ready "
        "line's administrator is always added (format: docs/emulator.md)",
    )  # fmt: skip
    emulator.add_argument(
        "--quotas", type=_quotas, default=(QuotaConfig(), ApiQuotaConfig()), metavar="SPEC",
        help="AWS IoT quotas to enforce: aws (default: AWS's defaults), off, or comma-separated "
        "changes such as jobs-writes=1000,connects-per-client-id=off,api:RegisterCertificate=50 "
        "(names: " + ", ".join(q.value for q in Quota) + ", burst-seconds; api=N|off for every "
        "control-plane API, api:NAME=N|off for one)",
    )  # fmt: skip
    emulator.add_argument(
        "--no-register-fleet", dest="register_fleet", action="store_false",
        help="start with an empty registry: no CA trusted, no device known until registration "
        "calls arrive on the control plane (certs-tool register); the fleet's server "
        "certificate still serves TLS",
    )  # fmt: skip
    emulator.add_argument("--region", default=DEFAULT_REGION)
    emulator.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    emulator.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    emulator.set_defaults(command=_emulator)
    options = commands.add_parser(
        "locust-options",
        help="print Locust's help with simfleet's options (locust -f ... --help cannot)",
        description="Locust prints --help before it loads a locustfile (locust#2917), so the "
        "options a locustfile registers never show there. This prints Locust's help as "
        "`locust -f locustfiles/jobs_mqtt.py --help` would with them.",
    )
    options.set_defaults(command=_locust_options)
    return parser


def _quotas(spec: str) -> tuple[QuotaConfig, ApiQuotaConfig]:
    try:
        return parse_quota_spec(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _emulator(args: argparse.Namespace) -> int:
    # Imported here: `simfleet --help` should not pay for aiohttp and botocore.
    from simfleet.emulator.app import serve  # noqa: PLC0415
    from simfleet.emulator.iam import IamError  # noqa: PLC0415
    from simfleet.emulator.store import StoreError  # noqa: PLC0415

    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    try:
        config = EmulatorConfig(
            fleet_dir=args.fleet, state_dir=args.state_dir, host=args.host,
            mqtt_port=args.mqtt_port, jobs_port=args.jobs_port, api_port=args.api_port,
            region=args.region, account_id=args.account_id, iam_principals=args.iam_principals,
            quotas=args.quotas[0], api_quotas=args.quotas[1], register_fleet=args.register_fleet,
        )  # fmt: skip
        asyncio.run(serve(config))
    except (ConfigError, CertsToolError, StoreError, IamError) as exc:
        print(f"simfleet emulator: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # Typically a port already in use, or an address this machine does not have.
        print(f"simfleet emulator: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _locust_options(_: argparse.Namespace) -> int:
    # Imported here: locust monkey-patches the process with gevent on import, which the
    # emulator command must never get.
    import locust  # noqa: PLC0415
    from locust.argument_parser import get_parser  # noqa: PLC0415

    from simfleet.locust.run import install  # noqa: PLC0415
    from simfleet.locust.soak_plan import add_soak_options  # noqa: PLC0415

    install(locust.events)
    # locustfiles/soak.py's options too (EventHook.add_listener is not annotated)
    locust.events.init_command_line_parser.add_listener(add_soak_options)  # type: ignore[no-untyped-call]
    get_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
