"""The HTTP layer's public API is what its __init__ exports; only the driver touches I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import simfleet.emulator.http as http_api

EXPECTED = {
    "DEFAULT_MAX_BODY_BYTES",
    "NOT_IMPLEMENTED",
    "ApiCall",
    "ApiRequest",
    "ApiResponse",
    "AuthorizeCall",
    "Caller",
    "HttpApiError",
    "HttpsApiServer",
    "RequestCounters",
    "ResponseShapeError",
    "RestJsonApi",
    "Router",
    "SigV4Verifier",
    "UnsupportedModelError",
    "control_plane_api",
    "server_ssl_context",
    "service_model",
}
_IO = {"socket", "ssl", "asyncio", "aiohttp", "threading", "time", "gevent", "paho", "httpx"}
DRIVERS = {"server.py", "web_server.py"}


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
    assert set(http_api.__all__) == EXPECTED
    for name in EXPECTED:
        value = getattr(http_api, name)
        if callable(value):
            assert value.__module__.startswith("simfleet.emulator.http."), name


def test_only_the_driver_does_io() -> None:
    # The pipeline (routing, SigV4, arguments, encoding) is sans-io and reads time only from
    # the injected Clock.
    package = Path(http_api.__file__).parent
    for source in package.glob("*.py"):
        if source.name not in DRIVERS:
            assert not (_imported_roots(source) & _IO), source.name
    assert {"aiohttp", "ssl"} <= _imported_roots(package / "server.py")
    assert {"aiohttp", "socket", "asyncio"} <= _imported_roots(package / "web_server.py")
