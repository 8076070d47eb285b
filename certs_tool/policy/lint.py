"""Find the mistakes people make in AWS IoT Core policy documents (spec §4).

`lint_policy(text)` never raises on a bad document: what does not parse is one `invalid-json` or
`invalid-structure` finding. Every rule has one stable kebab-case code and one severity (RULES).

Severity rule:
    ERROR    AWS refuses the document, or a grant in it can never match anything (the device is
             silently denied and, for Publish or Subscribe, disconnected: spec §4), or it grants
             every client ID or every action (never least privilege; with any client ID one
             certificate can push every other device off, spec §5).
    WARNING  the document works but grants more than it names, or leans on something one
             document cannot show: another attached policy may grant the missing iot:Receive or
             iot:Connect (spec §4: all attached policies count together), and AWS does not settle
             action-name case or the legacy `iot:` Jobs spellings for IoT Core policies.

Actions: the AWS IoT Core developer guide's "policy actions" and "action resources" pages
(iot:Connect, DeleteConnection, Publish, Receive, RetainPublish, Subscribe, GetRetainedMessage,
ListRetainedMessages, the four shadow actions, AssumeRoleWithCertificate, and the four HTTPS Jobs
actions under `iotjobsdata:`, which older pages spell `iot:`). IAM documents action names as
case-insensitive ("iam:ListAccessKeys is the same as IAM:listaccesskeys") and IoT Core says its
policies "follow a similar convention to IAM", so actions match case-insensitively here; a
non-canonical spelling is still a warning, as no IoT page states it. Policy variables, by
contrast, are case-sensitive: AWS refused `${iot:clientId}` (awsdocs/aws-iot-docs PR #9).
`greengrass:` actions also appear in IoT Core policies (Greengrass core devices); they are passed
through unchecked.
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from certs_tool.errors import InvalidInputError
from certs_tool.policy.document import Effect, PolicyDocument, Statement, parse_policy

MAX_POLICY_LENGTH = 2048  # characters, whitespace not counted (spec §4)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


_E, _W = Severity.ERROR, Severity.WARNING
RULES: Mapping[str, Severity] = MappingProxyType(
    {
        "invalid-json": _E,  # CreatePolicy refuses it
        "invalid-structure": _E,  # CreatePolicy refuses it
        "too-long": _E,  # CreatePolicy refuses more than 2048 characters
        "unknown-action": _E,  # grants nothing; usually a typo
        "invalid-arn": _E,  # matches nothing (e.g. `arn:aws:REGION:` without `iot`)
        "topic-for-subscribe": _E,  # Subscribe is checked on topicfilter/ only
        "topicfilter-for-publish-receive": _E,  # Publish/Receive are checked on topic/ only
        "jobs-resource-not-thing": _E,  # HTTPS Jobs actions are checked on thing/ only
        "wrong-resource-type": _E,  # any other action given a resource it is never checked on
        "mqtt-wildcard": _E,  # `+`/`#` are literal in policies and never occur in a topic name
        "invalid-topic": _E,  # no PUBLISH or SUBSCRIBE can carry this topic or filter
        "thing-variable-over-https": _E,  # thing variables do not resolve over HTTPS
        "action-wildcard": _E,  # `*` or `iot:*`
        "client-wildcard": _E,  # iot:Connect for every client ID
        "partial-action-wildcard": _W,  # e.g. `iot:*Shadow`, `iotjobsdata:*`
        "client-wildcard-prefix": _W,  # e.g. client/sensor-*: devices may take each other's IDs
        "resource-wildcard": _W,  # a grant on every topic / thing / ...
        "action-case": _W,  # iot:publish for iot:Publish
        "legacy-jobs-action": _W,  # iot:UpdateJobExecution for iotjobsdata:UpdateJobExecution
        "missing-receive": _W,  # Subscribe without Receive delivers nothing
        "missing-connect": _W,  # Publish/Subscribe/Receive need Connect
        "clientid-without-isattached": _W,  # ${iot:ClientId} is whatever the client claims
        "unknown-variable": _W,  # an unresolved variable stays literal text and matches nothing
        "old-version": _W,  # without Version 2012-10-17, IAM treats ${...} as literal text
    }
)


@dataclass(frozen=True, kw_only=True)
class Finding:
    severity: Severity
    code: str
    message: str
    statement: int | None = None  # 1-based index into Statement, None for the whole document

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.message} [{self.code}]"


# Which resource type each action is checked against ("*": only Resource "*" serves).
_JOBS_OPERATIONS = (
    "DescribeJobExecution",
    "GetPendingJobExecutions",
    "StartNextPendingJobExecution",
    "UpdateJobExecution",
)
ACTION_RESOURCE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "iot:Connect": "client",
        "iot:DeleteConnection": "client",
        "iot:Publish": "topic",
        "iot:Receive": "topic",
        "iot:RetainPublish": "topic",
        "iot:GetRetainedMessage": "topic",
        "iot:ListRetainedMessages": "*",
        "iot:Subscribe": "topicfilter",
        "iot:GetThingShadow": "thing",
        "iot:UpdateThingShadow": "thing",
        "iot:DeleteThingShadow": "thing",
        "iot:ListNamedShadowsForThing": "*",
        "iot:AssumeRoleWithCertificate": "rolealias",
        **{f"iotjobsdata:{operation}": "thing" for operation in _JOBS_OPERATIONS},
        **{f"iot:{operation}": "thing" for operation in _JOBS_OPERATIONS},
    }
)
_CANONICAL = {action.lower(): action for action in ACTION_RESOURCE_TYPES}
_HTTPS_JOBS = frozenset(f"{p}:{o}" for p in ("iot", "iotjobsdata") for o in _JOBS_OPERATIONS)
_LEGACY_JOBS = frozenset(f"iot:{operation}" for operation in _JOBS_OPERATIONS)
_MESSAGING = frozenset({"iot:Publish", "iot:Subscribe", "iot:Receive", "iot:RetainPublish"})
_UNCHECKED_PREFIXES = ("greengrass:",)
_RESOURCE_TYPES = frozenset(ACTION_RESOURCE_TYPES.values()) - {"*"}

_PARTITION_RE = re.compile(r"aws(?:-[a-z]+)*", re.ASCII)
# The shapes of an ARN's region (us-east-1, us-gov-west-1, ...) and account (12 digits).
REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}", re.ASCII)
ACCOUNT_RE = re.compile(r"[0-9]{12}", re.ASCII)
_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_KNOWN_VARIABLE_RE = re.compile(
    r"iot:ClientId|iot:DomainName|aws:SourceIp|[*?$]"
    r"|iot:Connection\.Thing\.(?:ThingName|ThingTypeName|IsAttached|Attributes\[[^\]]+\])"
    r"|iot:Certificate\.(?:SerialNumber|AvailableKeys|(?:Subject|Issuer)\.[A-Za-z0-9.]+)"
)
IS_ATTACHED_KEY = "iot:Connection.Thing.IsAttached"
CLIENT_ID_VARIABLE = "${iot:ClientId}"
_MAX_TOPIC_SLASHES = 7  # spec §6; Basic Ingest's `$aws/rules/NAME/` slashes do not count


def policy_length(text: str) -> int:
    """The size AWS compares with MAX_POLICY_LENGTH: characters that are not whitespace."""
    return sum(1 for char in text if not char.isspace())


def lint_policy(source: str | bytes) -> list[Finding]:
    """Every finding about the policy document `source`, in document order."""
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        decoded = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [_finding("invalid-json", None, f"policy is not valid JSON: {exc}")]
    try:
        # A JSON value that is not an object goes back as text, for document.py's own message.
        document = parse_policy(decoded) if isinstance(decoded, Mapping) else parse_policy(text)
    except InvalidInputError as exc:
        return [_finding("invalid-structure", None, str(exc))]
    findings: list[Finding] = []
    length = policy_length(text)
    if length > MAX_POLICY_LENGTH:
        findings.append(
            _finding(
                "too-long",
                None,
                f"policy has {length} characters without whitespace; "
                f"AWS accepts at most {MAX_POLICY_LENGTH}",
            )
        )
    if "${" in text and decoded.get("Version") != "2012-10-17":
        findings.append(
            _finding(
                "old-version",
                None,
                f"policy uses variables but {_version(decoded)}; "
                'without "Version": "2012-10-17" they are literal text',
            )
        )
    for index, statement in enumerate(document.statements, 1):
        findings.extend(_lint_statement(index, statement))
    findings.extend(_lint_document(document))
    return list(dict.fromkeys(findings))  # a mistake repeated in a statement is told once


def _version(decoded: Mapping[str, object]) -> str:
    return f"its Version is {decoded['Version']!r}" if "Version" in decoded else "it has no Version"


def _finding(code: str, statement: int | None, message: str) -> Finding:
    where = f"statement {statement}: " if statement is not None else ""
    return Finding(severity=RULES[code], code=code, message=where + message, statement=statement)


@dataclass(frozen=True, kw_only=True)
class _Resource:
    text: str
    kind: str | None  # resource type, None when a wildcard stands in it (matches any type)
    name: str  # what follows `kind/`
    everything: bool  # matches every resource of its type


def _resource(text: str, services: frozenset[str]) -> _Resource | str:
    """The resource, or why it is not a usable IoT Core ARN."""
    if text == "*":
        return _Resource(text=text, kind=None, name="*", everything=True)
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"{text} is not an IoT ARN (arn:aws:iot:REGION:ACCOUNT:TYPE/NAME) or '*'"
    _, partition, service, region, account, rest = parts
    kind, _, name = rest.partition("/")
    typed = service == "iot" and not _has_wildcard(kind)
    problems = (
        (
            service not in services,
            f"{text} lacks the service: write arn:{partition}:iot:{service}:..."
            if REGION_RE.fullmatch(service)
            else f"{text} names service {service!r}; IoT Core policies act on arn:aws:iot: ARNs",
        ),
        (
            not _fits(_PARTITION_RE, partition),
            f"{text} has partition {partition!r}, not aws, aws-cn or aws-us-gov",
        ),
        (
            not _fits(REGION_RE, region),
            f"{text} has region {region!r}, which is not a region like us-east-1",
        ),
        (
            not _fits(ACCOUNT_RE, account),
            f"{text} has account {account!r}, which is not 12 digits",
        ),
        (
            typed and kind not in _RESOURCE_TYPES,
            f"{text} has resource type {kind!r}; IoT Core policy actions act on "
            f"{', '.join(sorted(t + '/' for t in _RESOURCE_TYPES))}",
        ),
        (typed and not name, f"{text} names no {kind} after {kind + '/'!r}"),
    )
    problem = next((message for bad, message in problems if bad), None)
    if problem is not None:
        return problem
    if not typed:
        return _Resource(text=text, kind=None, name=name, everything=rest == "*")
    return _Resource(text=text, kind=kind, name=name, everything=name == "*")


def _fits(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text) is not None or _has_wildcard(text)


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _lint_statement(index: int, statement: Statement) -> Iterator[Finding]:
    allow = statement.effect is Effect.ALLOW
    for action in statement.actions:
        yield from _lint_action(index, action, allow)
    granted = _granted(statement)
    bound = _binds_connect(statement)
    # Actions written without wildcards; only when every action is one of those can a resource
    # be said to serve no action of the statement.
    exact = [_CANONICAL[a.lower()] for a in statement.actions if a.lower() in _CANONICAL]
    all_exact = len(exact) == len(statement.actions)
    greengrass = any(a.lower().startswith(_UNCHECKED_PREFIXES) for a in statement.actions)
    services = frozenset({"iot", "greengrass"} if greengrass else {"iot"})
    resources: list[_Resource] = []
    for text in statement.resources:
        parsed = _resource(text, services)
        if isinstance(parsed, str):
            yield _finding("invalid-arn", index, parsed)
            continue
        resources.append(parsed)
        yield from _lint_resource(index, parsed, granted, allow, bound)
    yield from _lint_types(index, exact, resources, all_exact)
    for value in _variables(statement):
        if not _KNOWN_VARIABLE_RE.fullmatch(value):
            yield _finding(
                "unknown-variable",
                index,
                f"${{{value}}} is not an IoT Core policy variable (names are case-sensitive)",
            )


def _lint_action(index: int, action: str, allow: bool) -> Iterator[Finding]:
    if action.lower().startswith(_UNCHECKED_PREFIXES):
        return
    if _has_wildcard(action):
        matches = _expand(action)
        if not matches:
            yield _finding("unknown-action", index, f"{action} matches no IoT Core policy action")
        elif allow and action.lower() in ("*", "iot:*"):
            yield _finding(
                "action-wildcard",
                index,
                f"Allow {action} grants every IoT Core action; name the actions the device uses",
            )
        elif allow:
            yield _finding(
                "partial-action-wildcard",
                index,
                f"Allow {action} grants {_names(matches)} and any action AWS adds",
            )
        return
    canonical = _CANONICAL.get(action.lower())
    if canonical is None:
        close = difflib.get_close_matches(action.lower(), _CANONICAL, n=1, cutoff=0.8)
        hint = f" (did you mean {_CANONICAL[close[0]]}?)" if close else ""
        yield _finding("unknown-action", index, f"{action} is not an IoT Core policy action{hint}")
    elif canonical != action:
        yield _finding("action-case", index, f"{action} is spelled {canonical} by AWS")
    if canonical in _LEGACY_JOBS:
        yield _finding(
            "legacy-jobs-action",
            index,
            f"{action} is the old spelling; AWS now documents iotjobsdata:{canonical[4:]}",
        )


def _expand(pattern: str) -> set[str]:
    regex = re.compile(
        ".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.lower().split("*"))
    )
    return {canonical for lower, canonical in _CANONICAL.items() if regex.fullmatch(lower)}


def _lint_resource(
    index: int, resource: _Resource, granted: set[str], allow: bool, bound: bool
) -> Iterator[Finding]:
    text, kind, name = resource.text, resource.kind, resource.name
    if kind == "topic":
        if "+" in name or "#" in name:
            yield _finding(
                "mqtt-wildcard",
                index,
                f"{text}: `+` and `#` are literal characters in a policy and never appear in a "
                "topic name; use `*` to match any characters",
            )
        yield from _topic_limits(index, text, name)
    elif kind == "topicfilter":
        if _misplaced_filter_wildcard(name):
            yield _finding(
                "invalid-topic",
                index,
                f"{text}: `+` and `#` must each fill a whole level (`#` only the last), "
                "so no SUBSCRIBE can send this filter",
            )
        yield from _topic_limits(index, text, name)
    if granted & _HTTPS_JOBS and kind in ("thing", None) and "${iot:Connection.Thing." in text:
        yield _finding(
            "thing-variable-over-https",
            index,
            f"{text}: thing variables do not resolve over HTTPS; use "
            "${iot:Certificate.Subject.CommonName} or name the thing",
        )
    if not allow:
        return
    # With IsAttached required, a client ID only connects if it names a thing the certificate
    # is attached to, whatever the resource says.
    if "iot:Connect" in granted and kind in ("client", None) and not bound:
        if resource.everything or name == CLIENT_ID_VARIABLE:
            yield _finding(
                "client-wildcard",
                index,
                f"iot:Connect on {text} accepts any client ID, so one certificate can take over "
                "every device's ID; use client/${iot:Connection.Thing.ThingName} with IsAttached",
            )
        elif _has_wildcard(name):
            yield _finding(
                "client-wildcard-prefix",
                index,
                f"iot:Connect on {text} lets a device connect under another device's client ID",
            )
    wide = granted - {"iot:Connect", "iot:ListRetainedMessages", "iot:ListNamedShadowsForThing"}
    if resource.everything and wide:
        yield _finding(
            "resource-wildcard",
            index,
            f"{_names(wide)} on {text} reaches every device's resources",
        )


def _topic_limits(index: int, text: str, name: str) -> Iterator[Finding]:
    if any(ord(char) < 0x20 for char in name):
        yield _finding("invalid-topic", index, f"{text!r} holds a control character")
    slashes = name.count("/") - (3 if name.lower().startswith("$aws/rules/") else 0)
    if "*" not in name and slashes > _MAX_TOPIC_SLASHES:
        yield _finding(
            "invalid-topic",
            index,
            f"{text} has {slashes} '/'; AWS IoT topics have at most {_MAX_TOPIC_SLASHES}",
        )


def _misplaced_filter_wildcard(name: str) -> bool:
    levels = name.split("/")
    for position, level in enumerate(levels):
        if "*" in level or "${" in level:
            continue  # a policy wildcard or a variable may stand for a whole level
        if "+" in level and level != "+":
            return True
        if "#" in level and (level != "#" or position != len(levels) - 1):
            return True
    return False


def _lint_types(
    index: int, actions: list[str], resources: list[_Resource], all_exact: bool
) -> Iterator[Finding]:
    """Actions given no resource of the type they are checked on, and resources no action uses."""
    if not actions or not resources or any(r.kind is None for r in resources):
        return  # nothing to compare, or a wildcard resource that serves every action
    kinds = {r.kind for r in resources}
    # One finding per (code, needed type) for the actions left with nothing to act on...
    orphans: dict[tuple[str, str], list[str]] = {}
    for action in actions:
        if ACTION_RESOURCE_TYPES[action] not in kinds:
            key = (_mismatch(action, kinds), ACTION_RESOURCE_TYPES[action])
            orphans.setdefault(key, []).append(action)
    for (code, needed), names in orphans.items():
        yield _type_finding(index, code, names, needed, [r.text for r in resources])
    if orphans or not all_exact:
        return
    # ...else one per resource that no action of the statement is checked against.
    needed_kinds = {ACTION_RESOURCE_TYPES[action] for action in actions}
    for resource in resources:
        if resource.kind not in needed_kinds:
            groups: dict[tuple[str, str], list[str]] = {}
            for action in actions:
                key = (_mismatch(action, {resource.kind}), ACTION_RESOURCE_TYPES[action])
                groups.setdefault(key, []).append(action)
            (code, needed), names = min(groups.items(), key=lambda item: _SPECIFICITY[item[0][0]])
            yield _type_finding(index, code, names, needed, [resource.text])


# The mismatch codes, most specific first: a resource that fits none of a statement's actions is
# reported under the code that best explains it.
_SPECIFICITY = {
    "topic-for-subscribe": 0,
    "topicfilter-for-publish-receive": 1,
    "jobs-resource-not-thing": 2,
    "wrong-resource-type": 3,
}


def _mismatch(action: str, kinds: set[str | None]) -> str:
    needed = ACTION_RESOURCE_TYPES[action]
    if action == "iot:Subscribe" and "topic" in kinds:
        return "topic-for-subscribe"
    if needed == "topic" and "topicfilter" in kinds:
        return "topicfilter-for-publish-receive"
    if action in _HTTPS_JOBS:
        return "jobs-resource-not-thing"
    return "wrong-resource-type"


def _type_finding(
    index: int, code: str, actions: list[str], needed: str, resources: list[str]
) -> Finding:
    one = len(actions) == 1
    where = 'Resource "*"' if needed == "*" else f"{needed}/ ARNs"
    return _finding(
        code,
        index,
        f"{', '.join(actions)} on {', '.join(resources)} {'grants' if one else 'grant'} "
        f"nothing: {'it is' if one else 'they are'} checked only against {where}",
    )


def _names(actions: Iterable[str]) -> str:
    ordered = sorted(actions)
    if len(ordered) <= 4:
        return ", ".join(ordered)
    return f"{', '.join(ordered[:3])} and {len(ordered) - 3} more actions"


def _variables(statement: Statement) -> Iterator[str]:
    texts: Iterable[str] = (
        *statement.resources,
        *(value for condition in statement.conditions for value in condition.values),
    )
    for text in texts:
        for match in _VARIABLE_RE.finditer(text):
            yield match.group(1)


def _lint_document(document: PolicyDocument) -> Iterator[Finding]:
    """Rules about the statements taken together."""
    allowed: dict[str, int] = {}  # action -> first Allow statement granting it
    for index, statement in enumerate(document.statements, 1):
        if statement.effect is Effect.ALLOW:
            for action in _granted(statement):
                allowed.setdefault(action, index)
    if "iot:Subscribe" in allowed and "iot:Receive" not in allowed:
        yield _finding(
            "missing-receive",
            allowed["iot:Subscribe"],
            "iot:Subscribe is allowed but iot:Receive is not, so no message is ever delivered "
            "(Receive is checked on every delivery)",
        )
    messaging = sorted(set(allowed) & _MESSAGING)
    if messaging and "iot:Connect" not in allowed:
        yield _finding(
            "missing-connect",
            allowed[messaging[0]],
            f"{', '.join(messaging)} allowed but iot:Connect is not; the device cannot connect "
            "unless another attached policy allows it",
        )
    users = [
        index
        for index, statement in enumerate(document.statements, 1)
        if statement.effect is Effect.ALLOW
        # On a client/ resource the same variable is already a client-wildcard error.
        and any(CLIENT_ID_VARIABLE in r and ":client/" not in r for r in statement.resources)
    ]
    if users and not any(_binds_connect(s) for s in document.statements):
        yield _finding(
            "clientid-without-isattached",
            users[0],
            f"{CLIENT_ID_VARIABLE} is whatever client ID the device sends; allow iot:Connect "
            f'only with Condition {{"Bool": {{"{IS_ATTACHED_KEY}": "true"}}}}',
        )


def _granted(statement: Statement) -> set[str]:
    granted: set[str] = set()
    for action in statement.actions:
        if _has_wildcard(action):
            granted.update(_expand(action))
        elif (canonical := _CANONICAL.get(action.lower())) is not None:
            granted.add(canonical)
    return granted


def _binds_connect(statement: Statement) -> bool:
    """An Allow of iot:Connect that requires the certificate to be attached to the thing."""
    return (
        statement.effect is Effect.ALLOW
        and "iot:Connect" in _granted(statement)
        and any(
            condition.operator.lower() == "bool"
            and condition.key.lower() == IS_ATTACHED_KEY.lower()
            and [value.lower() for value in condition.values] == ["true"]
            for condition in statement.conditions
        )
    )
