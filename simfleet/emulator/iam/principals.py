"""IAM principals: named access key pairs with their identity-based policies, from a file.

    {"principals": [
        {"name": "operator",
         "accessKeyId": "AKIAOPERATOR00000001",
         "secretAccessKey": "...",
         "policies": [{"Version": "2012-10-17", "Statement": [...]}, ...]}]}

Each principal is an IAM user (`arn:aws:iam::ACCOUNT:user/NAME`); `policies` (IAM policy
documents, document.py) may be empty, and the principal is then denied everything. Names
follow IAM's user-name rule (1-64 of letters, digits and `+=,.@_-`), access key ids IAM's
(16-128 letters, digits or `_`); names and access key ids are unique.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simfleet.emulator.iam.document import ALLOW_ALL, IamPolicy, parse_iam_policy
from simfleet.emulator.iam.errors import (
    PolicyDocumentError,
    PrincipalError,
    PrincipalsFileError,
)

ADMINISTRATOR = "admin"
_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_ACCESS_KEY_ID = re.compile(r"\w{16,128}", re.ASCII)
_PRINCIPAL_KEYS = frozenset({"name", "accessKeyId", "secretAccessKey", "policies"})


@dataclass(frozen=True, kw_only=True)
class IamPrincipal:
    name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    policies: tuple[IamPolicy, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise PrincipalError(
                f"name {self.name!r} must be 1-64 letters, digits or +=,.@_- (an IAM user name)"
            )
        if not _ACCESS_KEY_ID.fullmatch(self.access_key_id):
            raise PrincipalError(
                f"accessKeyId {self.access_key_id!r} must be 16-128 letters, digits or _"
            )
        if not self.secret_access_key:
            raise PrincipalError("secretAccessKey must not be empty")


def administrator(
    access_key_id: str, secret_access_key: str, *, name: str = ADMINISTRATOR
) -> IamPrincipal:
    """A principal allowed everything (`{"Effect":"Allow","Action":"*","Resource":"*"}`): the
    emulator's default, holding the ready line's key pair."""
    return IamPrincipal(
        name=name,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        policies=(ALLOW_ALL,),
    )


@dataclass(frozen=True)
class Principals:
    """Every principal the emulator knows, looked up by access key id."""

    members: tuple[IamPrincipal, ...]
    _by_key: Mapping[str, IamPrincipal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, IamPrincipal] = {}
        names: set[str] = set()
        for principal in self.members:
            if principal.name in names:
                raise PrincipalError(f"two principals are named {principal.name!r}")
            if principal.access_key_id in by_key:
                raise PrincipalError(f"two principals have accessKeyId {principal.access_key_id!r}")
            names.add(principal.name)
            by_key[principal.access_key_id] = principal
        object.__setattr__(self, "_by_key", by_key)

    @classmethod
    def of(cls, *principals: IamPrincipal) -> Principals:
        return cls(tuple(principals))

    def credentials(self) -> dict[str, str]:
        """{access key id: secret access key}, what the SigV4 verifiers take."""
        return {p.access_key_id: p.secret_access_key for p in self.members}

    def by_access_key(self, access_key_id: str) -> IamPrincipal | None:
        return self._by_key.get(access_key_id)

    def with_principals(self, principals: Iterable[IamPrincipal]) -> Principals:
        """These principals and the given ones (PrincipalError on a repeated name or key)."""
        return Principals((*self.members, *principals))


def load_principals(path: Path) -> Principals:
    """The principals file at `path`, or PrincipalsFileError naming the file, the principal
    and the statement at fault."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PrincipalsFileError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise PrincipalsFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise PrincipalsFileError(f"{path}: not JSON: {error}") from None
    return parse_principals(raw, source=str(path))


def parse_principals(raw: object, *, source: str) -> Principals:
    """The decoded principals file; `source` names it in errors."""
    if not isinstance(raw, Mapping) or set(raw) != {"principals"}:
        raise PrincipalsFileError(f'{source}: must be an object {{"principals": [...]}}')
    items = raw["principals"]
    if not isinstance(items, list):
        raise PrincipalsFileError(f"{source}: principals must be a list")
    members = tuple(_principal(source, index, item) for index, item in enumerate(items, 1))
    try:
        return Principals(members)
    except PrincipalError as error:
        raise PrincipalsFileError(f"{source}: {error}") from None


def _principal(source: str, index: int, raw: object) -> IamPrincipal:
    where = f"{source}: principal {index}"
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
        where += f" ({raw['name']!r})"
    if not isinstance(raw, Mapping):
        raise PrincipalsFileError(f"{where}: must be an object")
    unknown = sorted(set(raw) - _PRINCIPAL_KEYS)
    missing = sorted(_PRINCIPAL_KEYS - {"policies"} - set(raw))
    if unknown or missing:
        problems = [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        problems += [f"missing {', '.join(missing)}"] if missing else []
        raise PrincipalsFileError(f"{where}: {'; '.join(problems)}")
    name, access_key_id, secret = raw["name"], raw["accessKeyId"], raw["secretAccessKey"]
    if not (isinstance(name, str) and isinstance(access_key_id, str) and isinstance(secret, str)):
        raise PrincipalsFileError(f"{where}: name, accessKeyId and secretAccessKey are strings")
    documents = raw.get("policies", [])
    if not isinstance(documents, list):
        raise PrincipalsFileError(f"{where}: policies must be a list of policy documents")
    policies: list[IamPolicy] = []
    for number, document in enumerate(documents, start=1):
        try:
            policies.append(parse_iam_policy(document))
        except PolicyDocumentError as error:
            raise PrincipalsFileError(f"{where}: policy {number}: {error}") from None
    try:
        return IamPrincipal(
            name=name,
            access_key_id=access_key_id,
            secret_access_key=secret,
            policies=tuple(policies),
        )
    except PrincipalError as error:
        raise PrincipalsFileError(f"{where}: {error}") from None
