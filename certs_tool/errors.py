"""The errors certs_tool raises, one tree:

    CertsToolError                 anything certs-tool reports as a one-line message, exit 1
    ├── InvalidInputError          a bad name, count, option value or policy document
    ├── FleetError                 the fleet directory is missing, incomplete or inconsistent
    │   ├── ManifestError          a manifest line that cannot be read (carries the line number)
    │   └── AlreadyExistsError     something exists that only --force may replace
    ├── PassphraseError            the CA key's passphrase is missing or wrong
    └── StorageError               the disk refused a write (full, read-only, permission)

Library code raises these and never prints; the CLI turns them into `certs-tool: error: ...`
and a non-zero exit. Exceptions from the standard library or `cryptography` are translated where
they cross into certs_tool, once.
"""

from __future__ import annotations


class CertsToolError(Exception):
    """Base of every error certs_tool reports to its user."""


class InvalidInputError(CertsToolError):
    """A name, count, option value or document that certs_tool refuses."""


class FleetError(CertsToolError):
    """The fleet directory is missing, incomplete or inconsistent."""


class ManifestError(FleetError):
    """A manifest line that cannot be read."""

    def __init__(self, path: str, line_number: int, reason: str) -> None:
        super().__init__(f"{path}:{line_number}: {reason}")
        self.path = path
        self.line_number = line_number
        self.reason = reason


class AlreadyExistsError(FleetError):
    """Something exists that only an explicit --force may replace."""


class PassphraseError(CertsToolError):
    """The CA key's passphrase is missing or wrong."""


class StorageError(CertsToolError):
    """The disk refused a write: full, read-only or not permitted."""
