"""certs_tool: per-device X.509 credentials and AWS IoT Core policies for simulated fleets.

The library behind the `certs-tool` command. simfleet reads fleets through `load_fleet`.
"""

from certs_tool.authority import certificate_id, init_fleet, load_authority
from certs_tool.errors import (
    AlreadyExistsError,
    CertsToolError,
    FleetError,
    InvalidInputError,
    ManifestError,
    PassphraseError,
    StorageError,
)
from certs_tool.fleet import DeviceRecord, Fleet, FleetMetadata, FleetPaths, load_fleet
from certs_tool.fleet_policies import apply_policy_template
from certs_tool.keys import KeyType
from certs_tool.mint import MintInterrupted, MintReport, mint_devices
from certs_tool.verify import VerifyReport, verify_fleet

__all__ = [
    "AlreadyExistsError",
    "CertsToolError",
    "DeviceRecord",
    "Fleet",
    "FleetError",
    "FleetMetadata",
    "FleetPaths",
    "InvalidInputError",
    "KeyType",
    "ManifestError",
    "MintInterrupted",
    "MintReport",
    "PassphraseError",
    "StorageError",
    "VerifyReport",
    "apply_policy_template",
    "certificate_id",
    "init_fleet",
    "load_authority",
    "load_fleet",
    "mint_devices",
    "verify_fleet",
]
