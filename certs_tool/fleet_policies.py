"""Writing IoT Core policy documents into a fleet and recording them on its devices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from certs_tool.files import PUBLIC, storage_errors, write_file_atomic
from certs_tool.fleet import (
    FleetPaths,
    read_manifest,
    read_metadata,
    write_manifest,
    write_metadata,
)
from certs_tool.policy import policy_name as template_policy_name
from certs_tool.policy import render_template, validate_policy_name


def apply_policy_template(
    root: Path,
    template: str,
    *,
    region: str = "*",
    account: str = "*",
    name: str | None = None,
    add: bool = False,
) -> str:
    """Write `template` as policies/<name>.json and make the fleet's devices carry it.

    Without `add` it replaces the fleet's policy list (the usual case: one policy serves every
    device); with `add` it joins the policies already there. Returns the policy name.
    """
    paths = FleetPaths(root)
    metadata = read_metadata(paths)
    document = render_template(template, region=region, account=account)
    policy_name = name or template_policy_name(template, metadata.name)
    validate_policy_name(policy_name)
    with storage_errors(paths.policies):
        paths.policies.mkdir(parents=True, exist_ok=True)
    write_file_atomic(paths.policy(policy_name), document.dumps().encode(), mode=PUBLIC)
    policies = tuple(dict.fromkeys((*metadata.policies, policy_name))) if add else (policy_name,)
    # Manifest first: a crash between the two writes leaves devices that already carry the new
    # list while fleet.json still has the old one, and the re-run converges both.
    manifest = read_manifest(paths.manifest)
    if any(r.policies != policies for r in manifest.records):
        write_manifest(paths.manifest, [replace(r, policies=policies) for r in manifest.records])
    if metadata.policies != policies:
        write_metadata(paths, replace(metadata, policies=policies))
    return policy_name
