"""The emulator's state as records: what the store persists and the registry and jobs service
keep in memory. Frozen, slotted (a fleet holds 100k certificates and things), times in epoch
seconds. Job executions are `simfleet.jobs.ExecutionRecord`, shared with the Jobs protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class CertificateStatus(enum.StrEnum):
    """A certificate's status (botocore `CertificateStatus`); only ACTIVE connects (spec §5)."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    REVOKED = "REVOKED"
    PENDING_TRANSFER = "PENDING_TRANSFER"
    REGISTER_INACTIVE = "REGISTER_INACTIVE"
    PENDING_ACTIVATION = "PENDING_ACTIVATION"


class CertificateMode(enum.StrEnum):
    """How devices present a CA's certificates (botocore `CertificateMode`): DEFAULT needs the
    CA's verification certificate at registration, SNI_ONLY does not (the emulator serves both
    alike: it does not check SNI)."""

    DEFAULT = "DEFAULT"
    SNI_ONLY = "SNI_ONLY"


class JobStatus(enum.StrEnum):
    """A job's status (botocore `JobStatus`, spec §3)."""

    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"
    SCHEDULED = "SCHEDULED"


class TargetSelection(enum.StrEnum):
    SNAPSHOT = "SNAPSHOT"
    CONTINUOUS = "CONTINUOUS"


@dataclass(frozen=True, kw_only=True, slots=True)
class CaCertificate:
    certificate_id: str  # hex SHA-256 of the DER, as for device certificates (spec §5)
    pem: bytes
    status: CertificateStatus
    created_at: float
    # register_fleet registers the fleet CA as `certs-tool register` does by default.
    certificate_mode: CertificateMode = CertificateMode.SNI_ONLY
    auto_registration: bool = False  # accepted and answered; no device auto-registers


@dataclass(frozen=True, kw_only=True, slots=True)
class Certificate:
    """A device certificate. The registry reads it from the store when it is asked for (at a
    device's first CONNECT): 100k PEMs are 70 MB that an idle fleet never reads."""

    certificate_id: str
    pem: bytes
    status: CertificateStatus
    created_at: float
    ca_certificate_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Thing:
    name: str
    thing_id: str
    type_name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    version: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class ThingGroup:
    name: str
    group_id: str
    created_at: float
    parent: str | None = None
    description: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    version: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    name: str
    document: str  # the JSON text as given (GetPolicy answers it unchanged)
    default_version: str = "1"


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A job as CreateJob made it, and what has happened to it since.

    `config` holds the CreateJob members that drive executions after queueing (rollout, abort,
    timeout, retry: part 2 of the emulator), stored as given so a restart keeps them.
    """

    job_id: str
    document: str  # the JSON text as given; GetJobDocument answers it unchanged
    targets: tuple[str, ...]
    created_at: int
    last_updated_at: int
    status: JobStatus = JobStatus.IN_PROGRESS
    target_selection: TargetSelection = TargetSelection.SNAPSHOT
    description: str | None = None
    completed_at: int | None = None
    force_canceled: bool = False
    reason_code: str | None = None
    comment: str | None = None
    config: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
