"""The control plane's certificate operations: CA certificates, device certificates (with a CA
or without one), their status, deletion and listing (issue #7; spec §5). What each refuses is
the registry's (certificate_book.py); this module reads the request and writes the answer.

Choices [U]:
- A registration without `status` is INACTIVE unless the deprecated `setAsActive` is true
  (AWS's documented default); `status` wins over `setAsActive`. Only ACTIVE, INACTIVE and
  REVOKED may be set at registration ("Valid values that you can use include ACTIVE, INACTIVE,
  and REVOKED", API reference); the other statuses are IoT's own.
- RegisterCACertificate's mode defaults to DEFAULT, as AWS's does; `allowAutoRegistration` is
  kept and answered (autoRegistrationStatus) but no device auto-registers;
  `registrationConfig` (just-in-time provisioning templates) is not implemented (501).
- Listings answer newest first unless `ascendingOrder` (creation date, per the API reference);
  certificate markers hold a position in the table, so a page stays right while certificates
  of earlier pages are deleted.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography import x509

from simfleet.emulator.control_base import ControlBase
from simfleet.emulator.control_shapes import (
    DEFAULT_PAGE_SIZE,
    MAX_RESULTS,
    check_enum,
    paginate,
    put,
    refuse_unsupported,
    timestamp,
)
from simfleet.emulator.errors import invalid_request
from simfleet.emulator.records import CaCertificate, Certificate, CertificateMode, CertificateStatus
from simfleet.emulator.tags import tag_map

_SETTABLE_STATUSES = ("ACTIVE", "INACTIVE", "REVOKED")  # UpdateCertificate and registrations
_CA_STATUSES = ("ACTIVE", "INACTIVE")
_AUTO_REGISTRATION = {"ENABLE": True, "DISABLE": False}
_MARKER = re.compile(r"r:[0-9]{1,19}")


class CertificateControl(ControlBase):
    # --- CA certificates -----------------------------------------------------------------

    def get_registration_code(self, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        return {"registrationCode": self.registration_code}

    def register_ca_certificate(
        self,
        *,
        caCertificate: str,
        verificationCertificate: str | None = None,
        setAsActive: bool | None = None,
        allowAutoRegistration: bool | None = None,
        registrationConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
        certificateMode: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported({**unsupported, "registrationConfig": registrationConfig})
        mode = check_enum(certificateMode, (m.value for m in CertificateMode), "certificateMode")
        checked_tags = tag_map(tags)
        with self._naming(lambda ca_id: self._arn("cacert", ca_id)):
            ca = self._registry.certificates.register_ca(
                caCertificate,
                verification_pem=verificationCertificate,
                mode=CertificateMode(mode or CertificateMode.DEFAULT.value),
                active=bool(setAsActive),
                auto_registration=bool(allowAutoRegistration),
                registration_code=self.registration_code,
            )
        arn = self._arn("cacert", ca.certificate_id)
        self._registry.tags.put(arn, checked_tags)
        return {"certificateArn": arn, "certificateId": ca.certificate_id}

    def describe_ca_certificate(
        self, *, certificateId: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        ca = self._registry.certificates.ca(certificateId)
        description = _ca_summary(ca, self._arn("cacert", ca.certificate_id))
        description.update(
            certificatePem=ca.pem.decode(),
            ownedBy=self.account_id,
            autoRegistrationStatus="ENABLE" if ca.auto_registration else "DISABLE",
            validity=_validity(ca.pem),
            certificateMode=ca.certificate_mode.value,
        )
        return {"certificateDescription": description}

    def update_ca_certificate(
        self,
        *,
        certificateId: str,
        newStatus: str | None = None,
        newAutoRegistrationStatus: str | None = None,
        registrationConfig: dict[str, Any] | None = None,
        removeAutoRegistration: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(
            {
                **unsupported,
                "registrationConfig": registrationConfig,
                "removeAutoRegistration": removeAutoRegistration or None,
            }
        )
        status = check_enum(newStatus, _CA_STATUSES, "newStatus")
        auto = check_enum(
            newAutoRegistrationStatus, _AUTO_REGISTRATION, "newAutoRegistrationStatus"
        )
        self._registry.certificates.update_ca(
            certificateId,
            status=None if status is None else CertificateStatus(status),
            auto_registration=None if auto is None else _AUTO_REGISTRATION[auto],
        )
        return {}

    def delete_ca_certificate(self, *, certificateId: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.certificates.delete_ca(certificateId)
        self._registry.tags.forget(self._arn("cacert", certificateId))
        return {}

    def list_ca_certificates(
        self,
        *,
        pageSize: int | None = None,
        marker: str | None = None,
        ascendingOrder: bool | None = None,
        templateName: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported({**unsupported, "templateName": templateName})
        cas = self._registry.certificates.cas()
        ordered = cas if ascendingOrder else cas[::-1]
        page, token = paginate(ordered, max_results=pageSize, next_token=marker)
        out: dict[str, Any] = {
            "certificates": [_ca_summary(ca, self._arn("cacert", ca.certificate_id)) for ca in page]
        }
        put(out, "nextMarker", token)
        return out

    # --- device certificates ----------------------------------------------------------------

    def register_certificate(
        self,
        *,
        certificatePem: str,
        caCertificatePem: str | None = None,
        setAsActive: bool | None = None,
        status: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        initial = _initial_status(status, setAsActive)
        with self._naming(lambda certificate_id: self._arn("cert", certificate_id)):
            added = self._registry.certificates.register(
                certificatePem, ca_pem=caCertificatePem, status=initial
            )
        return self._registered(added)

    def register_certificate_without_ca(
        self, *, certificatePem: str, status: str | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        initial = _initial_status(status, None)
        with self._naming(lambda certificate_id: self._arn("cert", certificate_id)):
            added = self._registry.certificates.register_without_ca(certificatePem, status=initial)
        return self._registered(added)

    def describe_certificate(self, *, certificateId: str, **unsupported: object) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        certificate = self._registry.certificate(certificateId)
        description = self._summary(certificate)
        description.update(
            certificatePem=certificate.pem.decode(),
            ownedBy=self.account_id,
            validity=_validity(certificate.pem),
        )
        put(description, "caCertificateId", certificate.ca_certificate_id)
        return {"certificateDescription": description}

    def update_certificate(
        self, *, certificateId: str, newStatus: str, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_enum(newStatus, _SETTABLE_STATUSES, "newStatus")
        self._registry.set_certificate_status(certificateId, CertificateStatus(newStatus))
        return {}

    def delete_certificate(
        self, *, certificateId: str, forceDelete: bool | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._registry.certificates.delete(certificateId, force=bool(forceDelete))
        return {}

    def list_certificates(
        self,
        *,
        pageSize: int | None = None,
        marker: str | None = None,
        ascendingOrder: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        return self._page(None, pageSize, marker, ascendingOrder)

    def list_certificates_by_ca(
        self,
        *,
        caCertificateId: str,
        pageSize: int | None = None,
        marker: str | None = None,
        ascendingOrder: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        return self._page(caCertificateId, pageSize, marker, ascendingOrder)

    # --- shapes -----------------------------------------------------------------------------

    def _registered(self, certificate: Certificate) -> dict[str, Any]:
        return {
            "certificateArn": self._arn("cert", certificate.certificate_id),
            "certificateId": certificate.certificate_id,
        }

    def _summary(self, certificate: Certificate) -> dict[str, Any]:
        """Certificate (the listings' shape); the mode is the CA's, SNI_ONLY without one."""
        mode = CertificateMode.SNI_ONLY
        ca_id = certificate.ca_certificate_id
        if ca_id is not None and self._registry.certificates.has_ca(ca_id):
            mode = self._registry.certificates.ca(ca_id).certificate_mode
        return {
            **self._registered(certificate),
            "status": certificate.status.value,
            "certificateMode": mode.value,
            "creationDate": timestamp(certificate.created_at),
        }

    def _page(
        self, ca_id: str | None, size: int | None, marker: str | None, ascending: bool | None
    ) -> dict[str, Any]:
        limit = DEFAULT_PAGE_SIZE if size is None else size
        if not 1 <= limit <= MAX_RESULTS:
            raise invalid_request(f"pageSize must be 1-{MAX_RESULTS}")
        rows = self._registry.certificates.page(
            after=None if marker is None else _row(marker),
            limit=limit + 1,
            ascending=bool(ascending),
            ca_certificate_id=ca_id,
        )
        out: dict[str, Any] = {"certificates": [self._summary(c) for _, c in rows[:limit]]}
        if len(rows) > limit:
            out["nextMarker"] = base64.b64encode(f"r:{rows[limit - 1][0]}".encode()).decode()
        return out


def _initial_status(status: str | None, set_as_active: bool | None) -> CertificateStatus:
    if status is not None:
        check_enum(status, _SETTABLE_STATUSES, "status")
        return CertificateStatus(status)
    return CertificateStatus.ACTIVE if set_as_active else CertificateStatus.INACTIVE


def _ca_summary(ca: CaCertificate, arn: str) -> dict[str, Any]:
    """CACertificate (ListCACertificates)."""
    return {
        "certificateArn": arn,
        "certificateId": ca.certificate_id,
        "status": ca.status.value,
        "creationDate": timestamp(ca.created_at),
    }


def _validity(pem: bytes) -> dict[str, Any]:
    certificate = x509.load_pem_x509_certificate(pem)
    return {
        "notBefore": certificate.not_valid_before_utc,
        "notAfter": certificate.not_valid_after_utc,
    }


def _row(marker: str) -> int:
    try:
        text = base64.b64decode(marker.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError):
        text = ""
    if not _MARKER.fullmatch(text):
        raise invalid_request("Invalid marker")
    return int(text[2:])
