"""CA and device certificates of the registry: registration (with a CA, without one), status,
deletion and listing, as AWS IoT answers them (spec §5).

`CertificateEvents` tells the rest of the emulator what changes on the wire: a certificate to
trust at TLS (a CA, or a certificate registered without one), and a certificate that may no
longer connect (its open MQTT connections are closed; docs/emulator.md, "Registration").

AWS's own messages where they are known: DeleteCertificate's "must be deactivated" (rebuy-de/
aws-nuke #374); "already provisioned or registered" and the first sentence of the
DeleteConflictException texts are moto's, which mirrors AWS. Choices [U]:
- A certificate already registered is refused before it is checked, so a client resuming a
  registration gets ResourceAlreadyExistsException (with its resourceId) for it, whatever
  the clock says since.
- RegisterCertificate: a caCertificatePem that is not registered is InvalidRequestException;
  a CA that is INACTIVE refuses new registrations with CertificateStateException; devices it
  signed earlier keep connecting (deactivating a CA does not revoke them: AWS Device Defender
  tells operators to revoke those separately).
- DeleteCACertificate is refused (CertificateStateException) while the CA is ACTIVE, as
  DeleteCertificate is, and while certificates it signed are registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import NameOID

from certs_tool.authority import certificate_id as certificate_id_of
from simfleet.emulator.attachments import Attachments
from simfleet.emulator.certificate_checks import (
    certificate_invalid,
    check_ca,
    check_usable,
    is_issued_by,
    load_certificate,
)
from simfleet.emulator.clock import Clock
from simfleet.emulator.errors import AwsError, already_exists, invalid_request, not_found
from simfleet.emulator.records import CaCertificate, Certificate, CertificateMode, CertificateStatus
from simfleet.emulator.store import Store

Forget = Callable[[str | None], None]  # a certificate's principal changed (None: every one)


class CertificateEvents(Protocol):
    def trust_certificate(self, pem: bytes) -> None:
        """A CA, or a certificate registered without one: devices presenting it (or one it
        signed) must get through TLS."""
        ...

    def deactivated(self, certificate_id: str) -> None:
        """A certificate left ACTIVE: close its open connections."""
        ...


class NoEvents:
    def trust_certificate(self, pem: bytes) -> None:
        """Nothing listens."""

    def deactivated(self, certificate_id: str) -> None:
        """Nothing listens."""


def certificate_state(message: str) -> AwsError:
    return AwsError("CertificateStateException", message, 406)


def _must_be_inactive(certificate_id: str) -> AwsError:
    return certificate_state(
        f"Certificate must be deactivated (not ACTIVE) before deletion. Id: {certificate_id}"
    )


class CertificateBook:
    def __init__(
        self,
        store: Store,
        attachments: Attachments,
        *,
        clock: Clock,
        forget: Forget,
        events: CertificateEvents | None = None,
    ) -> None:
        self._store = store
        self._attachments = attachments
        self._clock = clock
        self._forget = forget
        self.events: CertificateEvents = events or NoEvents()
        self._cas = {ca.certificate_id: ca for ca in store.ca_certificates()}
        self._parsed_cas: dict[str, x509.Certificate] = {}

    # --- CA certificates -----------------------------------------------------------------

    def ca(self, certificate_id: str) -> CaCertificate:
        found = self._cas.get(certificate_id)
        if found is None:
            raise not_found(f"CA certificate {certificate_id}")
        return found

    def cas(self) -> list[CaCertificate]:
        """Every CA certificate, in the order it was registered."""
        return list(self._cas.values())

    def has_ca(self, certificate_id: str) -> bool:
        return certificate_id in self._cas

    def remember_ca(self, ca: CaCertificate) -> None:
        """A CA register_fleet has stored."""
        self._cas[ca.certificate_id] = ca

    def register_ca(
        self,
        pem: str,
        *,
        verification_pem: str | None,
        mode: CertificateMode,
        active: bool,
        auto_registration: bool,
        registration_code: str,
    ) -> CaCertificate:
        """RegisterCACertificate. DEFAULT mode proves possession of the CA's key with a
        verification certificate it signed whose common name is the registration code;
        SNI_ONLY needs none (and ignores one given)."""
        certificate = load_certificate(pem)
        certificate_id = certificate_id_of(certificate)
        if certificate_id in self._cas:
            raise already_exists(
                "The CA certificate is already registered", resource_id=certificate_id
            )
        check_ca(certificate, self._clock.now())
        if mode is CertificateMode.DEFAULT:
            if verification_pem is None:
                raise invalid_request(
                    "A CA certificate registered in DEFAULT mode needs a verificationCertificate."
                )
            _check_verification(load_certificate(verification_pem), certificate, registration_code)
        ca = CaCertificate(
            certificate_id=certificate_id,
            pem=pem.encode(),
            status=CertificateStatus.ACTIVE if active else CertificateStatus.INACTIVE,
            created_at=self._clock.now(),
            certificate_mode=mode,
            auto_registration=auto_registration,
        )
        self._store.put_ca_certificate(ca)
        self._cas[certificate_id] = ca
        self.events.trust_certificate(ca.pem)
        return ca

    def update_ca(
        self,
        certificate_id: str,
        *,
        status: CertificateStatus | None = None,
        auto_registration: bool | None = None,
    ) -> CaCertificate:
        ca = self.ca(certificate_id)
        updated = CaCertificate(
            certificate_id=certificate_id,
            pem=ca.pem,
            status=ca.status if status is None else status,
            created_at=ca.created_at,
            certificate_mode=ca.certificate_mode,
            auto_registration=(
                ca.auto_registration if auto_registration is None else auto_registration
            ),
        )
        self._store.put_ca_certificate(updated)
        self._cas[certificate_id] = updated
        return updated

    def delete_ca(self, certificate_id: str) -> None:
        ca = self.ca(certificate_id)
        if ca.status is CertificateStatus.ACTIVE:
            raise _must_be_inactive(certificate_id)
        if self._store.signs_certificates(certificate_id):
            raise certificate_state(
                f"The CA certificate {certificate_id} cannot be deleted while certificates it "
                "signed are registered."
            )
        self._store.delete_ca_certificate(certificate_id)
        del self._cas[certificate_id]
        self._parsed_cas.pop(certificate_id, None)

    # --- device certificates ------------------------------------------------------------

    def certificate(self, certificate_id: str) -> Certificate:
        found = None
        if certificate_id in self._attachments:
            found = self._store.certificate(certificate_id)
        if found is None:
            raise not_found(f"certificate {certificate_id}")
        return found

    def register(self, pem: str, *, ca_pem: str | None, status: CertificateStatus) -> Certificate:
        """RegisterCertificate: signed by a registered CA, named or found by its issuer."""
        certificate = self._new(pem)
        ca_id = self._signing_ca(certificate, ca_pem)
        ca = self._cas[ca_id]
        if ca.status is not CertificateStatus.ACTIVE:
            raise certificate_state(f"The CA certificate {ca_id} is {ca.status.value}.")
        return self._add(certificate, pem, status, ca_id)

    def register_without_ca(self, pem: str, *, status: CertificateStatus) -> Certificate:
        """RegisterCertificateWithoutCA (multi-account registration: no CA involved)."""
        added = self._add(self._new(pem), pem, status, None)
        self.events.trust_certificate(added.pem)
        return added

    def set_status(self, certificate_id: str, status: CertificateStatus) -> None:
        """UpdateCertificate. A certificate that leaves ACTIVE loses its open connections, and
        its next CONNECT (or HTTPS Jobs request) is refused."""
        current = self.certificate(certificate_id)
        self._store.set_certificate_status(certificate_id, status)
        self._forget(certificate_id)
        if current.status is CertificateStatus.ACTIVE and status is not CertificateStatus.ACTIVE:
            self.events.deactivated(certificate_id)

    def delete(self, certificate_id: str, *, force: bool) -> None:
        """DeleteCertificate: not ACTIVE, no thing attached, and no policy unless forced."""
        certificate = self.certificate(certificate_id)
        if certificate.status is CertificateStatus.ACTIVE:
            raise _must_be_inactive(certificate_id)
        things = self._attachments.things_of(certificate_id)
        if things:
            raise AwsError(
                "DeleteConflictException",
                f"Things must be detached before deletion (thing: {things[0]})",
                409,
            )
        policies = self._attachments.policies_of(certificate_id)
        if policies and not force:
            raise AwsError(
                "DeleteConflictException",
                f"Certificate policies must be detached before deletion (policy: {policies[0]})",
                409,
            )
        with self._store.transaction():
            if policies:
                self._store.detach_policy(None, certificate_id)
            self._store.delete_certificate(certificate_id)
        self._attachments.remove_certificate(certificate_id)
        self._forget(certificate_id)

    def page(
        self, *, after: int | None, limit: int, ascending: bool, ca_certificate_id: str | None
    ) -> list[tuple[int, Certificate]]:
        return self._store.certificate_page(
            after=after, limit=limit, ascending=ascending, ca_certificate_id=ca_certificate_id
        )

    # --- internals -------------------------------------------------------------------------

    def _new(self, pem: str) -> x509.Certificate:
        certificate = load_certificate(pem)
        certificate_id = certificate_id_of(certificate)
        if certificate_id in self._attachments:
            raise already_exists(
                "The certificate is already provisioned or registered", resource_id=certificate_id
            )
        check_usable(certificate, self._clock.now())
        return certificate

    def _add(
        self,
        certificate: x509.Certificate,
        pem: str,
        status: CertificateStatus,
        ca_id: str | None,
    ) -> Certificate:
        added = Certificate(
            certificate_id=certificate_id_of(certificate),
            pem=pem.encode(),
            status=status,
            created_at=self._clock.now(),
            ca_certificate_id=ca_id,
        )
        self._store.add_certificates([added])
        self._attachments.add_certificates([added.certificate_id])
        self._forget(added.certificate_id)
        return added

    def _signing_ca(self, certificate: x509.Certificate, ca_pem: str | None) -> str:
        """The registered CA that signed `certificate`: the one named, or the only one found."""
        if ca_pem is not None:
            ca_certificate = load_certificate(ca_pem)
            ca_id = certificate_id_of(ca_certificate)
            if ca_id not in self._cas:
                raise invalid_request(f"The CA certificate {ca_id} is not registered.")
            if not is_issued_by(certificate, ca_certificate):
                raise certificate_invalid(f"The certificate is not signed by the CA {ca_id}.")
            return ca_id
        signers = [
            ca_id
            for ca_id in self._cas
            if self._parsed_ca(ca_id).subject == certificate.issuer
            and is_issued_by(certificate, self._parsed_ca(ca_id))
        ]
        if not signers:
            raise certificate_invalid(
                "The certificate is not signed by a registered CA certificate; register its CA "
                "first, or use RegisterCertificateWithoutCA."
            )
        if len(signers) > 1:
            raise AwsError(
                "CertificateConflictException",
                "Unable to verify the CA certificate used to sign the device certificate: "
                "several registered CA certificates have its issuer's subject and key; name it "
                "in caCertificatePem.",
                409,
            )
        return signers[0]

    def _parsed_ca(self, ca_id: str) -> x509.Certificate:
        parsed = self._parsed_cas.get(ca_id)
        if parsed is None:
            parsed = self._parsed_cas[ca_id] = x509.load_pem_x509_certificate(self._cas[ca_id].pem)
        return parsed


def _check_verification(
    verification: x509.Certificate, ca: x509.Certificate, registration_code: str
) -> None:
    if not is_issued_by(verification, ca):
        raise certificate_invalid("The verification certificate is not signed by the CA.")
    names = [a.value for a in verification.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [registration_code]:
        raise AwsError(
            "RegistrationCodeValidationException",
            "The verification certificate's common name is not this account's registration "
            "code (GetRegistrationCode).",
            400,
        )
