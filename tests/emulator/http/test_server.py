"""HttpsApiServer's life cycle on 127.0.0.1: ports, restarts, and closing idle connections."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import time

import pytest

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import HttpsApiServer, control_plane_api
from tests.conftest import MakeFleet
from tests.emulator.http.conftest import run


def _server(make_fleet: MakeFleet) -> tuple[HttpsApiServer, str]:
    fleet = make_fleet(count=1)
    api = control_plane_api(
        object(), credentials={"k": "s"}, region="us-east-1", clock=ManualClock(time.time())
    )
    server = HttpsApiServer(
        api, certificate=fleet.server_cert_path, private_key=fleet.server_key_path
    )
    return server, str(fleet.ca_cert_path)


def test_port_zero_picks_a_free_port(
    make_fleet: MakeFleet, loop_thread: asyncio.AbstractEventLoop
) -> None:
    server, _ = _server(make_fleet)
    with pytest.raises(RuntimeError):
        _ = server.port
    port = run(loop_thread, server.start("127.0.0.1", 0))
    try:
        assert port > 0
        assert server.port == port
        with pytest.raises(RuntimeError):
            run(loop_thread, server.start("127.0.0.1", 0))
    finally:
        run(loop_thread, server.close())
    run(loop_thread, server.close())  # idempotent


def test_a_busy_port_is_an_error(
    make_fleet: MakeFleet, loop_thread: asyncio.AbstractEventLoop
) -> None:
    server, _ = _server(make_fleet)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="ddress already in use"):
            run(loop_thread, server.start("127.0.0.1", taken.getsockname()[1]))


def test_close_ends_idle_keep_alive_connections(
    make_fleet: MakeFleet, loop_thread: asyncio.AbstractEventLoop
) -> None:
    server, ca_file = _server(make_fleet)
    port = run(loop_thread, server.start("127.0.0.1", 0))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl.create_default_context(cafile=ca_file), timeout=10
    )
    try:
        connection.request("GET", "/jobs")
        response = connection.getresponse()
        response.read()
        assert response.status == 403
        assert response.getheader("Connection") != "close"  # kept alive, now idle
        run(loop_thread, server.close())
        # The request may still be written into the dead socket; reading the answer fails.
        connection.request("GET", "/jobs")
        with pytest.raises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
            connection.getresponse()
    finally:
        connection.close()
