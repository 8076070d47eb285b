"""The IoT Core policy decision: compile a principal's policies once, then answer each request.

Spec §4 "Evaluation": denied by default, any Allow grants, an explicit Deny wins over every
Allow, and all the policies attached to the certificate count together. Action names match
case-insensitively and may hold `*` and `?` (IAM "Action": "The prefix and the action name are
case insensitive"); resources match case-sensitively. A statement whose conditions do not hold
for the principal is dropped at compile time; one the engine cannot evaluate fails closed
(conditions.py).

A connection's principal does not change while it lives, so compile_policies() resolves every
variable and condition once, at CONNECT or at the HTTPS call. A policy change reaches a live
connection only when the emulator compiles again (AWS takes 6-8 minutes, spec §4).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from certs_tool.policy.document import Effect, PolicyDocument
from simfleet.emulator.policy.conditions import condition_holds
from simfleet.emulator.policy.context import PrincipalContext
from simfleet.emulator.policy.matcher import (
    GlobSet,
    Pattern,
    glob_set,
    parse_glob,
    parse_template,
)
from simfleet.emulator.policy.variables import ContextValues

# iot:Receive is checked at every delivery (spec §4), so its answers are remembered per topic.
# A device sees a handful of topics per job; the bound only stops a long soak from growing it.
_RECEIVE_CACHE_SIZE = 1024
# Actions come from the emulator's code, a dozen names; the bound guards against misuse.
_ACTION_CACHE_SIZE = 64


class JobsApi(enum.Enum):
    """The four Jobs HTTPS device operations (spec §2), named as in their policy actions."""

    GET_PENDING_JOB_EXECUTIONS = "GetPendingJobExecutions"
    START_NEXT_PENDING_JOB_EXECUTION = "StartNextPendingJobExecution"
    DESCRIBE_JOB_EXECUTION = "DescribeJobExecution"
    UPDATE_JOB_EXECUTION = "UpdateJobExecution"


class DenialCounter:
    """Denials counted by action (e.g. "iot:Receive"), shared by every Authorizer of an
    emulator; AWS logs each as AUTHORIZATION_FAILURE (spec §4)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def record(self, action: str) -> None:
        self._counts[action] = self._counts.get(action, 0) + 1

    def count(self, action: str) -> int:
        return self._counts.get(action, 0)

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)


@dataclass(frozen=True, kw_only=True)
class _Rule:
    """One statement after its conditions held: which actions, which resolved resources."""

    deny: bool
    actions: GlobSet
    resources: tuple[Pattern, ...]


@dataclass(frozen=True, kw_only=True)
class _ActionRules:
    """Every resource an action is denied on and allowed on, each as one compiled set."""

    deny: GlobSet | None
    allow: GlobSet | None

    def grants(self, resource_arn: str) -> bool:
        if self.deny is not None and self.deny.matches(resource_arn):
            return False
        return self.allow is not None and self.allow.matches(resource_arn)


def compile_policies(
    documents: Sequence[PolicyDocument],
    context: PrincipalContext,
    *,
    denials: DenialCounter | None = None,
) -> Authorizer:
    """The decisions for one principal under all the policies attached to its certificate."""
    values = ContextValues(context)
    rules = []
    for document in documents:
        for statement in document.statements:
            deny = statement.effect is Effect.DENY
            if not all(
                condition_holds(condition, values, when_unsupported=deny)
                for condition in statement.conditions
            ):
                continue
            rules.append(
                _Rule(
                    deny=deny,
                    actions=glob_set(tuple(parse_glob(a.lower()) for a in statement.actions)),
                    resources=tuple(values.resolve(parse_template(r)) for r in statement.resources),
                )
            )
    return Authorizer(context=context, rules=tuple(rules), denials=denials)


class Authorizer:
    """Answers "may this principal do ACTION on RESOURCE?"; every False is a counted denial.

    The MQTT broker asks can_connect at CONNECT, can_publish on every PUBLISH (and
    can_retain_publish as well when RETAIN is set; refusing RETAIN on reserved topics is the
    broker's rule, not the policy's), can_subscribe for each filter as sent, and can_receive
    before each delivery. The Jobs HTTPS API asks can_call_jobs.
    """

    __slots__ = ("_action_rules", "_arn_prefix", "_denials", "_receive", "_rules", "context")

    def __init__(
        self,
        *,
        context: PrincipalContext,
        rules: tuple[_Rule, ...],
        denials: DenialCounter | None = None,
    ) -> None:
        self.context = context
        self._rules = rules
        self._denials = denials
        self._arn_prefix = (
            f"arn:{_partition(context.region)}:iot:{context.region}:{context.account_id}:"
        )
        self._action_rules: dict[str, _ActionRules] = {}
        self._receive: dict[str, bool] = {}

    def allows(self, action: str, resource_arn: str) -> bool:
        """The decision for any action on any full resource ARN."""
        return self._counted(action, self._rules_for(action).grants(resource_arn))

    def can_connect(self) -> bool:
        client_id = self.context.client_id
        if client_id is None:  # HTTPS principals never CONNECT
            return self._counted("iot:Connect", False)
        return self.allows("iot:Connect", f"{self._arn_prefix}client/{client_id}")

    def can_publish(self, topic: str) -> bool:
        return self.allows("iot:Publish", f"{self._arn_prefix}topic/{topic}")

    def can_retain_publish(self, topic: str) -> bool:
        return self.allows("iot:RetainPublish", f"{self._arn_prefix}topic/{topic}")

    def can_subscribe(self, topic_filter: str) -> bool:
        """`topic_filter` exactly as sent: `+` and `#` are matched as plain characters."""
        return self.allows("iot:Subscribe", f"{self._arn_prefix}topicfilter/{topic_filter}")

    def can_receive(self, topic: str) -> bool:
        granted = self._receive.get(topic)
        if granted is None:
            granted = self._rules_for("iot:Receive").grants(f"{self._arn_prefix}topic/{topic}")
            if len(self._receive) >= _RECEIVE_CACHE_SIZE:
                del self._receive[next(iter(self._receive))]
            self._receive[topic] = granted
        return granted or self._counted("iot:Receive", False)

    def can_call_jobs(self, api: JobsApi | str, thing_name: str) -> bool:
        """A Jobs HTTPS call on `thing/{thing_name}`; `api` is a JobsApi or its value.

        The action is `iotjobsdata:<api>`, and the older `iot:<api>` name is honoured too
        (spec §4 [U]): a Deny of either denies, an Allow of either grants. A denial is counted
        under the `iotjobsdata:` name.
        """
        name = JobsApi(api).value
        arn = f"{self._arn_prefix}thing/{thing_name}"
        rules = (self._rules_for(f"iotjobsdata:{name}"), self._rules_for(f"iot:{name}"))
        if any(r.deny is not None and r.deny.matches(arn) for r in rules):
            granted = False
        else:
            granted = any(r.allow is not None and r.allow.matches(arn) for r in rules)
        return self._counted(f"iotjobsdata:{name}", granted)

    def _counted(self, action: str, granted: bool) -> bool:
        if not granted and self._denials is not None:
            self._denials.record(action)
        return granted

    def _rules_for(self, action: str) -> _ActionRules:
        key = action.lower()
        found = self._action_rules.get(key)
        if found is None:
            found = _ActionRules(
                deny=_union(
                    rule for rule in self._rules if rule.deny and rule.actions.matches(key)
                ),
                allow=_union(
                    rule for rule in self._rules if not rule.deny and rule.actions.matches(key)
                ),
            )
            if len(self._action_rules) < _ACTION_CACHE_SIZE:
                self._action_rules[key] = found
        return found


def _partition(region: str) -> str:
    # China and GovCloud regions have their own ARN partitions (as certs_tool's templates write).
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _union(rules: Iterable[_Rule]) -> GlobSet | None:
    patterns = tuple(dict.fromkeys(pattern for rule in rules for pattern in rule.resources))
    return glob_set(patterns) if patterns else None
