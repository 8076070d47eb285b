"""Condition blocks, evaluated with IAM's rules (spec §4 "Grammar"; IAM "Condition operators").

Supported operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
StringNotEqualsIgnoreCase, StringLike, StringNotLike, Bool, IpAddress, NotIpAddress, each
with an optional `IfExists` suffix and `ForAnyValue:` / `ForAllValues:` prefix; and Null.
Keys are those of variables.py. Policy values may hold `${variables}`, resolved like Resource
text; StringLike reads `*` and `?` as wildcards, the other string operators read them as
plain characters.

IAM semantics kept: the keys of a block are ANDed, the values of one key ORed (NORed for a
negated operator); a key absent from the request makes a positive operator false and a negated
one true, except `...IfExists` (true) and `ForAllValues:` (true) / `ForAnyValue:` (false).

Deny-safe choice [U]: AWS refuses a policy with an operator or key it does not know, at
CreatePolicy. Here such a condition takes the value the caller passes as `when_unsupported`,
and the engine passes False for an Allow statement and True for a Deny statement, so an
unevaluable statement never grants and always denies: the engine fails closed. Numeric*,
Date*, Arn* and Binary* operators, a Bool value other than true/false and an IpAddress value
that is not an address or CIDR count as unsupported.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

from certs_tool.policy.document import Condition
from simfleet.emulator.policy.matcher import glob_set, parse_template, pattern_text
from simfleet.emulator.policy.variables import ContextValues, Unsupported

_Match = Callable[[str], bool]
_Decide = Callable[[tuple[str, ...] | None], bool]
_Builder = Callable[[tuple[str, ...], ContextValues], _Match | None]
_ANY = "ForAnyValue:"
_ALL = "ForAllValues:"
_IF_EXISTS = "IfExists"


def condition_holds(condition: Condition, values: ContextValues, *, when_unsupported: bool) -> bool:
    """Does this `operator: {key: values}` entry hold for the principal?"""
    found = values.lookup(condition.key)
    decide = _decider(condition, values)
    if isinstance(found, Unsupported) or decide is None:
        return when_unsupported
    return decide(found)


def _decider(condition: Condition, values: ContextValues) -> _Decide | None:
    """How the condition judges the key's context values, or None when unsupported."""
    if condition.operator == "Null":
        return _null(condition.values)
    qualifier, operator = _split_qualifier(condition.operator)
    if_exists = operator.endswith(_IF_EXISTS)
    spec = _OPERATORS.get(operator.removesuffix(_IF_EXISTS))
    if spec is None:
        return None
    build, negated = spec
    match = build(condition.values, values)
    if match is None:
        return None
    return functools.partial(
        _judge, match, negated=negated, qualifier=qualifier, if_exists=if_exists
    )


def _split_qualifier(operator: str) -> tuple[str, str]:
    for prefix in (_ANY, _ALL):
        if operator.startswith(prefix):
            return prefix, operator[len(prefix) :]
    return "", operator


def _judge(
    match: _Match,
    found: tuple[str, ...] | None,
    *,
    negated: bool,
    qualifier: str,
    if_exists: bool,
) -> bool:
    if found is None:
        if if_exists or qualifier == _ALL:
            return True
        return qualifier != _ANY and negated
    results = [match(value) != negated for value in found]
    if qualifier == _ALL or (negated and qualifier != _ANY):
        return all(results)  # for a plain negated operator this is a NOR
    return any(results)


def _null(expected: tuple[str, ...]) -> _Decide | None:
    if len(expected) != 1 or expected[0].lower() not in ("true", "false"):
        return None
    want_absent = expected[0].lower() == "true"
    return lambda found: (found is None) == want_absent


def _resolved_texts(raw: tuple[str, ...], values: ContextValues) -> set[str]:
    return {pattern_text(values.resolve(parse_template(text))) for text in raw}


def _equals(raw: tuple[str, ...], values: ContextValues) -> _Match:
    return _resolved_texts(raw, values).__contains__


def _equals_ignore_case(raw: tuple[str, ...], values: ContextValues) -> _Match:
    expected = {text.casefold() for text in _resolved_texts(raw, values)}
    return lambda value: value.casefold() in expected


def _like(raw: tuple[str, ...], values: ContextValues) -> _Match:
    return glob_set(tuple(values.resolve(parse_template(text)) for text in raw)).matches


def _bool(raw: tuple[str, ...], values: ContextValues) -> _Match | None:
    expected = {text.lower() for text in raw}
    if not expected <= {"true", "false"}:
        return None
    return lambda value: value.lower() in expected


def _ip(raw: tuple[str, ...], values: ContextValues) -> _Match | None:
    try:
        networks = [ipaddress.ip_network(text, strict=False) for text in raw]
    except ValueError:
        return None

    def match(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address in network for network in networks)

    return match


# operator -> (builder of the positive match, is the operator negated)
_OPERATORS: dict[str, tuple[_Builder, bool]] = {
    "StringEquals": (_equals, False),
    "StringNotEquals": (_equals, True),
    "StringEqualsIgnoreCase": (_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_equals_ignore_case, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "Bool": (_bool, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
}
