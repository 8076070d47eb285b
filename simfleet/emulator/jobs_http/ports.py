"""What the Jobs HTTPS API needs from the rest of the emulator, as structural types.

The registry's `Principal` and `Registry` and the `JobsService` satisfy these without importing
this package (docs/emulator.md, "Registry" and "Jobs service").
"""

from __future__ import annotations

from typing import Protocol

from certs_tool.policy.document import PolicyDocument
from simfleet.emulator.http import Caller
from simfleet.emulator.policy import ThingIdentity
from simfleet.jobs import JobsRequest
from simfleet.jobs.responses import Accepted


class Principal(Protocol):
    """A registered certificate; only an ACTIVE one may call (spec §5)."""

    @property
    def status(self) -> str: ...

    @property
    def things(self) -> tuple[ThingIdentity, ...]: ...

    @property
    def policies(self) -> tuple[PolicyDocument, ...]: ...


class PrincipalSource(Protocol):
    def principal(self, certificate_id: str) -> Principal | None:
        """The principal of a certificate by its id (hex SHA-256 of its DER), if registered.

        The same object is returned until the certificate's status, things or policies
        change: the API keeps a compiled authorizer while the object stays the same."""
        ...


class JobsHandler(Protocol):
    def handle_request(self, thing_name: str, request: JobsRequest) -> Accepted:
        """One decoded device request, answered by the Jobs core; raises JobsError."""
        ...


class Authorize(Protocol):
    def __call__(self, caller: Caller, action: str, resource: str) -> bool:
        """May this SigV4 caller do `action` (`iotjobsdata:UpdateJobExecution`) on `resource`
        (`arn:aws:iot:{region}:{account}:thing/{name}`)? The IAM seam (issue #4, item 4)."""
        ...


def allow_every_caller(caller: Caller, action: str, resource: str) -> bool:
    """The default until IAM policies are evaluated: a caller whose signature checked out (a
    known access key) may call anything."""
    del caller, action, resource
    return True
