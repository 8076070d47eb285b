"""One HTTP request and its answer as plain data, so that the API pipeline has no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote

QueryPairs = tuple[tuple[str, str], ...]


def parse_query(raw_query: str) -> QueryPairs:
    """Split and percent-decode a query string, keeping order, repeats and blank values.

    `+` stays a plus sign: SigV4 canonicalizes with RFC 3986 percent-encoding, where `+` is
    not a space (botocore sends a space as `%20`), so the signature check and the operation's
    arguments must read the query the same way.
    """
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return tuple(pairs)


@dataclass(frozen=True, kw_only=True)
class ApiRequest:
    """What the driver read off the wire.

    `target` is the request target exactly as sent (percent-encoded path and query): SigV4
    signs the encoded form. Header names are lower-case, each with all its values in order.
    `oversized` means the body went past the limit and was not read: `body` is then empty.
    `source_ip` is the peer's address when the driver knows it (IAM's `aws:SourceIp`).
    """

    method: str
    target: str
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    body: bytes = b""
    oversized: bool = False
    source_ip: str | None = None

    @classmethod
    def from_pairs(
        cls,
        *,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes = b"",
        oversized: bool = False,
        source_ip: str | None = None,
    ) -> ApiRequest:
        grouped: dict[str, tuple[str, ...]] = {}
        for name, value in headers:
            key = name.lower()
            grouped[key] = (*grouped.get(key, ()), value)
        return cls(
            method=method,
            target=target,
            headers=grouped,
            body=body,
            oversized=oversized,
            source_ip=source_ip,
        )

    @property
    def raw_path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def raw_query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """All values of a header joined with commas (RFC 9110 §5.3), or None if absent."""
        values = self.headers.get(name.lower())
        return None if values is None else ",".join(values)


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who signed a request: the access key id of one of the server's credential pairs."""

    access_key_id: str


@dataclass(frozen=True, kw_only=True)
class ApiCall:
    """A verified, routed call about to reach its target: what an authorizer judges.

    `service` is the model's name ("iot", "iot-jobs-data"), `operation` the model's operation
    name ("CancelJob"), `arguments` the keyword arguments the target will get.
    """

    caller: Caller
    service: str
    operation: str
    arguments: Mapping[str, object]
    source_ip: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApiResponse:
    """The answer to send, plus what the pipeline learned: the operation and who called.

    `operation` is the model's operation name, or None when no route matched.
    `outcome` is "ok" or the AWS error code sent.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: bytes = b""
    operation: str | None = None
    outcome: str = "ok"
    caller: Caller | None = None
