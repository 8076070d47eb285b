"""Who a mutual-TLS caller is, and its compiled IoT Core policies (spec §2, §4, §5).

The principal is the registered certificate whose id is the SHA-256 of the verified peer DER;
only an ACTIVE one may call. Its policies are compiled with the HTTPS context (no client ID,
and thing variables do not resolve, spec §4) and kept, bounded, by certificate and source
address: `aws:SourceIp` may appear in a condition, so one address's decisions are not
another's. The registry hands out the same principal object until the certificate's status,
things or policies change, so a changed object recompiles (AWS takes minutes to apply policy
changes, spec §4; we apply them at the next call).
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
    Protocol,
    compile_policies,
    context_from_certificate,
)

ACTIVE = "ACTIVE"


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

    def __len__(self) -> int:
        return len(self._entries)

    def authorizer(self, certificate_der: bytes, source_ip: str | None) -> Authorizer | AwsError:
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
        self._entries[key] = (principal, authorizer)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return authorizer
