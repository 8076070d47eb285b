"""AWS IoT Core policy documents: parsed into frozen values, and written back.

One model serves the three users of policies: the templates certs-tool writes, the linter, and
the emulator's policy engine. Parsing is strict about structure (what AWS's CreatePolicy would
refuse is refused here with a message naming the statement) and neutral about meaning (an
unknown action parses; the linter is the one that complains about it).

Grammar (spec §4): {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"|"Deny",
"Action": str|[str], "Resource": str|[str], "Condition": {operator: {key: str|[str]}}}]}.
A single statement object in place of the list is accepted, as AWS does.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certs_tool.errors import InvalidInputError

POLICY_VERSION = "2012-10-17"
_KNOWN_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One `operator: {key: values}` entry, e.g. Bool / iot:Connection.Thing.IsAttached / true."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Statement:
    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, kw_only=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str = POLICY_VERSION

    def to_json(self) -> dict[str, Any]:
        """The document as AWS would store it (lists kept as lists, single values as strings)."""
        return {"Version": self.version, "Statement": [_statement_json(s) for s in self.statements]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def parse_policy(source: str | bytes | Mapping[str, Any]) -> PolicyDocument:
    """Parse a policy document from JSON text or an already-decoded object.

    Raises InvalidInputError naming what is wrong, e.g. "Statement[2]: Effect must be ...".
    """
    if isinstance(source, str | bytes):
        try:
            decoded = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"policy is not valid JSON: {exc}") from None
    else:
        decoded = source
    if not isinstance(decoded, Mapping):
        raise InvalidInputError("policy must be a JSON object")
    unknown = set(decoded) - {"Version", "Statement", "Id"}
    if unknown:
        raise InvalidInputError(f"policy has unknown top-level keys: {', '.join(sorted(unknown))}")
    version = decoded.get("Version", POLICY_VERSION)
    if not isinstance(version, str) or version not in _KNOWN_VERSIONS:
        raise InvalidInputError(f"policy Version must be {POLICY_VERSION!r}, not {version!r}")
    raw_statements = decoded.get("Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise InvalidInputError("policy needs a non-empty Statement list")
    statements = tuple(_parse_statement(i, raw) for i, raw in enumerate(raw_statements, 1))
    return PolicyDocument(statements=statements, version=version)


def _parse_statement(index: int, raw: object) -> Statement:
    where = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where}: must be a JSON object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        # NotAction/NotResource/Principal are IAM grammar that IoT Core policies do not have.
        raise InvalidInputError(f"{where}: unsupported keys: {', '.join(sorted(unknown))}")
    try:
        effect = Effect(raw.get("Effect"))
    except ValueError:
        raise InvalidInputError(
            f"{where}: Effect must be 'Allow' or 'Deny', not {raw.get('Effect')!r}"
        ) from None
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise InvalidInputError(f"{where}: Sid must be a string")
    return Statement(
        effect=effect,
        actions=_strings(where, "Action", raw.get("Action")),
        resources=_strings(where, "Resource", raw.get("Resource")),
        conditions=_parse_conditions(where, raw.get("Condition")),
        sid=sid,
    )


def _strings(where: str, field: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise InvalidInputError(f"{where}: {field} must be a non-empty string or list of strings")
    return tuple(value)


def _parse_conditions(where: str, raw: object) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"{where}: Condition must be a JSON object")
    conditions = []
    for operator, entries in raw.items():
        if not isinstance(entries, Mapping) or not entries:
            raise InvalidInputError(f"{where}: Condition {operator!r} must map keys to values")
        for key, values in entries.items():
            # {"Bool": {"k": true}} is common in the wild; AWS compares the text "true".
            text = str(values).lower() if isinstance(values, bool) else values
            listed = _strings(f"{where}: Condition {operator!r}", key, text)
            conditions.append(Condition(operator=operator, key=key, values=listed))
    return tuple(conditions)


def _statement_json(statement: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if statement.sid is not None:
        out["Sid"] = statement.sid
    out["Effect"] = statement.effect.value
    out["Action"] = _one_or_list(statement.actions)
    out["Resource"] = _one_or_list(statement.resources)
    if statement.conditions:
        grouped: dict[str, dict[str, str | list[str]]] = {}
        for condition in statement.conditions:
            grouped.setdefault(condition.operator, {})[condition.key] = _one_or_list(
                condition.values
            )
        out["Condition"] = grouped
    return out


def _one_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)
