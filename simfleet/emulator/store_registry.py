"""The store's rows for registration and clean-up through the control plane (issue #7):
deletions, pages of certificates that keep their place, and tags. A base class of `Store`,
which owns the connection and the schema (store.py, version 3); split out to keep that module
small. The same rules hold: the event-loop thread only, autocommit unless in a transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from simfleet.emulator.records import Certificate, CertificateStatus

# The indexes a deletion from a pair table needs (created on first use: store.py).
_PAIR_INDEXES: Final = {
    "thing_principals": "CREATE INDEX IF NOT EXISTS thing_principals_certificate"
    " ON thing_principals (certificate_id)",
    "policy_targets": "CREATE INDEX IF NOT EXISTS policy_targets_certificate"
    " ON policy_targets (certificate_id)",
    "thing_group_members": "CREATE INDEX IF NOT EXISTS thing_group_members_thing"
    " ON thing_group_members (thing_name)",
}

_PAGE: Final = (
    "SELECT rowid, certificate_id, pem, status, created_at, ca_certificate_id FROM certificates"
    " WHERE rowid {} ? AND (? IS NULL OR ca_certificate_id = ?) ORDER BY rowid {} LIMIT ?"
)
_PAGE_ASCENDING: Final = _PAGE.format(">", "ASC")
_PAGE_DESCENDING: Final = _PAGE.format("<", "DESC")
_LAST_ROWID: Final = 2**63 - 1


class RegistryRows:
    """Registry writes and reads beyond those fleet registration needs."""

    _db: sqlite3.Connection
    _indexed: set[str]  # pair tables whose deletion index exists

    def delete_ca_certificate(self, certificate_id: str) -> None:
        self._db.execute("DELETE FROM ca_certificates WHERE certificate_id=?", (certificate_id,))

    def delete_certificate(self, certificate_id: str) -> None:
        self._db.execute("DELETE FROM certificates WHERE certificate_id=?", (certificate_id,))

    def certificate_page(
        self, *, after: int | None, limit: int, ascending: bool, ca_certificate_id: str | None
    ) -> list[tuple[int, Certificate]]:
        """Up to `limit` certificates past the row `after` (None: from the first), in creation
        order or its reverse, each with its row number (the key of the next page): a listing
        that keeps its place while certificates are deleted (ListCertificates, ...ByCA)."""
        query = _PAGE_ASCENDING if ascending else _PAGE_DESCENDING
        start = after if after is not None else (0 if ascending else _LAST_ROWID)
        rows = self._db.execute(query, (start, ca_certificate_id, ca_certificate_id, limit))
        return [
            (
                row[0],
                Certificate(
                    certificate_id=row[1],
                    pem=bytes(row[2]),
                    status=CertificateStatus(row[3]),
                    created_at=row[4],
                    ca_certificate_id=row[5],
                ),
            )
            for row in rows
        ]

    def signs_certificates(self, ca_certificate_id: str) -> bool:
        """Whether a registered certificate names this CA (DeleteCACertificate refuses then)."""
        row = self._db.execute(
            "SELECT 1 FROM certificates WHERE ca_certificate_id=? LIMIT 1", (ca_certificate_id,)
        ).fetchone()
        return row is not None

    def pems_without_ca(self) -> Iterator[bytes]:
        """The PEMs of the certificates registered without a CA (the broker's TLS trusts
        their issuers)."""
        for (pem,) in self._db.execute(
            "SELECT pem FROM certificates WHERE ca_certificate_id IS NULL"
        ):
            yield bytes(pem)

    def delete_thing(self, name: str) -> None:
        """DeleteThing: the thing and its group memberships (its principals are detached)."""
        self._index("thing_group_members")
        self._db.execute("DELETE FROM thing_group_members WHERE thing_name=?", (name,))
        self._db.execute("DELETE FROM things WHERE name=?", (name,))

    def remove_membership(self, group: str, thing: str) -> None:
        self._index("thing_group_members")
        self._db.execute(
            "DELETE FROM thing_group_members WHERE thing_name=? AND group_name=?", (thing, group)
        )

    def delete_thing_group(self, name: str) -> None:
        """DeleteThingGroup: the group and its memberships (its things stay)."""
        self._db.execute("DELETE FROM thing_group_members WHERE group_name=?", (name,))
        self._db.execute("DELETE FROM thing_groups WHERE name=?", (name,))

    def delete_policy(self, name: str) -> None:
        self._db.execute("DELETE FROM policies WHERE name=?", (name,))

    def detach_thing_principal(self, thing: str, certificate_id: str) -> None:
        self._index("thing_principals")
        self._db.execute(
            "DELETE FROM thing_principals WHERE certificate_id=? AND thing_name=?",
            (certificate_id, thing),
        )

    def detach_policy(self, policy: str | None, certificate_id: str) -> None:
        """DetachPolicy; with no policy name (None), every policy of the certificate."""
        self._index("policy_targets")
        if policy is None:
            self._db.execute("DELETE FROM policy_targets WHERE certificate_id=?", (certificate_id,))
        else:
            self._db.execute(
                "DELETE FROM policy_targets WHERE certificate_id=? AND policy_name=?",
                (certificate_id, policy),
            )

    def tags(self) -> list[tuple[str, str, str]]:
        """(resource ARN, key, value) triples."""
        return list(self._db.execute("SELECT resource_arn, key, value FROM tags"))

    def put_tags(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO tags VALUES (?,?,?)",
            ((resource_arn, key, value) for key, value in tags.items()),
        )

    def delete_tags(self, resource_arn: str, keys: Iterable[str] | None = None) -> None:
        """UntagResource; with no keys (None), every tag of the resource (it was deleted)."""
        if keys is None:
            self._db.execute("DELETE FROM tags WHERE resource_arn=?", (resource_arn,))
        else:
            self._db.executemany(
                "DELETE FROM tags WHERE resource_arn=? AND key=?",
                ((resource_arn, key) for key in keys),
            )

    def _index(self, table: str) -> None:
        if table not in self._indexed:
            self._db.execute(_PAIR_INDEXES[table])
            self._indexed.add(table)
