"""IAM condition operators (IAM User Guide, "Condition operators"), for single-valued keys.

Supported: StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase,
StringLike, StringNotLike, Bool, IpAddress, NotIpAddress, ArnEquals, ArnLike, ArnNotEquals,
ArnNotLike, each with an optional `IfExists` suffix and `ForAnyValue:` / `ForAllValues:`
prefix; and Null. Numeric*, Date* and BinaryEquals are refused when the policy is loaded
(`operator_error`): the request context here has no number, date or binary key, and a policy
the emulator cannot evaluate should fail loudly, not grant or deny by accident.

IAM semantics kept: the keys of a block are ANDed, the values of one key ORed (NORed for a
negated operator). A key the request does not carry makes a positive operator false and a
negated one true; `...IfExists` makes both true; `ForAllValues:` is true and `ForAnyValue:`
false on an absent key. Values may hold policy variables (variables.py); one that cannot
resolve makes the condition false, so its statement does not apply.

Reused: `simfleet.emulator.policy.glob_matches` for StringLike and ArnLike (`*` any run, `?`
one character, `${*}`-style escapes), the same matcher as IoT Core policies.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simfleet.emulator.iam.variables import resolve
from simfleet.emulator.policy import glob_matches

_ANY = "ForAnyValue:"
_ALL = "ForAllValues:"
_IF_EXISTS = "IfExists"
_ARN_PARTS = 6  # arn:partition:service:region:account:resource, each matched on its own


class Kind(enum.Enum):
    """How an operator compares a context value with the policy's values."""

    EQUALS = "equals"
    EQUALS_IGNORE_CASE = "equals, ignoring case"
    LIKE = "like"
    BOOL = "bool"
    IP = "ip"
    ARN = "arn"


# operator (without IfExists or a set prefix) -> (kind, negated)
OPERATORS: Mapping[str, tuple[Kind, bool]] = {
    "StringEquals": (Kind.EQUALS, False),
    "StringNotEquals": (Kind.EQUALS, True),
    "StringEqualsIgnoreCase": (Kind.EQUALS_IGNORE_CASE, False),
    "StringNotEqualsIgnoreCase": (Kind.EQUALS_IGNORE_CASE, True),
    "StringLike": (Kind.LIKE, False),
    "StringNotLike": (Kind.LIKE, True),
    "Bool": (Kind.BOOL, False),
    "IpAddress": (Kind.IP, False),
    "NotIpAddress": (Kind.IP, True),
    # AWS documents ArnEquals and ArnLike as the same comparison (wildcards allowed in both).
    "ArnEquals": (Kind.ARN, False),
    "ArnLike": (Kind.ARN, False),
    "ArnNotEquals": (Kind.ARN, True),
    "ArnNotLike": (Kind.ARN, True),
}
NULL = "Null"


@dataclass(frozen=True, kw_only=True)
class IamCondition:
    """One `operator: {key: values}` entry; `key` is lower-cased (IAM matches keys
    case-insensitively), `operator` is as written."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _Operator:
    kind: Kind | None  # None: Null
    negated: bool
    if_exists: bool
    qualifier: str  # "", _ANY or _ALL


@functools.cache
def _parse_operator(operator: str) -> _Operator | None:
    qualifier = next((q for q in (_ANY, _ALL) if operator.startswith(q)), "")
    name = operator[len(qualifier) :]
    if name == NULL and not qualifier:
        return _Operator(kind=None, negated=False, if_exists=False, qualifier="")
    if_exists = name.endswith(_IF_EXISTS)
    spec = OPERATORS.get(name.removesuffix(_IF_EXISTS))
    if spec is None:
        return None
    kind, negated = spec
    return _Operator(kind=kind, negated=negated, if_exists=if_exists, qualifier=qualifier)


def operator_error(operator: str, values: tuple[str, ...]) -> str | None:
    """Why this operator with these values cannot be used, or None when it can."""
    parsed = _parse_operator(operator)
    if parsed is None:
        return (
            f"the emulator does not evaluate condition operator {operator!r} "
            f"(supported: {', '.join(OPERATORS)}, {NULL}; IfExists, ForAnyValue:, ForAllValues:)"
        )
    if parsed.kind is None or parsed.kind is Kind.BOOL:
        if not all(value.lower() in ("true", "false") for value in values):
            return f"{operator} takes true or false, not {list(values)}"
        if parsed.kind is None and len(values) != 1:
            return f"{operator} takes one value, not {list(values)}"
    if parsed.kind is Kind.IP:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                return f"{operator}: {value!r} is not an IP address or CIDR block"
    return None


def condition_holds(
    condition: IamCondition, context: Mapping[str, str], *, variables: bool
) -> bool:
    """Does the condition hold for a request whose condition keys (lower-case) are `context`?

    `variables`: resolve `${...}` in the values (Version 2012-10-17)."""
    operator = _parse_operator(condition.operator)
    if operator is None:  # parse_iam_policy refuses such a policy (operator_error)
        return False
    found = context.get(condition.key)
    if operator.kind is None:
        return (found is None) == (condition.values[0].lower() == "true")
    if found is None:
        return (
            operator.if_exists
            or operator.qualifier == _ALL
            or (operator.negated and operator.qualifier != _ANY)
        )
    match = _matcher(operator.kind, condition.values, context, variables=variables)
    if match is None:
        return False
    # One value in the context: any / all of one value is that value's own result.
    return match(found) != operator.negated


def _matcher(
    kind: Kind, raw: tuple[str, ...], context: Mapping[str, str], *, variables: bool
) -> Callable[[str], bool] | None:
    """The positive test of a context value against the policy values, or None when a value's
    variable cannot resolve."""
    glob = kind in (Kind.LIKE, Kind.ARN)
    expected: list[str] = []
    for text in raw:
        value = resolve(text, context, glob=glob) if variables else text
        if value is None:
            return None
        expected.append(value)
    return _BUILDERS[kind](tuple(expected))


def _equals(expected: tuple[str, ...]) -> Callable[[str], bool]:
    return frozenset(expected).__contains__


def _equals_ignore_case(expected: tuple[str, ...]) -> Callable[[str], bool]:
    folded = frozenset(value.casefold() for value in expected)
    return lambda found: found.casefold() in folded


def _like(expected: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda found: any(glob_matches(pattern, found) for pattern in expected)


def _bool(expected: tuple[str, ...]) -> Callable[[str], bool]:
    lowered = frozenset(value.lower() for value in expected)
    return lambda found: found.lower() in lowered


def _ip(expected: tuple[str, ...]) -> Callable[[str], bool]:
    networks = [ipaddress.ip_network(value, strict=False) for value in expected]
    return lambda found: _in_networks(found, networks)


def _arn(expected: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda found: any(_arn_like(pattern, found) for pattern in expected)


_BUILDERS: Mapping[Kind, Callable[[tuple[str, ...]], Callable[[str], bool]]] = {
    Kind.EQUALS: _equals,
    Kind.EQUALS_IGNORE_CASE: _equals_ignore_case,
    Kind.LIKE: _like,
    Kind.BOOL: _bool,
    Kind.IP: _ip,
    Kind.ARN: _arn,
}


def _in_networks(found: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(found)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _arn_like(pattern: str, arn: str) -> bool:
    """Each of the six colon-separated parts matched on its own (IAM "ARN condition
    operators"), the last part keeping any further colons."""
    patterns = pattern.split(":", _ARN_PARTS - 1)
    parts = arn.split(":", _ARN_PARTS - 1)
    if len(patterns) != _ARN_PARTS or len(parts) != _ARN_PARTS:
        return False
    return all(glob_matches(p, part) for p, part in zip(patterns, parts, strict=True))
