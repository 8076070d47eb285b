"""IAM's evaluation of identity-based policies for one request (IAM User Guide, "Policy
evaluation logic", identity policies only: no SCP, boundary, session or resource policy).

    any applicable Deny statement      → EXPLICIT_DENY (an explicit Deny always wins)
    else any applicable Allow statement → ALLOW
    else                                → IMPLICIT_DENY (denied by default)

A statement applies when its Action (or NotAction), its Resource (or NotResource) and every
one of its conditions match the request. Action names compare case-insensitively and
resources case-sensitively, both with `*` (any run, `/` and `:` included) and `?` (one
character): `simfleet.emulator.policy.glob_matches`, the matcher of IoT Core policies.

An action may be granted under several names (`Request.actions`): the Jobs data plane's
`iotjobsdata:UpdateJobExecution` also answers to the older `iot:UpdateJobExecution` (spec §4,
[U]: the emulator accepts both). Action matches when any name is listed; NotAction matches
only when no name is listed, so excluding either name excludes the action.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from simfleet.emulator.iam.conditions import condition_holds
from simfleet.emulator.iam.document import Effect, IamPolicy, IamStatement, Version
from simfleet.emulator.iam.variables import resolve
from simfleet.emulator.policy import glob_matches


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True, kw_only=True)
class Request:
    """What is asked: `actions` lower-cased (the first is the action's own name), one resource
    ARN (or "*"), and the condition keys with lower-cased names."""

    actions: tuple[str, ...]
    resource: str
    context: Mapping[str, str]


def evaluate(policies: Iterable[IamPolicy], request: Request) -> Decision:
    allowed = False
    for policy in policies:
        for statement in policy.statements:
            if not _applies(statement, policy.version, request):
                continue
            if statement.effect is Effect.DENY:
                return Decision.EXPLICIT_DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _applies(statement: IamStatement, version: Version, request: Request) -> bool:
    listed = any(
        glob_matches(pattern, action) for pattern in statement.actions for action in request.actions
    )
    if listed == statement.not_action:
        return False
    variables = version is Version.V2012
    patterns: list[str] = []
    for text in statement.resources:
        pattern = resolve(text, request.context, glob=True) if variables else text
        if pattern is None:  # a variable without a value: the statement does not apply
            return False
        patterns.append(pattern)
    listed = any(glob_matches(pattern, request.resource) for pattern in patterns)
    if listed == statement.not_resource:
        return False
    return all(
        condition_holds(condition, request.context, variables=variables)
        for condition in statement.conditions
    )
