"""`certs-tool`: a thin command line over the certs_tool library.

Every command parses its arguments, calls one library function, and prints what happened.
Library errors become one line on stderr and exit status 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from certs_tool.authority import init_fleet
from certs_tool.aws.commands import add_aws_commands
from certs_tool.errors import AwsInterrupted, CertsToolError, PassphraseError
from certs_tool.export import FORMATS, export_records
from certs_tool.fleet import FleetPaths, load_fleet, read_manifest, read_metadata
from certs_tool.fleet_policies import apply_policy_template
from certs_tool.keys import KeyType
from certs_tool.mint import DEFAULT_DAYS, DEFAULT_PREFIX, MintInterrupted, mint_devices
from certs_tool.policy import TEMPLATE_NAMES, Severity, lint_policy
from certs_tool.progress import Progress
from certs_tool.verify import report_json, verify_fleet

PASSPHRASE_ENV = "CERTS_TOOL_CA_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
DEFAULT_TEMPLATE = "jobs-all"
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except (MintInterrupted, AwsInterrupted) as exc:
        print(f"certs-tool: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CertsToolError as exc:
        print(f"certs-tool: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("certs-tool: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certs-tool",
        description="Mint per-device X.509 credentials and AWS IoT Core policies for a fleet.",
        epilog="Start with: certs-tool init fleet && certs-tool mint fleet --count 1000",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    key_types = [k.value for k in KeyType]

    init = commands.add_parser(
        "init", help="create the fleet CA, the emulator's server certificate and a policy"
    )
    init.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    init.add_argument(
        "--key-type",
        choices=key_types,
        default=KeyType.EC_P256.value,
        help="CA key type (default: %(default)s)",
    )
    init.add_argument("--name", help="fleet name, used in policy names (default: simfleet-<id>)")
    init.add_argument(
        "--encrypt-ca-key",
        action="store_true",
        help=f"encrypt the CA key with a passphrase from ${PASSPHRASE_ENV} or a prompt",
    )
    init.add_argument(
        "--template",
        choices=[*TEMPLATE_NAMES, "none"],
        default=DEFAULT_TEMPLATE,
        help="policy template the devices get (default: %(default)s)",
    )
    init.add_argument(
        "--force",
        action="store_true",
        help="replace an existing CA (and drop the devices minted under it)",
    )
    init.set_defaults(command=_init)

    mint = commands.add_parser("mint", help="mint device credentials (resumable, idempotent)")
    mint.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    mint.add_argument("--count", type=int, required=True, help="devices the fleet should hold")
    mint.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help="thing-name prefix; names are PREFIX000000, ... (default: %(default)s)",
    )
    mint.add_argument(
        "--key-type",
        choices=key_types,
        default=KeyType.EC_P256.value,
        help="device key type (default: %(default)s)",
    )
    mint.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help="certificate validity in days (default: %(default)s)",
    )
    mint.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per core)"
    )
    mint.add_argument(
        "--force", action="store_true", help="re-mint devices that already have valid credentials"
    )
    mint.set_defaults(command=_mint)

    policy = commands.add_parser("policy", help="write a least-privilege IoT policy for the fleet")
    policy.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    policy.add_argument(
        "--template",
        choices=TEMPLATE_NAMES,
        default=DEFAULT_TEMPLATE,
        help="(default: %(default)s)",
    )
    policy.add_argument("--region", default="*", help="AWS region in the ARNs (default: any)")
    policy.add_argument("--account", default="*", help="AWS account id in the ARNs (default: any)")
    policy.add_argument("--name", help="policy name (default: FLEETNAME-TEMPLATE)")
    policy.add_argument(
        "--add", action="store_true", help="add to the fleet's policies instead of replacing them"
    )
    policy.set_defaults(command=_policy)

    lint = commands.add_parser("lint", help="check an IoT Core policy for common mistakes")
    lint.add_argument("policy_file", type=Path, metavar="POLICY.json")
    lint.set_defaults(command=_lint)

    verify = commands.add_parser("verify", help="check every credential of a fleet")
    verify.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    verify.add_argument("--workers", type=int, default=None)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(command=_verify)

    export = commands.add_parser("export", help="print the device manifest as CSV or JSON lines")
    export.add_argument("fleet_dir", type=Path, metavar="FLEET_DIR")
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")
    export.set_defaults(command=_export)

    # register, cleanup, endpoint, iam-policy: AWS IoT itself (certs_tool/aws/commands.py).
    add_aws_commands(commands, _existing_passphrase)
    return parser


def _init(args: argparse.Namespace) -> int:
    passphrase = _new_passphrase() if args.encrypt_ca_key else None
    paths = FleetPaths(args.fleet_dir)
    if args.force and paths.manifest.exists():
        dropped = len(read_manifest(paths.manifest, tolerate_partial_tail=True).records)
        print(f"replacing the CA: dropping {dropped} devices minted under the old one")
    metadata = init_fleet(
        args.fleet_dir,
        key_type=KeyType(args.key_type),
        name=args.name,
        passphrase=passphrase,
        force=args.force,
    )
    print(
        f"created fleet {metadata.name!r} in {args.fleet_dir}: CA {paths.ca_cert}"
        f"{' (key encrypted)' if passphrase else ''}, server certificate {paths.server_cert}"
    )
    if args.template != "none":
        name = apply_policy_template(args.fleet_dir, args.template)
        print(f"policy {name} written to {paths.policy(name)}")
    print(f"next: certs-tool mint {args.fleet_dir} --count N")
    return 0


def _mint(args: argparse.Namespace) -> int:
    metadata = read_metadata(FleetPaths(args.fleet_dir))
    passphrase = _existing_passphrase() if metadata.ca_key_encrypted else None
    progress = Progress("minting", max(args.count, 0))
    try:
        report = mint_devices(
            args.fleet_dir,
            count=args.count,
            prefix=args.prefix,
            key_type=KeyType(args.key_type),
            days=args.days,
            workers=args.workers,
            force=args.force,
            passphrase=passphrase,
            on_progress=progress,
        )
    finally:
        progress.close()
    print(
        f"{args.fleet_dir}: {report.requested} devices {args.prefix}*: minted {report.minted} "
        f"in {report.seconds:.1f}s ({report.rate:,.0f}/s), kept {report.kept}, "
        f"recovered {report.adopted} from an interrupted run"
    )
    return 0


def _policy(args: argparse.Namespace) -> int:
    name = apply_policy_template(
        args.fleet_dir,
        args.template,
        region=args.region,
        account=args.account,
        name=args.name,
        add=args.add,
    )
    path = FleetPaths(args.fleet_dir).policy(name)
    print(f"policy {name} written to {path} and recorded on every device of the manifest")
    return 0


def _lint(args: argparse.Namespace) -> int:
    try:
        source = args.policy_file.read_bytes()
    except OSError as exc:
        raise CertsToolError(f"cannot read {args.policy_file}: {exc.strerror}") from None
    findings = lint_policy(source)
    for finding in findings:
        where = f"Statement[{finding.statement}]: " if finding.statement else ""
        print(
            f"{args.policy_file}: {finding.severity.value}: {where}{finding.message} "
            f"[{finding.code}]"
        )
    errors = sum(f.severity is Severity.ERROR for f in findings)
    print(f"{args.policy_file}: {errors} errors, {len(findings) - errors} warnings")
    return 1 if errors else 0


def _verify(args: argparse.Namespace) -> int:
    total = len(
        read_manifest(FleetPaths(args.fleet_dir).manifest, tolerate_partial_tail=True).records
    )
    progress = Progress("verifying", total, enabled=None if not args.json else False)
    try:
        report = verify_fleet(args.fleet_dir, workers=args.workers, on_progress=progress)
    finally:
        progress.close()
    if args.json:
        print(report_json(report))
    else:
        for problem in report.problems:
            print(problem)
        print(
            f"{args.fleet_dir}: {report.devices} devices checked, {report.errors} errors, "
            f"{report.warnings} warnings"
        )
    return 1 if report.errors else 0


def _export(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.fleet_dir)
    if args.output is None:
        export_records(fleet.devices, sys.stdout, args.format)
        return 0
    try:
        with args.output.open("w", encoding="utf-8", newline="") as out:
            export_records(fleet.devices, out, args.format)
    except OSError as exc:
        raise CertsToolError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"{len(fleet.devices)} devices written to {args.output}", file=sys.stderr)
    return 0


def _new_passphrase() -> bytes:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env.encode()
    if not sys.stdin.isatty():
        raise PassphraseError(f"set {PASSPHRASE_ENV} or run on a terminal to be asked")
    first = getpass.getpass("passphrase for the CA key: ")
    if not first:
        raise PassphraseError("the passphrase may not be empty")
    if getpass.getpass("again: ") != first:
        raise PassphraseError("the passphrases do not match")
    return first.encode()


def _existing_passphrase() -> bytes:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env.encode()
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"the CA key is encrypted: set {PASSPHRASE_ENV} or run on a terminal to be asked"
        )
    return getpass.getpass("passphrase for the CA key: ").encode()


if __name__ == "__main__":
    sys.exit(main())
