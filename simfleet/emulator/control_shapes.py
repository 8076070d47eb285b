"""The pieces ControlPlane builds its answers from: ARNs, input checks that AWS makes on the
server side (patterns and bounds of botocore's `iot` model), pagination, and the output shapes
of jobs and executions (member names as in the model, timestamps as UTC datetimes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Final, TypeVar

from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.emulator.records import Job, JobStatus
from simfleet.jobs import ExecutionRecord, ExecutionStatus

T = TypeVar("T")

MAX_DOCUMENT_BYTES: Final = 32768  # CreateJob `document` (spec §3)
MAX_RESULTS: Final = 250  # LaserMaxResults and RegistryMaxResults: 1-250
# [U] AWS documents no default page size; the model's maximum spares callers a loop.
DEFAULT_PAGE_SIZE: Final = MAX_RESULTS

_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")  # ThingName, ThingGroupName
_REASON_CODE = re.compile(r"[A-Z0-9_]{1,128}")  # ReasonCode: [\p{Upper}\p{Digit}_]+
_MAX_TEXT = 2028  # JobDescription, Comment
_DETAIL_KEY = re.compile(r"[a-zA-Z0-9:_-]{1,128}")  # DetailsKey
_MAX_DETAIL_VALUE = 1024  # DetailsValue
_MAX_DETAILS = 10

# JobProcessDetails: one count per execution status.
PROCESS_COUNTS: Final[Mapping[ExecutionStatus, str]] = {
    ExecutionStatus.CANCELED: "numberOfCanceledThings",
    ExecutionStatus.SUCCEEDED: "numberOfSucceededThings",
    ExecutionStatus.FAILED: "numberOfFailedThings",
    ExecutionStatus.REJECTED: "numberOfRejectedThings",
    ExecutionStatus.QUEUED: "numberOfQueuedThings",
    ExecutionStatus.IN_PROGRESS: "numberOfInProgressThings",
    ExecutionStatus.REMOVED: "numberOfRemovedThings",
    ExecutionStatus.TIMED_OUT: "numberOfTimedOutThings",
}


def partition(region: str) -> str:
    """The ARN partition of a region (China and GovCloud have their own)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


# --- input checks -------------------------------------------------------------------------


def check_name(value: str, member: str) -> str:
    """A thing or thing-group name: 1-128 of [a-zA-Z0-9:_-]."""
    if not _NAME.fullmatch(value):
        raise invalid_request(f"{member} must be 1-128 characters of [a-zA-Z0-9:_-]")
    return value


def check_text(value: str | None, member: str) -> str | None:
    """Description and comment: at most 2028 characters, no control characters."""
    if value is not None and (
        not value
        or len(value) > _MAX_TEXT
        or any(unicodedata.category(c).startswith("C") for c in value)
    ):
        raise invalid_request(f"{member} must be 1-{_MAX_TEXT} characters, none a control one")
    return value


def check_reason_code(value: str | None) -> str | None:
    if value is not None and not _REASON_CODE.fullmatch(value):
        raise invalid_request("reasonCode must be 1-128 characters of [A-Z0-9_]")
    return value


def parse_document(document: str) -> Mapping[str, Any]:
    """A job document: a JSON object of at most 32768 bytes of UTF-8 (spec §3)."""
    if len(document.encode()) > MAX_DOCUMENT_BYTES:
        raise invalid_request(f"The job document exceeds {MAX_DOCUMENT_BYTES} bytes")
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        raise invalid_request("The job document is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise invalid_request("The job document must be a JSON object")
    return parsed


def check_attributes(attributes: Mapping[str, str] | None) -> dict[str, str]:
    """Thing and group attributes: names 1-128 of [a-zA-Z0-9_.,@/:#-], values up to 800."""
    checked = dict(attributes or {})
    for name, value in checked.items():
        if not re.fullmatch(r"[a-zA-Z0-9_.,@/:#-]{1,128}", name):
            raise invalid_request(f"invalid attribute name {name!r}")
        if not isinstance(value, str) or not re.fullmatch(
            r"[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}", value
        ):
            raise invalid_request(f"invalid value for attribute {name!r}")
    return checked


def check_status_details(details: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """statusDetails (DetailsMap): at most 10 pairs (CancelJobExecution), keys 1-128 of
    [a-zA-Z0-9:_-], values 1-1024 characters with no control ones (spec §1.2)."""
    if details is None:
        return None
    if len(details) > _MAX_DETAILS:
        raise invalid_request(f"statusDetails holds at most {_MAX_DETAILS} name/value pairs")
    for key, value in details.items():
        if not _DETAIL_KEY.fullmatch(key):
            raise invalid_request("statusDetails keys must be 1-128 characters of [a-zA-Z0-9:_-]")
        if not isinstance(value, str) or not 1 <= len(value) <= _MAX_DETAIL_VALUE:
            raise invalid_request(f"statusDetails.{key} must be 1-{_MAX_DETAIL_VALUE} characters")
        if any(unicodedata.category(c).startswith("C") for c in value):
            raise invalid_request(f"statusDetails.{key} must not hold control characters")
    return details


def check_enum(value: str | None, allowed: Iterable[str], member: str) -> str | None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise invalid_request(f"{member} must be one of {', '.join(allowed)}")
    return value


def not_implemented(what: str) -> AwsError:
    """501 NotImplementedException: a status AWS IoT never sends, so a test cannot take it for
    AWS's answer (the HTTP layer answers unimplemented operations the same way)."""
    return AwsError("NotImplementedException", f"The emulator does not implement {what}.", 501)


def refuse_unsupported(members: Mapping[str, object]) -> None:
    """Request members the emulator does not implement are refused, never silently ignored:
    a test that sets a rollout rate must not pass against an emulator that ignores it."""
    given = sorted(name for name, value in members.items() if value is not None)
    if given:
        raise not_implemented(", ".join(given))


# --- pagination ---------------------------------------------------------------------------


def paginate(
    items: Iterable[T], *, max_results: int | None, next_token: str | None
) -> tuple[list[T], str | None]:
    """One page of `items` and the token of the next page (None after the last).

    Tokens hold an offset into the listing, which holds still for lists that only grow
    (executions of a job, things, jobs); they are opaque to callers, as AWS's are.
    """
    size = DEFAULT_PAGE_SIZE if max_results is None else max_results
    if not 1 <= size <= MAX_RESULTS:
        raise invalid_request(f"maxResults must be 1-{MAX_RESULTS}")
    start = 0 if next_token is None else _offset(next_token)
    page = list(islice(items, start, start + size + 1))
    if len(page) <= size:
        return page, None
    return page[:size], base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode()


def _offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError):
        text = ""
    if not re.fullmatch(r"o:[0-9]{1,12}", text):
        raise invalid_request("Invalid nextToken")
    return int(text[2:])


# --- output shapes ------------------------------------------------------------------------


def put(out: dict[str, Any], member: str, value: object) -> None:
    """Set `member` unless the value is absent: AWS leaves absent members out."""
    if value is not None:
        out[member] = value


def job_summary(job: Job, arn: str) -> dict[str, Any]:
    """JobSummary (ListJobs)."""
    out: dict[str, Any] = {
        "jobArn": arn,
        "jobId": job.job_id,
        "targetSelection": job.target_selection.value,
        "status": job.status.value,
        "createdAt": timestamp(job.created_at),
        "lastUpdatedAt": timestamp(job.last_updated_at),
    }
    if job.completed_at is not None:
        out["completedAt"] = timestamp(job.completed_at)
    return out


def job_shape(job: Job, arn: str, counts: Mapping[ExecutionStatus, int]) -> dict[str, Any]:
    """Job (DescribeJob)."""
    out = job_summary(job, arn)
    out["targets"] = list(job.targets)
    put(out, "description", job.description)
    if job.status is JobStatus.CANCELED:
        out["forceCanceled"] = job.force_canceled
    put(out, "reasonCode", job.reason_code)
    put(out, "comment", job.comment)
    # The configuration members, as JobConfig.to_members() stored them (Job shape's names).
    out.update(job.config)
    out["jobProcessDetails"] = {
        member: counts.get(status, 0) for status, member in PROCESS_COUNTS.items()
    }
    return out


def execution_summary(record: ExecutionRecord) -> dict[str, Any]:
    """JobExecutionSummary (the control plane's, with status and no version)."""
    out: dict[str, Any] = {
        "status": record.status.value,
        "queuedAt": timestamp(record.queued_at),
        "lastUpdatedAt": timestamp(record.last_updated_at),
        "executionNumber": record.execution_number,
    }
    if record.started_at is not None:
        out["startedAt"] = timestamp(record.started_at)
    return out


def execution_shape(record: ExecutionRecord, thing_arn: str, now: int) -> dict[str, Any]:
    """JobExecution (DescribeJobExecution on the control plane)."""
    out = execution_summary(record)
    out.update(
        jobId=record.job_id,
        thingArn=thing_arn,
        versionNumber=record.version_number,
    )
    if record.status_details is not None:
        out["statusDetails"] = {"detailsMap": dict(record.status_details)}
    if record.deadline is not None:
        out["approximateSecondsBeforeTimedOut"] = max(0, record.deadline - now)
    return out
