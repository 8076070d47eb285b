"""The configuration members of CreateJob and UpdateJob that drive a job after it is created
(spec §3; ranges from botocore's `iot` model and the AWS API reference): the rollout rate,
the abort criteria, the in-progress timeout and the retry criteria.

Parsed once, at the control plane's edge, into frozen dataclasses; a member outside AWS's
ranges is refused with InvalidRequestException (400) naming it, in the words AWS's request
validation uses. `JobConfig.to_members()` gives back the members as DescribeJob answers them,
which is also how `Job.config` stores them, so a restart parses them again.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.jobs import ExecutionStatus
from simfleet.jobs.execution import MAX_TIMEOUT_MINUTES  # inProgressTimeoutInMinutes: 1-10080

MAX_RATE_PER_MINUTE: Final = 1000  # maximumPerMinute and baseRatePerMinute: 1-1000
MAX_RETRIES: Final = 10  # "up to 10 retries for both failure types combined"

ROLLOUT: Final = "jobExecutionsRolloutConfig"
ABORT: Final = "abortConfig"
TIMEOUT: Final = "timeoutConfig"
RETRY: Final = "jobExecutionsRetryConfig"


class FailureType(enum.StrEnum):
    """JobExecutionFailureType (abort) and RetryableFailureType (retry, without REJECTED)."""

    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    ALL = "ALL"

    @property
    def statuses(self) -> frozenset[ExecutionStatus]:
        if self is FailureType.ALL:
            return _FAILURES
        return frozenset({ExecutionStatus(self.value)})


_FAILURES: Final = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.REJECTED, ExecutionStatus.TIMED_OUT}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExponentialRate:
    base_rate_per_minute: int
    increment_tenths: int  # incrementFactor * 10: AWS takes one decimal, so 11-50 exactly
    notified_things: int | None  # rateIncreaseCriteria.numberOfNotifiedThings
    succeeded_things: int | None  # rateIncreaseCriteria.numberOfSucceededThings


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutConfig:
    maximum_per_minute: int | None = None
    exponential: ExponentialRate | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AbortCriterion:
    failure_type: FailureType
    threshold_hundredths: int  # thresholdPercentage * 100: AWS takes two decimals
    min_executed_things: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryCriterion:
    failure_type: FailureType  # FAILED, TIMED_OUT or ALL
    retries: int


@dataclass(frozen=True, kw_only=True, slots=True)
class JobConfig:
    rollout: RolloutConfig | None = None
    abort: tuple[AbortCriterion, ...] = ()
    in_progress_timeout_minutes: int | None = None
    retry: tuple[RetryCriterion, ...] = ()

    @classmethod
    def from_members(cls, members: Mapping[str, Any]) -> JobConfig:
        """Parse the four members (absent or None ones are not configured)."""
        return cls().updated(members)

    def updated(self, members: Mapping[str, Any]) -> JobConfig:
        """This config with the members given (UpdateJob); absent ones keep their value."""
        changes: dict[str, Any] = {}
        rollout = None if members.get(ROLLOUT) is None else _rollout(members[ROLLOUT])
        if rollout is not None:
            changes["rollout"] = rollout
        if members.get(ABORT) is not None:
            changes["abort"] = _abort(members[ABORT])
        if members.get(TIMEOUT) is not None:
            changes["in_progress_timeout_minutes"] = _timeout(members[TIMEOUT])
        if members.get(RETRY) is not None:
            changes["retry"] = _retry(members[RETRY])
        return dataclasses.replace(self, **changes)

    def to_members(self) -> dict[str, Any]:
        """The members as DescribeJob answers them (absent ones left out)."""
        out: dict[str, Any] = {}
        if self.rollout is not None:
            rollout: dict[str, Any] = {}
            if self.rollout.maximum_per_minute is not None:
                rollout["maximumPerMinute"] = self.rollout.maximum_per_minute
            rate = self.rollout.exponential
            if rate is not None:
                criteria = {}
                if rate.notified_things is not None:
                    criteria["numberOfNotifiedThings"] = rate.notified_things
                if rate.succeeded_things is not None:
                    criteria["numberOfSucceededThings"] = rate.succeeded_things
                rollout["exponentialRate"] = {
                    "baseRatePerMinute": rate.base_rate_per_minute,
                    "incrementFactor": rate.increment_tenths / 10,
                    "rateIncreaseCriteria": criteria,
                }
            out[ROLLOUT] = rollout
        if self.abort:
            out[ABORT] = {
                "criteriaList": [
                    {
                        "failureType": c.failure_type.value,
                        "action": "CANCEL",
                        "thresholdPercentage": c.threshold_hundredths / 100,
                        "minNumberOfExecutedThings": c.min_executed_things,
                    }
                    for c in self.abort
                ]
            }
        if self.in_progress_timeout_minutes is not None:
            out[TIMEOUT] = {"inProgressTimeoutInMinutes": self.in_progress_timeout_minutes}
        if self.retry:
            out[RETRY] = {
                "criteriaList": [
                    {"failureType": c.failure_type.value, "numberOfRetries": c.retries}
                    for c in self.retry
                ]
            }
        return out


# --- the members, one parser each -----------------------------------------------------------


def _rollout(value: object) -> RolloutConfig | None:
    members = _structure(value, ROLLOUT)
    maximum = _integer(members, "maximumPerMinute", ROLLOUT, 1, MAX_RATE_PER_MINUTE)
    exponential = None
    if members.get("exponentialRate") is not None:
        where = f"{ROLLOUT}.exponentialRate"
        rate = _structure(members["exponentialRate"], where)
        criteria_where = f"{where}.rateIncreaseCriteria"
        criteria = _structure(_required(rate, "rateIncreaseCriteria", where), criteria_where)
        notified = _integer(criteria, "numberOfNotifiedThings", criteria_where, 1, None)
        succeeded = _integer(criteria, "numberOfSucceededThings", criteria_where, 1, None)
        if notified is None and succeeded is None:
            raise invalid_request(
                f"{criteria_where} must set numberOfNotifiedThings or numberOfSucceededThings"
            )
        exponential = ExponentialRate(
            base_rate_per_minute=_count(rate, "baseRatePerMinute", where, 1, MAX_RATE_PER_MINUTE),
            increment_tenths=_decimal(rate, "incrementFactor", where, 1.1, 5, places=1),
            notified_things=notified,
            succeeded_things=succeeded,
        )
    if maximum is None and exponential is None:
        return None  # an empty rollout config rolls out as if none were given
    return RolloutConfig(maximum_per_minute=maximum, exponential=exponential)


def _abort(value: object) -> tuple[AbortCriterion, ...]:
    members = _structure(value, ABORT)
    criteria = []
    for i, item in enumerate(_criteria_list(members, ABORT, None)):
        where = f"{ABORT}.criteriaList.{i + 1}"
        criterion = _structure(item, where)
        action = _required(criterion, "action", where)
        if action != "CANCEL":
            raise _constraint(
                action, f"{where}.action", "Member must satisfy enum value set: [CANCEL]"
            )
        criteria.append(
            AbortCriterion(
                failure_type=_failure_type(criterion, where, tuple(FailureType)),
                threshold_hundredths=_decimal(
                    criterion, "thresholdPercentage", where, 0, 100, places=2
                ),
                min_executed_things=_count(criterion, "minNumberOfExecutedThings", where, 1, None),
            )
        )
    _unique([c.failure_type for c in criteria], ABORT)
    return tuple(criteria)


def _timeout(value: object) -> int | None:
    members = _structure(value, TIMEOUT)
    return _integer(members, "inProgressTimeoutInMinutes", TIMEOUT, 1, MAX_TIMEOUT_MINUTES)


def _retry(value: object) -> tuple[RetryCriterion, ...]:
    members = _structure(value, RETRY)
    allowed = (FailureType.FAILED, FailureType.TIMED_OUT, FailureType.ALL)
    criteria = []
    for i, item in enumerate(_criteria_list(members, RETRY, 2)):
        where = f"{RETRY}.criteriaList.{i + 1}"
        criterion = _structure(item, where)
        criteria.append(
            RetryCriterion(
                failure_type=_failure_type(criterion, where, allowed),
                retries=_count(criterion, "numberOfRetries", where, 0, MAX_RETRIES),
            )
        )
    _unique([c.failure_type for c in criteria], RETRY)
    if sum(c.retries for c in criteria) > MAX_RETRIES:
        raise invalid_request(
            f"{RETRY}: the numberOfRetries of all criteria must add up to at most {MAX_RETRIES}"
        )
    return tuple(criteria)


# --- checks -----------------------------------------------------------------------------------


def _constraint(value: object, where: str, constraint: str) -> AwsError:
    return invalid_request(
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy"
        f" constraint: {constraint}"
    )


def _structure(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid_request(f"{where} must be a structure")
    return value


def _required(members: Mapping[str, Any], name: str, where: str) -> Any:
    value = members.get(name)
    if value is None:
        raise _constraint(None, f"{where}.{name}", "Member must not be null")
    return value


def _criteria_list(members: Mapping[str, Any], where: str, most: int | None) -> list[Any]:
    items = _required(members, "criteriaList", where)
    if not isinstance(items, list) or not items or (most is not None and len(items) > most):
        limit = "" if most is None else f" and at most {most}"
        raise _constraint(
            items, f"{where}.criteriaList", f"Member must have length at least 1{limit}"
        )
    return items


def _integer(
    members: Mapping[str, Any], name: str, where: str, lowest: int, highest: int | None
) -> int | None:
    """An optional integer member."""
    if members.get(name) is None:
        return None
    return _count(members, name, where, lowest, highest)


def _count(
    members: Mapping[str, Any], name: str, where: str, lowest: int, highest: int | None
) -> int:
    """A required integer member."""
    value = _required(members, name, where)
    path = f"{where}.{name}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise _constraint(value, path, "Member must be an integer")
    if value < lowest:
        raise _constraint(value, path, f"Member must have value greater than or equal to {lowest}")
    if highest is not None and value > highest:
        raise _constraint(value, path, f"Member must have value less than or equal to {highest}")
    return value


def _decimal(
    members: Mapping[str, Any],
    name: str,
    where: str,
    lowest: float,
    highest: float,
    *,
    places: int,
) -> int:
    """A number with at most `places` decimals, as an integer count of 10**-places."""
    value: object = _required(members, name, where)
    path = f"{where}.{name}"
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise _constraint(value, path, "Member must be a number")
    if not lowest <= value <= highest:
        raise _constraint(value, path, f"Member must be between {lowest} and {highest}")
    scaled = value * 10.0**places
    units = round(scaled)
    if abs(scaled - units) > 1e-6:
        raise _constraint(value, path, f"Member must have at most {places} digits after the point")
    return units


def _failure_type(
    members: Mapping[str, Any], where: str, allowed: tuple[FailureType, ...]
) -> FailureType:
    value = _required(members, "failureType", where)
    if value not in {f.value for f in allowed}:
        names = ", ".join(f.value for f in allowed)
        raise _constraint(
            value, f"{where}.failureType", f"Member must satisfy enum value set: [{names}]"
        )
    return FailureType(value)


def _unique(types: list[FailureType], where: str) -> None:
    # [U] AWS does not say what two criteria for one failure type mean; refusing them keeps
    # every failure under at most one criterion of its own type (plus ALL).
    if len(set(types)) != len(types):
        raise invalid_request(f"{where}.criteriaList names a failureType more than once")
