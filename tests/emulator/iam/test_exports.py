"""The package's public API is what its __init__ exports; nothing in it does I/O but reading
the principals file."""

from __future__ import annotations

import ast
from pathlib import Path

from simfleet.emulator import iam

EXPECTED = {
    "ALLOW_ALL",
    "Decision",
    "Effect",
    "IamAuthorizer",
    "IamError",
    "IamPolicy",
    "IamPrincipal",
    "IamStatement",
    "PolicyDocumentError",
    "PrincipalError",
    "Principals",
    "PrincipalsFileError",
    "RequestedCall",
    "Version",
    "administrator",
    "load_principals",
    "parse_iam_policy",
    "parse_principals",
    "requested_call",
}
_IO = {"socket", "ssl", "asyncio", "aiohttp", "threading", "time", "gevent", "paho", "httpx"}


def _imported_roots(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return {name.split(".")[0] for name in names}


def test_exported_members() -> None:
    assert set(iam.__all__) == EXPECTED
    for name in EXPECTED:
        value = getattr(iam, name)
        if isinstance(value, type) or callable(value):
            assert value.__module__.startswith("simfleet.emulator.iam."), name


def test_no_module_does_io() -> None:
    for source in Path(iam.__file__).parent.glob("*.py"):
        assert not (_imported_roots(source) & _IO), source.name
