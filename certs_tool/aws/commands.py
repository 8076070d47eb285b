"""The AWS subcommands of `certs-tool` (register, cleanup, endpoint, iam-policy): thin shells that
parse options, call this package's library functions and print what happened. certs_tool/cli.py
adds them with `add_aws_commands`; its `main` turns errors into one line and an exit status.

The modules that import boto3 (0.4 s) are imported by the commands that call AWS, not here, so
that `certs-tool mint` and the other local commands start as fast as before.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certs_tool.aws.iam_lint import lint_iam_policy
from certs_tool.aws.iam_policy import DEFAULT_PREFIX, OperatorScope, operator_policy_json
from certs_tool.aws.ratelimit import AWS_DEFAULT_RATES, parse_rates
from certs_tool.aws.runner import DEFAULT_WORKERS, Stopper
from certs_tool.errors import InvalidInputError
from certs_tool.files import PUBLIC, write_file_atomic
from certs_tool.fleet import load_fleet
from certs_tool.policy import Severity
from certs_tool.progress import Progress

if TYPE_CHECKING:
    from certs_tool.aws.caller import IotCaller
    from certs_tool.aws.cleanup import CleanupPlan

MODES = ("with-ca", "without-ca")  # register.RegisterMode's values
CA_MODES = {"sni-only": "SNI_ONLY", "default": "DEFAULT"}  # to register.CaMode's values
DEFAULT_IAM_OUTPUT = Path("simfleet-operator-iam-policy.json")
_LISTED = 3  # names shown per kind in a dry run before "and N more"


def add_aws_commands(commands: Any, read_passphrase: Callable[[], bytes]) -> None:
    """Add the subcommands to `commands` (argparse's subparsers); `read_passphrase()` asks for
    the CA key's passphrase as `mint` does (--ca-mode default signs with the CA key)."""
    register = commands.add_parser(
        "register", help="register the fleet with AWS IoT (resumable, within AWS's quotas)"
    )
    register.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    _target_options(register)
    register.add_argument(
        "--mode",
        choices=MODES,
        default=MODES[0],
        help="register the fleet CA, or each certificate without a CA (default: %(default)s)",
    )
    register.add_argument(
        "--ca-mode",
        choices=sorted(CA_MODES),
        default="sni-only",
        help="CA certificate mode; default proves the CA key (default: %(default)s)",
    )
    register.add_argument("--thing-group", help="also create this thing group and add every thing")
    _pace_options(register)
    register.set_defaults(command=_register, read_passphrase=read_passphrase)

    cleanup = commands.add_parser(
        "cleanup", help="remove from AWS IoT what register created (resumable)"
    )
    cleanup.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    _target_options(cleanup)
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list what would go; delete nothing"
    )
    cleanup.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    cleanup.add_argument("--prefix", help="only devices, groups and policies named PREFIX*")
    _pace_options(cleanup)
    cleanup.set_defaults(command=_cleanup)

    endpoint = commands.add_parser(
        "endpoint", help="print the account's device endpoints and the locust options for them"
    )
    _target_options(endpoint)
    endpoint.set_defaults(command=_endpoint)

    iam = commands.add_parser(
        "iam-policy", help="write the least-privilege IAM policy a load-test operator needs"
    )
    iam.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help="names of things, groups, policies and jobs start with it (default: %(default)s)",
    )
    iam.add_argument("--region", default="*", help="AWS region in the ARNs (default: any)")
    iam.add_argument("--account", default="*", help="AWS account id in the ARNs (default: any)")
    iam.add_argument(
        "--fleet", type=Path, metavar="FLEET_DIR", help="name its CA, check its names fit"
    )
    iam.add_argument("--output", "-o", type=Path, default=DEFAULT_IAM_OUTPUT)
    iam.set_defaults(command=_iam_policy)


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument(
        "--endpoint-url", help="another endpoint speaking AWS IoT's API (the emulator, moto)"
    )


def _pace_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="API=N",
        help="calls/s for an API if the account's quota differs from AWS's default "
        f"(e.g. RegisterCertificate={AWS_DEFAULT_RATES['RegisterCertificate'] * 2:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="concurrent calls (default: %(default)s)",
    )


def _caller(args: argparse.Namespace, stopper: Stopper) -> IotCaller:
    from certs_tool.aws.caller import paced_caller  # noqa: PLC0415 - boto3: see the docstring
    from certs_tool.aws.client import connect  # noqa: PLC0415

    rates = parse_rates(getattr(args, "rate", ()))
    workers = getattr(args, "workers", 1)
    client = connect(region=args.region, endpoint_url=args.endpoint_url, max_connections=workers)
    return paced_caller(client, stopper=stopper, rates=rates)


def _register(args: argparse.Namespace) -> int:
    from certs_tool.aws.register import (  # noqa: PLC0415 - boto3: see the docstring
        CaMode,
        RegisterMode,
        RegisterOptions,
        register_fleet,
    )

    ca_mode = CaMode(CA_MODES[args.ca_mode])
    fleet = load_fleet(args.fleet_dir)
    passphrase = (
        args.read_passphrase()
        if ca_mode is CaMode.DEFAULT and fleet.metadata.ca_key_encrypted
        else None
    )
    options = RegisterOptions(
        mode=RegisterMode(args.mode),
        ca_mode=ca_mode,
        thing_group=args.thing_group,
        workers=args.workers,
        passphrase=passphrase,
    )
    stopper = Stopper()
    caller = _caller(args, stopper)
    progress = Progress("registering", len(fleet.devices))
    try:
        report = register_fleet(
            args.fleet_dir, caller, options, stopper=stopper, on_progress=progress
        )
    finally:
        progress.close()
    print(
        f"{args.fleet_dir}: {report.devices} devices on {report.target}: registered "
        f"{report.registered} in {report.seconds:.1f}s ({report.rate:.1f}/s, quotas allow "
        f"{report.quota_rate:.1f}/s), kept {report.kept}; {report.calls} calls, "
        f"{report.retried} retried"
    )
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from certs_tool.aws.cleanup import cleanup_fleet, plan_cleanup  # noqa: PLC0415 - boto3

    stopper = Stopper()
    caller = _caller(args, stopper)
    plan = plan_cleanup(args.fleet_dir, caller.target, prefix=args.prefix)
    if plan.empty:
        print(f"{args.fleet_dir}: nothing of it is left on {plan.target}")
        return 0
    lines = _plan_lines(plan)
    if args.dry_run:
        print("\n".join(["dry run: cleanup would remove", *lines[1:]]))
        return 0
    if not args.yes and not _confirm(lines):
        print("cancelled: nothing was deleted")
        return 1
    progress = Progress("cleaning up", len(plan.devices))
    try:
        report = cleanup_fleet(
            args.fleet_dir,
            caller,
            workers=args.workers,
            stopper=stopper,
            prefix=args.prefix,
            on_progress=progress,
        )
    finally:
        progress.close()
    print(
        f"{args.fleet_dir}: removed {report.devices} devices, {report.groups} thing groups, "
        f"{report.policies} policies{' and the CA' if report.ca else ''} from {report.target} "
        f"in {report.seconds:.1f}s; {report.calls} calls, {report.retried} retried"
    )
    return 0


def _plan_lines(plan: CleanupPlan) -> list[str]:
    """What a cleanup removes, for the confirmation question and the dry run."""
    lines = [f"this removes from {plan.target}:"]
    kinds: Sequence[tuple[str, Sequence[str]]] = (
        ("certificates (deactivated, detached, deleted)", plan.certificates),
        ("things", plan.things),
        ("thing groups", plan.groups),
        ("policies", plan.policies),
        ("CA certificate", (plan.ca,) if plan.ca else ()),
    )
    for label, names in kinds:
        if names:
            shown = ", ".join(names[:_LISTED])
            more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
            lines.append(f"  {len(names)} {label}: {shown}{more}")
    if plan.kept_devices:
        lines.append(
            f"  (kept: {plan.kept_devices} devices not named with the prefix, and so the "
            "fleet's policies, thing groups and CA)"
        )
    return lines


def _confirm(lines: list[str]) -> bool:
    if not sys.stdin.isatty():
        raise InvalidInputError(
            "cleanup deletes from AWS and stdin is not a terminal to confirm on: "
            "pass --yes (see what goes with --dry-run)"
        )
    print("\n".join(lines))
    return input("delete all of this? [y/N] ").strip().lower() in ("y", "yes")


def _endpoint(args: argparse.Namespace) -> int:
    from certs_tool.aws.endpoint import describe_endpoints  # noqa: PLC0415 - boto3

    caller = _caller(args, Stopper())
    endpoints = describe_endpoints(caller)
    print(f"Data-ATS endpoint: {endpoints.data_ats}")
    print(f"Jobs endpoint:     {endpoints.jobs}")
    print(f"locust options:    {endpoints.locust_options()}")
    return 0


def _iam_policy(args: argparse.Namespace) -> int:
    ca_id = None
    if args.fleet is not None:
        fleet = load_fleet(args.fleet)
        ca_id = fleet.metadata.ca_certificate_id
        names = [d.thing_name for d in fleet.devices] + list(fleet.metadata.policies)
        outside = [n for n in names if not n.startswith(args.prefix)]
        if outside:
            raise InvalidInputError(
                f"{len(outside)} of the {len(names)} thing and policy names of {args.fleet} "
                f"do not start with --prefix {args.prefix!r} (first: {outside[0]}), so the "
                "policy would not cover them"
            )
    scope = OperatorScope(
        prefix=args.prefix, region=args.region, account=args.account, ca_certificate_id=ca_id
    )
    text = operator_policy_json(scope)
    write_file_atomic(args.output, text.encode(), mode=PUBLIC)
    findings = lint_iam_policy(text)
    for finding in findings:
        print(f"{args.output}: {finding}")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    print(f"{args.output}: IAM policy for {args.prefix}* written; {errors} errors, "
          f"{len(findings) - errors} warnings")  # fmt: skip
    return 1 if errors else 0
