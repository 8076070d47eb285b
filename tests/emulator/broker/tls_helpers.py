"""A real broker server on 127.0.0.1 in a background event loop, and TLS test clients."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from certs_tool import DeviceRecord, Fleet
from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.broker import Broker, BrokerConfig, BrokerServer, ssl_context_for_fleet
from simfleet.emulator.clock import ManualClock, SystemClock
from simfleet.emulator.mqtt import Packet, PacketDecoder, encode
from tests.emulator.broker.helpers import FleetPrincipals, InMemoryJobs

T = TypeVar("T")


class RunningBroker:
    """``Broker`` + ``BrokerServer`` on their own loop thread; ``call`` runs code there."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        config: BrokerConfig | None = None,
        extra_policies: tuple[PolicyDocument, ...] = (),
    ) -> None:
        self.fleet = fleet
        self.principals = FleetPrincipals(fleet, extra_policies=extra_policies)
        self.jobs = InMemoryJobs(ManualClock())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def start() -> tuple[Broker, BrokerServer, int]:
            broker = Broker(
                principals=self.principals,
                jobs=self.jobs,
                clock=SystemClock(),
                scheduler=asyncio.get_running_loop(),
                config=config,
            )
            server = BrokerServer(broker)
            context = ssl_context_for_fleet(
                fleet.server_cert_path, fleet.server_key_path, fleet.ca_cert_path
            )
            return broker, server, await server.start("127.0.0.1", 0, context)

        self.broker, self._server, self.port = self._run(start())
        self.jobs.publish = self.broker.publish_internal

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[[], T]) -> T:
        """``function()`` run on the broker's loop, where the broker lives."""

        async def run() -> T:
            return function()

        return self._run(run())

    def counters(self) -> dict[str, int]:
        return self.call(self.broker.counters.snapshot)

    def close(self) -> None:
        self._run(self._server.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def client_context(
    fleet: Fleet, device: DeviceRecord | None, *, trust: Fleet | None = None
) -> ssl.SSLContext:
    """Trust ``trust``'s CA (default: ``fleet``'s) and present ``device``'s credential."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations((trust or fleet).ca_cert_path)
    if device is not None:
        context.load_cert_chain(fleet.cert_path(device), fleet.key_path(device))
    return context


class TlsClient:
    """A blocking MQTT client over a TLS socket, speaking through our own codec."""

    def __init__(
        self,
        port: int,
        context: ssl.SSLContext,
        *,
        alpn: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if alpn is not None:
            context.set_alpn_protocols([alpn])
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = context.wrap_socket(raw, server_hostname="localhost")
        except BaseException:
            raw.close()
            raise
        self._decoder = PacketDecoder(max_payload_size=1 << 20)

    def send(self, *packets: Packet) -> None:
        self.sock.sendall(b"".join(encode(p) for p in packets))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self) -> Packet | None:
        """The next packet, or None when the server closed the connection."""
        while True:
            packet = self._decoder.next_packet()
            if packet is not None:
                return packet
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self._decoder.feed(data)

    def recv_until_closed(self) -> list[Packet]:
        """Every packet until the server closes; raises TimeoutError if it does not."""
        packets = []
        while (packet := self.recv()) is not None:
            packets.append(packet)
        return packets

    def close(self) -> None:
        self.sock.close()
