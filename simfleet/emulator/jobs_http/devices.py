"""Who a mutual-TLS caller is, and its compiled IoT Core policies (spec §2, §4, §5).

The principal is the registered certificate whose id is the SHA-256 of the verified peer DER;
only an ACTIVE one may call. Its policies are compiled with the HTTPS context (no client ID,
and thing variables do not resolve, spec §4) and kept, bounded, by certificate and source
address: `aws:SourceIp` may appear in a condition, so one address's decisions are not
another's. The registry hands out the same principal object until the certificate's status,
things or policies change, so a changed object recompiles (AWS takes minutes to apply policy
changes, spec §4; we apply them at the next call).

`can_call_jobs` remembers the Jobs calls a kept authorizer granted: compile_policies resolves
every variable and condition once, so its answer to the same (operation, thing) never changes.
A denial is asked again each time, so that every one is counted (spec §4).
"""

from __future__ import annotations

from collections import OrderedDict

from cryptography import x509

from certs_tool.authority import der_certificate_id
from simfleet.emulator.errors import AwsError
from simfleet.emulator.jobs_http.errors import certificate_refused
from simfleet.emulator.jobs_http.ports import Principal, PrincipalSource
from simfleet.emulator.policy import (
    Authorizer,
    DenialCounter,
    JobsApi,
    Protocol,
    compile_policies,
    context_from_certificate,
)

ACTIVE = "ACTIVE"
# Grants remembered per authorizer. A device calls on its own thing (a few operations); the
# bound only stops a principal whose policy allows `thing/*` from growing the set call by call.
MAX_GRANTS_PER_AUTHORIZER = 16


class DeviceAuthorizers:
    """`authorizer(der, source_ip)`: the Authorizer of a verified certificate, or the error."""

    def __init__(
        self,
        principals: PrincipalSource,
        *,
        region: str,
        account_id: str,
        denials: DenialCounter,
        max_entries: int,
    ) -> None:
        self._principals = principals
        self._region = region
        self._account_id = account_id
        self._denials = denials
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str | None], tuple[Principal, Authorizer]] = (
            OrderedDict()
        )
        # The grants of each authorizer in `_entries`, dropped with its entry.
        self._grants: dict[Authorizer, set[tuple[JobsApi, str]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def authorizer(
        self, certificate_der: bytes, source_ip: str | None, certificate_id: str | None = None
    ) -> Authorizer | AwsError:
        """`certificate_id`: the id of `certificate_der`, if the caller already has it (the
        server computes it once per connection); else it is computed here."""
        if certificate_id is None:
            certificate_id = der_certificate_id(certificate_der)
        principal = self._principals.principal(certificate_id)
        if principal is None:
            return certificate_refused(f"The certificate {certificate_id} is not registered.")
        if principal.status != ACTIVE:
            return certificate_refused(
                f"The certificate {certificate_id} is {principal.status}, not ACTIVE."
            )
        key = (certificate_id, source_ip)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is principal:
            self._entries.move_to_end(key)
            return entry[1]
        context = context_from_certificate(
            x509.load_der_x509_certificate(certificate_der),
            protocol=Protocol.HTTPS,
            region=self._region,
            account_id=self._account_id,
            attached_things=principal.things,
            source_ip=source_ip,
        )
        authorizer = compile_policies(principal.policies, context, denials=self._denials)
        if entry is not None:  # compiled for an older principal object: replaced
            del self._grants[entry[1]]
        self._entries[key] = (principal, authorizer)
        self._grants[authorizer] = set()
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            _, (_, evicted) = self._entries.popitem(last=False)
            del self._grants[evicted]
        return authorizer

    def can_call_jobs(self, authorizer: Authorizer, api: JobsApi, thing_name: str) -> bool:
        """`authorizer.can_call_jobs(api, thing_name)` for an authorizer this cache returned,
        a grant remembered while the authorizer is kept (the module docstring)."""
        grants = self._grants.get(authorizer)
        call = (api, thing_name)
        if grants is not None and call in grants:
            return True
        allowed = authorizer.can_call_jobs(api, thing_name)
        if allowed and grants is not None and len(grants) < MAX_GRANTS_PER_AUTHORIZER:
            grants.add(call)
        return allowed
