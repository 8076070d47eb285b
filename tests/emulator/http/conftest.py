"""A real HTTPS control plane on 127.0.0.1:0 with the fleet's server certificate, served from an
event loop in a background thread so that blocking boto3 clients can call it."""

from __future__ import annotations

import asyncio
import http.client
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from simfleet.emulator.clock import ManualClock
from simfleet.emulator.http import HttpsApiServer, RestJsonApi, control_plane_api
from tests.conftest import MakeFleet
from tests.emulator.http.fakes import REGION, FakeControlPlane

KEY_ID = "AKIDSIMFLEETOPERATOR"
SECRET = "operator-secret-key/with+chars"
OTHER_KEY_ID = "AKIDSIMFLEETOTHER000"
OTHER_SECRET = "other-secret"
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class RawAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(kw_only=True)
class Running:
    port: int
    ca_file: str
    plane: FakeControlPlane
    api: RestJsonApi
    clock: ManualClock
    session: boto3.session.Session
    _clients: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, *, key_id: str = KEY_ID, secret: str = SECRET, region: str = REGION) -> Any:
        client = self.session.client(
            "iot",
            endpoint_url=self.url,
            verify=self.ca_file,
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            # No retry: botocore's `max_attempts` counts retries, `total_max_attempts` attempts.
            config=Config(retries={"total_max_attempts": 1}),
        )
        self._clients.append(client)
        return client

    def raw(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
        amz_date: str | None = None,
        send_target: str | None = None,
        send_body: bytes | None = None,
    ) -> RawAnswer:
        """One request over TLS with http.client, signed with botocore unless sign=False.

        `send_target` / `send_body` replace what was signed, to tamper with a signed request.
        """
        all_headers = dict(headers or {})
        if sign:
            request = AWSRequest(
                method=method, url=self.url + target, data=body, headers=all_headers
            )
            signer = SigV4Auth(Credentials(KEY_ID, SECRET), "iot", REGION)
            if amz_date is None:
                signer.add_auth(request)
            else:
                # A chosen signing time: the public steps, fed the timestamp add_auth would set.
                request.headers["X-Amz-Date"] = amz_date
                request.context["timestamp"] = amz_date
                signature = signer.signature(
                    signer.string_to_sign(request, signer.canonical_request(request)), request
                )
                request.headers["Authorization"] = (
                    f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
                    f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
                    f"Signature={signature}"
                )
            all_headers = dict(request.headers.items())
        context = ssl.create_default_context(cafile=self.ca_file)
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=10
        )
        try:
            connection.request(
                method,
                target if send_target is None else send_target,
                body=body if send_body is None else send_body,
                headers=all_headers,
            )
            response = connection.getresponse()
            return RawAnswer(
                status=response.status,
                headers={name.lower(): value for name, value in response.getheaders()},
                body=response.read(),
            )
        finally:
            connection.close()

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    # One session per module: it caches the loaded `iot` model across clients.
    return boto3.session.Session()


@pytest.fixture
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="http-test-loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def run(loop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)


@pytest.fixture
def running(
    make_fleet: MakeFleet,
    loop_thread: asyncio.AbstractEventLoop,
    boto_session: boto3.session.Session,
) -> Iterator[Running]:
    fleet = make_fleet(count=1)
    clock = ManualClock(time.time())
    plane = FakeControlPlane()
    api = control_plane_api(
        plane,
        credentials={KEY_ID: SECRET, OTHER_KEY_ID: OTHER_SECRET},
        region=REGION,
        clock=clock,
        max_body_bytes=MAX_BODY_BYTES,
    )
    server = HttpsApiServer(
        api, certificate=fleet.server_cert_path, private_key=fleet.server_key_path
    )
    port = run(loop_thread, server.start("127.0.0.1", 0))
    state = Running(
        port=port,
        ca_file=str(fleet.ca_cert_path),
        plane=plane,
        api=api,
        clock=clock,
        session=boto_session,
    )
    yield state
    state.close_clients()
    run(loop_thread, server.close())
