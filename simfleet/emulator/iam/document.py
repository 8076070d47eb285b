"""IAM identity-based policy documents, parsed once and validated as IAM validates them.

    {"Version": "2012-10-17", "Id"?: "...",
     "Statement": statement | [statement, ...]}
    statement = {"Sid"?: "...", "Effect": "Allow" | "Deny",
                 "Action" | "NotAction": s | [s, ...],
                 "Resource" | "NotResource": s | [s, ...],
                 "Condition"?: {operator: {key: value | [value, ...]}}}

Refused as IAM refuses them at CreatePolicy (MalformedPolicyDocument): an unknown element,
`Principal` / `NotPrincipal` (identity policies have none), both or neither of Action and
NotAction (or Resource and NotResource), an action that is not `*` or `service:name`, a
resource that is not `*` or an ARN, an unknown Version, a malformed policy variable.
Refused because the emulator cannot evaluate them: the condition operators conditions.py does
not support. Version 2008-10-17 (IAM's default when Version is absent) has no policy variables.

Why not `certs_tool.policy.document.parse_policy`: IoT Core policies have no NotAction or
NotResource and it refuses them; IAM's grammar is a different one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from simfleet.emulator.iam.conditions import IamCondition, operator_error
from simfleet.emulator.iam.errors import PolicyDocumentError
from simfleet.emulator.iam.variables import variable_error

_ACTION = re.compile(r"\*|[A-Za-z0-9-]+:[^\s:]+")
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class Version(enum.Enum):
    V2012 = "2012-10-17"  # policy variables resolve
    V2008 = "2008-10-17"  # no policy variables: `${...}` is literal text


@dataclass(frozen=True, kw_only=True)
class IamStatement:
    """`actions` are lower-cased (IAM matches action names case-insensitively); with
    `not_action` they are the NotAction list. Likewise `resources` / `not_resource`."""

    effect: Effect
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    conditions: tuple[IamCondition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, kw_only=True)
class IamPolicy:
    version: Version
    statements: tuple[IamStatement, ...]


ALLOW_ALL = IamPolicy(
    version=Version.V2012,
    statements=(IamStatement(effect=Effect.ALLOW, actions=("*",), resources=("*",)),),
)


def parse_iam_policy(raw: object) -> IamPolicy:
    """A policy document (the decoded JSON object) → IamPolicy, or PolicyDocumentError naming
    the statement at fault ("statement 2 (Sid 'x'): ...")."""
    if not isinstance(raw, Mapping):
        raise PolicyDocumentError(f"a policy must be a JSON object, not {_kind(raw)}")
    unknown = sorted(set(raw) - _POLICY_KEYS)
    if unknown:
        raise PolicyDocumentError(f"unknown policy element(s): {', '.join(unknown)}")
    version_text = raw.get("Version", Version.V2008.value)
    try:
        version = Version(version_text)
    except ValueError:
        raise PolicyDocumentError(
            f"Version must be 2012-10-17 or 2008-10-17, not {version_text!r}"
        ) from None
    body = raw.get("Statement")
    items = [body] if isinstance(body, Mapping) else body
    if not isinstance(items, list) or not items:
        raise PolicyDocumentError("Statement must be an object or a non-empty list of them")
    statements = tuple(
        _statement(index, item, version) for index, item in enumerate(items, start=1)
    )
    return IamPolicy(version=version, statements=statements)


def _statement(index: int, raw: object, version: Version) -> IamStatement:
    where = f"statement {index}"
    if isinstance(raw, Mapping) and isinstance(raw.get("Sid"), str):
        where += f" (Sid {raw['Sid']!r})"
    try:
        return _parse_statement(raw, version)
    except PolicyDocumentError as error:
        raise PolicyDocumentError(f"{where}: {error}") from None


def _parse_statement(raw: object, version: Version) -> IamStatement:
    if not isinstance(raw, Mapping):
        raise PolicyDocumentError(f"must be a JSON object, not {_kind(raw)}")
    if "Principal" in raw or "NotPrincipal" in raw:
        raise PolicyDocumentError("an identity-based policy has no Principal or NotPrincipal")
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyDocumentError(f"unknown element(s): {', '.join(unknown)}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyDocumentError("Sid must be a string")
    try:
        effect = Effect(raw.get("Effect"))
    except ValueError:
        raise PolicyDocumentError(
            f'Effect must be "Allow" or "Deny", not {raw.get("Effect")!r}'
        ) from None
    not_action, actions = _one_of(raw, "Action", "NotAction")
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise PolicyDocumentError(
                f"action {action!r} must be * or service:name (e.g. iot:CreateJob)"
            )
    not_resource, resources = _one_of(raw, "Resource", "NotResource")
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise PolicyDocumentError(f"resource {resource!r} must be * or an ARN")
        _check_variables(resource, version)
    return IamStatement(
        effect=effect,
        actions=tuple(action.lower() for action in actions),
        resources=resources,
        not_action=not_action,
        not_resource=not_resource,
        conditions=_conditions(raw.get("Condition"), version),
        sid=sid,
    )


def _one_of(
    raw: Mapping[str, object], positive: str, negative: str
) -> tuple[bool, tuple[str, ...]]:
    """(is it the negative element, its strings): exactly one of the two must be there."""
    if (positive in raw) == (negative in raw):
        raise PolicyDocumentError(f"exactly one of {positive} and {negative} is required")
    name = positive if positive in raw else negative
    return name == negative, _strings(name, raw[name])


def _strings(name: str, value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(item, str) and item for item in items)
    ):
        raise PolicyDocumentError(f"{name} must be a non-empty string or list of them")
    return tuple(items)


def _conditions(raw: object, version: Version) -> tuple[IamCondition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyDocumentError("Condition must be an object {operator: {key: values}}")
    conditions: list[IamCondition] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping) or not block:
            raise PolicyDocumentError(f"Condition {operator!r} must be a non-empty object")
        for key, value in block.items():
            values = _condition_values(operator, key, value)
            problem = operator_error(operator, values)
            if problem is not None:
                raise PolicyDocumentError(f"Condition: {problem}")
            for text in values:
                _check_variables(text, version)
            conditions.append(IamCondition(operator=operator, key=key.lower(), values=values))
    return tuple(conditions)


def _condition_values(operator: str, key: str, value: object) -> tuple[str, ...]:
    # IAM takes JSON booleans and numbers as their text ("Bool": {"aws:SecureTransport": true}).
    items = value if isinstance(value, list) else [value]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            values.append(str(item))
        else:
            raise PolicyDocumentError(
                f"Condition {operator} {key!r}: values must be strings, numbers or booleans"
            )
    if not values:
        raise PolicyDocumentError(f"Condition {operator} {key!r} has no value")
    return tuple(values)


def _check_variables(text: str, version: Version) -> None:
    problem = variable_error(text) if version is Version.V2012 else None
    if problem is not None:
        raise PolicyDocumentError(problem)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
