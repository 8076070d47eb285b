"""What the broker needs from the rest of the emulator, as structural types (docs/emulator.md).

The registry's frozen ``Principal`` dataclass and the ``JobsService`` satisfy these without
importing the broker; the asyncio loop is a ``Scheduler``; the TLS driver (``tls.py``), or a
test's in-memory fake, is a ``ClientTransport``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.policy import ThingIdentity
from simfleet.jobs import JobsTopic, MqttReply, UnknownJobsTopic


class Principal(Protocol):
    """A registered certificate: only an ACTIVE one may connect (spec §5)."""

    @property
    def status(self) -> str: ...

    @property
    def things(self) -> tuple[ThingIdentity, ...]: ...

    @property
    def policies(self) -> tuple[PolicyDocument, ...]: ...


class PrincipalSource(Protocol):
    def principal(self, certificate_id: str) -> Principal | None:
        """The principal of a certificate by its id (hex SHA-256 of its DER), if registered."""
        ...


class JobsHandler(Protocol):
    def handle_mqtt(self, topic: JobsTopic | UnknownJobsTopic, payload: bytes) -> MqttReply:
        """The reply for the requesting client only; notifications go out through the
        broker's ``publish_internal``."""
        ...


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs a callback after a delay in seconds; ``asyncio`` event loops are schedulers."""

    def call_later(self, delay: float, callback: Callable[[], object], /) -> Cancellable: ...


class ClientTransport(Protocol):
    """One client's byte stream, seen from the broker."""

    def write(self, data: bytes) -> None:
        """Queue ``data`` to the client; never blocks."""
        ...

    def close(self) -> None:
        """Send what was written, then close; the broker expects no more data afterwards."""
        ...

    def write_buffer_size(self) -> int:
        """Bytes written but not yet handed to the network."""
        ...

    def peer_certificate(self) -> bytes | None:
        """The DER of the client certificate TLS verified, None before the handshake ends."""
        ...

    def peer_address(self) -> str | None:
        """The client's IP address, for ``aws:SourceIp``."""
        ...
