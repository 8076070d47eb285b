"""The policy engine's public API is what its __init__ exports, and only that."""

from __future__ import annotations

import ast
from pathlib import Path

import simfleet.emulator.policy as policy_engine

EXPECTED = {
    "Authorizer",
    "CertificateInfo",
    "DenialCounter",
    "InvalidContextError",
    "JobsApi",
    "PolicyEngineError",
    "PrincipalContext",
    "Protocol",
    "ThingIdentity",
    "certificate_info",
    "compile_policies",
    "context_from_certificate",
    "glob_matches",
}


def test_exported_members() -> None:
    assert set(policy_engine.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(policy_engine, name).__module__.startswith("simfleet.emulator.policy."), name


def test_sans_io_imports() -> None:
    # The engine runs inside the asyncio emulator but owns no I/O and no clock (style rule 2).
    forbidden = {"socket", "ssl", "asyncio", "threading", "time", "gevent", "paho", "httpx"}
    package = Path(policy_engine.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        roots = {name.split(".")[0] for name in imported}
        assert not roots & forbidden, (source.name, roots & forbidden)
