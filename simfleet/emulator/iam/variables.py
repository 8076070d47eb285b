"""IAM policy variables (`${aws:username}`) in Resource and Condition values.

IAM grammar (IAM User Guide, "Policy elements: Variables and tags"): `${key}` or
`${key, 'default'}` (a quote inside the default doubled); `${*}`, `${?}` and `${$}` stand for a
literal `*`, `?` and `$`. Keys match case-insensitively. Only policies of Version 2012-10-17
have variables; in a 2008-10-17 policy the text is literal.

A variable whose key the request does not carry, and that has no default, cannot resolve:
AWS says this "might cause the entire statement to be invalid"; here the statement then does
not apply (`resolve` returns None and the caller skips the statement).

`resolve(..., glob=True)` gives a pattern for `simfleet.emulator.policy.glob_matches`, which
already reads `${*}`, `${?}` and `${$}` as literals: a substituted value is escaped the same
way, so a user name holding `*` cannot widen a resource.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_ESCAPES = frozenset("*?$")


def variable_error(text: str) -> str | None:
    """Why a policy string's variables are malformed, or None when they are well formed."""
    for reference in _REFERENCE.finditer(text):
        body = reference.group(1)
        if body not in _ESCAPES and _BODY.fullmatch(body) is None:
            return f"malformed policy variable {reference.group(0)!r}"
    return None


def resolve(text: str, context: Mapping[str, str], *, glob: bool) -> str | None:
    """`text` with its variables replaced from `context` (lower-case keys), or None if one has
    no value. With glob=True the result is a glob pattern whose substituted parts are literal;
    with glob=False it is plain text (the escapes become the characters they stand for)."""
    out: list[str] = []
    position = 0
    for reference in _REFERENCE.finditer(text):
        out.append(text[position : reference.start()])
        position = reference.end()
        body = reference.group(1)
        if body in _ESCAPES:
            out.append(reference.group(0) if glob else body)
            continue
        value = _value(body, context)
        if value is None:
            return None
        out.append(_escaped(value) if glob else value)
    out.append(text[position:])
    return "".join(out)


def _value(body: str, context: Mapping[str, str]) -> str | None:
    parsed = _BODY.fullmatch(body)
    if parsed is None:  # parse_iam_policy refuses such a policy (variable_error)
        return None
    key, default = parsed.groups()
    found = context.get(key.lower())
    if found is not None:
        return found
    return None if default is None else default.replace("''", "'")


def _escaped(value: str) -> str:
    return "".join("${" + char + "}" if char in _ESCAPES else char for char in value)
