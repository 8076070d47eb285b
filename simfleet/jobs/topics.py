"""The reserved Jobs topics `$aws/things/{thingName}/jobs/…` (spec §1.1): build and parse.

After the prefix, a topic has one to three levels::

    get | start-next | notify | notify-next                  requests, notifications
    get/{accepted|rejected} | start-next/{accepted|rejected}  their replies
    {jobId}/{get|update}                                      per-job requests
    {jobId}/{get|update}/{accepted|rejected}                  their replies

({jobId} may be `$next` for `get`.)

A job may be called `get` or `notify`; the level count tells the shapes apart
(`jobs/get/get` describes the job named "get").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from simfleet.jobs.errors import InvalidName

PREFIX: Final = "$aws/things/"
NEXT_JOB_ID: Final = "$next"

# Thing name 1-128 of [a-zA-Z0-9:_-] (§5); job id 1-64 of [a-zA-Z0-9_-] (§3).
_THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_JOB_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class Operation(Enum):
    """A Jobs device API, valued by the name AWS gives it (spec §1.1)."""

    GET_PENDING = "GetPendingJobExecutions"
    START_NEXT = "StartNextPendingJobExecution"
    DESCRIBE = "DescribeJobExecution"
    UPDATE = "UpdateJobExecution"
    NOTIFY = "JobExecutionsChanged"
    NOTIFY_NEXT = "NextJobExecutionChanged"

    @property
    def level(self) -> str:
        """The topic level naming this operation."""
        return _LEVELS[self]

    @property
    def per_job(self) -> bool:
        """True for the operations whose topic names a job: `{jobId}/get`, `{jobId}/update`."""
        return self in (Operation.DESCRIBE, Operation.UPDATE)

    @property
    def is_notification(self) -> bool:
        return self in (Operation.NOTIFY, Operation.NOTIFY_NEXT)


_LEVELS: Final[dict[Operation, str]] = {
    Operation.GET_PENDING: "get",
    Operation.START_NEXT: "start-next",
    Operation.DESCRIBE: "get",
    Operation.UPDATE: "update",
    Operation.NOTIFY: "notify",
    Operation.NOTIFY_NEXT: "notify-next",
}


class Reply(Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


def is_valid_thing_name(name: str) -> bool:
    return _THING_NAME.fullmatch(name) is not None


def is_valid_job_id(job_id: str) -> bool:
    return _JOB_ID.fullmatch(job_id) is not None


def check_thing_name(name: str) -> str:
    """Return `name`, or raise InvalidName when AWS would not accept it as a thing name."""
    if not is_valid_thing_name(name):
        raise InvalidName(f"thing name must be 1-128 of [a-zA-Z0-9:_-], got {name!r}")
    return name


def check_job_id(job_id: str, *, allow_next: bool = False) -> str:
    """Return `job_id`, or raise InvalidName; `$next` passes only when `allow_next`."""
    if not (is_valid_job_id(job_id) or (allow_next and job_id == NEXT_JOB_ID)):
        raise InvalidName(f"job id must be 1-64 of [a-zA-Z0-9_-], got {job_id!r}")
    return job_id


@dataclass(frozen=True, kw_only=True)
class JobsTopic:
    """A topic of the Jobs namespace that maps to an API.

    `job_id` is set exactly for DESCRIBE (where it may be `$next`) and UPDATE. `reply` is None
    for a request (device → service) and for a notification (service → device).
    """

    thing_name: str
    operation: Operation
    job_id: str | None = None
    reply: Reply | None = None

    def __post_init__(self) -> None:
        check_thing_name(self.thing_name)
        if self.operation.per_job:
            if self.job_id is None:
                raise InvalidName(f"{self.operation.name} needs a job id")
            check_job_id(self.job_id, allow_next=self.operation is Operation.DESCRIBE)
        elif self.job_id is not None:
            raise InvalidName(f"{self.operation.name} takes no job id")
        if self.operation.is_notification and self.reply is not None:
            raise InvalidName(f"{self.operation.name} has no {self.reply.value} topic")

    @property
    def is_request(self) -> bool:
        """True for a topic a device publishes a request to."""
        return self.reply is None and not self.operation.is_notification

    @property
    def topic(self) -> str:
        levels = [f"{PREFIX}{self.thing_name}/jobs"]
        if self.job_id is not None:
            levels.append(self.job_id)
        levels.append(self.operation.level)
        if self.reply is not None:
            levels.append(self.reply.value)
        return "/".join(levels)

    def with_reply(self, reply: Reply) -> JobsTopic:
        """The accepted or rejected topic answering this request topic."""
        return JobsTopic(
            thing_name=self.thing_name, operation=self.operation, job_id=self.job_id, reply=reply
        )


@dataclass(frozen=True, kw_only=True)
class UnknownJobsTopic:
    """A topic inside `$aws/things/{thing}/jobs` that maps to no API: the service answers it
    with InvalidTopic (spec §1.4). `thing_name` is the raw level, possibly not a valid name."""

    thing_name: str
    topic: str


_ONE_LEVEL = {
    op.level: op
    for op in (Operation.GET_PENDING, Operation.START_NEXT, Operation.NOTIFY, Operation.NOTIFY_NEXT)
}
_REPLYING = {op.level: op for op in (Operation.GET_PENDING, Operation.START_NEXT)}
_PER_JOB = {op.level: op for op in (Operation.DESCRIBE, Operation.UPDATE)}
_REPLIES = {reply.value: reply for reply in Reply}


def parse_jobs_topic(topic: str) -> JobsTopic | UnknownJobsTopic | None:
    """Parse a topic: None outside the Jobs namespace, UnknownJobsTopic inside it but mapping
    to no API (including bad thing names and job ids), else the JobsTopic."""
    if not topic.startswith(PREFIX):
        return None
    thing_name, _, rest = topic[len(PREFIX) :].partition("/")
    if rest != "jobs" and not rest.startswith("jobs/"):
        return None
    parsed = _parse_levels(rest.split("/")[1:])
    if parsed is not None and is_valid_thing_name(thing_name):
        operation, job_id, reply = parsed
        try:
            return JobsTopic(thing_name=thing_name, operation=operation, job_id=job_id, reply=reply)
        except InvalidName:
            pass  # a bad job id, or `$next/update`: in the namespace, but no API answers it
    return UnknownJobsTopic(thing_name=thing_name, topic=topic)


def _parse_levels(levels: list[str]) -> tuple[Operation, str | None, Reply | None] | None:
    match levels:
        case [name] if name in _ONE_LEVEL:
            return _ONE_LEVEL[name], None, None
        case [name, answer] if name in _REPLYING and answer in _REPLIES:
            return _REPLYING[name], None, _REPLIES[answer]
        case [job_id, name] if name in _PER_JOB:
            return _PER_JOB[name], job_id, None
        case [job_id, name, answer] if name in _PER_JOB and answer in _REPLIES:
            return _PER_JOB[name], job_id, _REPLIES[answer]
    return None


def subscription_filters(thing_name: str) -> tuple[str, ...]:
    """The topic filters a device subscribes to for every reply and notification.

    The same six filters as the SDK v2 sample and its policy (spec §4), fewer than AWS's limit
    of 8 filters per SUBSCRIBE (spec §6).
    """
    base = f"{PREFIX}{check_thing_name(thing_name)}/jobs"
    return (
        f"{base}/notify",
        f"{base}/notify-next",
        f"{base}/get/+",
        f"{base}/start-next/+",
        f"{base}/+/get/+",
        f"{base}/+/update/+",
    )
