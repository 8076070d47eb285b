"""The emulator's configuration: built once from the command line, frozen, passed down."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from simfleet.emulator.api_quotas import ApiQuotaConfig
from simfleet.emulator.quotas import QuotaConfig

DEFAULT_REGION = "us-east-1"
# AWS's documentation account id: obviously not a real account in ARNs and logs.
DEFAULT_ACCOUNT_ID = "123456789012"
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")


class ConfigError(ValueError):
    """A configuration value the emulator refuses; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    fleet_dir: Path
    state_dir: Path
    host: str = "127.0.0.1"
    mqtt_port: int = 8883
    jobs_port: int = 8443
    api_port: int = 0
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    iam_principals: Path | None = None  # None: only the ready line's administrator
    quotas: QuotaConfig = field(default_factory=QuotaConfig)  # AWS's values (spec §6)
    api_quotas: ApiQuotaConfig = field(default_factory=ApiQuotaConfig)  # per-API TPS, AWS's
    # False (--no-register-fleet): start with an empty registry, for registration through the
    # control plane (`certs-tool register`); the fleet still provides the server certificate.
    register_fleet: bool = True

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ConfigError(f"--host must be an IP address, not {self.host!r}") from None
        for name in ("mqtt_port", "jobs_port", "api_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"--{name.replace('_', '-')} must be 0-65535, not {port}")
        if not _REGION_RE.fullmatch(self.region):
            raise ConfigError(f"--region {self.region!r} does not look like an AWS region")
        if not re.fullmatch(r"[0-9]{12}", self.account_id):
            raise ConfigError(f"--account-id must be 12 digits, not {self.account_id!r}")
