"""The package's public API is what its __init__ exports; only the driver touches I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from simfleet.emulator import jobs_http
from simfleet.emulator.jobs_http import JobsHttpConfig

EXPECTED = {
    "Authorize",
    "DeviceApi",
    "DeviceAuthorizers",
    "DeviceCall",
    "JobsDataTarget",
    "JobsHandler",
    "JobsHttpConfig",
    "JobsHttpCounters",
    "JobsHttpError",
    "JobsHttpServer",
    "PrincipalSource",
    "ServerStateError",
    "SigV4JobsApi",
    "SlimTlsSite",
    "allow_every_caller",
    "jobs_ssl_context",
}
_IO = {"socket", "ssl", "asyncio", "aiohttp", "threading", "time", "gevent", "paho", "httpx"}
DRIVERS = {"server.py", "tls.py"}


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
    assert set(jobs_http.__all__) == EXPECTED
    for name in EXPECTED:
        value = getattr(jobs_http, name)
        assert value.__module__.startswith("simfleet.emulator.jobs_http."), name


def test_only_the_driver_does_io() -> None:
    # Routing, authorization and encoding are sans-io; time comes from the injected Clock.
    # The drivers: server.py (aiohttp, on simfleet.emulator.http's TlsWebServer) and tls.py
    # (TLS context and site).
    package = Path(jobs_http.__file__).parent
    for source in package.glob("*.py"):
        if source.name not in DRIVERS:
            assert not (_imported_roots(source) & _IO), source.name
    assert {"aiohttp"} <= _imported_roots(package / "server.py")
    assert {"aiohttp", "ssl", "asyncio"} <= _imported_roots(package / "tls.py")


def test_config_refuses_nonsense() -> None:
    for field in ("max_body_bytes", "keepalive_timeout_seconds", "authorizer_cache_size"):
        with pytest.raises(ValueError, match=field):
            JobsHttpConfig(region="eu-west-1", account_id="111122223333", **{field: 0})
    with pytest.raises(ValueError, match="session_tickets"):
        JobsHttpConfig(region="eu-west-1", account_id="111122223333", session_tickets=-1)
    china = JobsHttpConfig(region="cn-north-1", account_id="111122223333")
    assert china.arn_prefix == "arn:aws-cn:iot:cn-north-1:111122223333:"
