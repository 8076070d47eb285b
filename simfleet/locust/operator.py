"""The operator's side: the AWS IoT control plane through an unmodified boto3 `iot` client.

`JobsOperator` makes the calls a fleet operator makes during a rollout (CreateJob, DescribeJob,
DescribeThingGroup) and reports each as one `API` row; `JobPlanner` decides when each job of
the run is due. Under Locust, gevent has patched the sockets boto3's urllib3 uses, so a call
blocks only its own user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from simfleet.locust.errors import ControlPlaneError
from simfleet.locust.summary import JobProgress

API = "API"
# What the operator rolls out when no --job-document is given.
DEFAULT_DOCUMENT = json.dumps(
    {
        "operation": "firmware-update",
        "version": "2.1.0",
        "url": "https://example.invalid/firmware-2.1.0.bin",
    }
)
MAX_DOCUMENT_BYTES = 32768  # spec §3, "Document"


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiCall:
    """One timed control-plane call: an `API` stats row named after the operation."""

    name: str
    duration_ms: float
    error: ControlPlaneError | None = None
    job_id: str = ""


ApiReporter = Callable[[ApiCall], None]


@dataclass(frozen=True, kw_only=True)
class ControlPlaneAccess:
    """How to reach the control plane: the emulator's (from its ready line), or AWS's through
    the usual credential chain (keys None, `api_url` None: the region's public endpoint)."""

    region: str | None
    api_url: str | None = None
    verify: str | bool = True  # a CA file for the emulator's API, True for AWS's
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


def iot_client(access: ControlPlaneAccess, *, attempts: int = 3) -> Any:
    """A boto3 `iot` client making up to `attempts` tries per call (botocore's standard retry
    mode: throttling and transient errors, with jittered backoff). The Operator's client gives
    up soon, so that its rows show what the control plane answers; set-up work (a thing group
    filled at AddThingToThingGroup's 60/s) keeps trying. botocore's adaptive mode, which paces
    the client instead, was measured twice as slow at filling a group."""
    return boto3.client(
        "iot",
        endpoint_url=access.api_url,
        region_name=access.region,
        verify=access.verify,
        aws_access_key_id=access.access_key_id,
        aws_secret_access_key=access.secret_access_key,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


class JobsOperator:
    """Control-plane calls, each timed and reported; failures raise ControlPlaneError."""

    def __init__(
        self,
        client: Any,
        *,
        report: ApiReporter,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._client = client
        self._report = report
        self._monotonic = monotonic

    def thing_group_arn(self, name: str) -> str:
        with self._call("DescribeThingGroup"):
            return str(self._client.describe_thing_group(thingGroupName=name)["thingGroupArn"])

    def create_job(
        self,
        job_id: str,
        *,
        targets: Sequence[str],
        document: str,
        rollout_max_per_minute: int | None = None,
    ) -> None:
        request: dict[str, Any] = {"jobId": job_id, "targets": list(targets), "document": document}
        if rollout_max_per_minute is not None:
            request["jobExecutionsRolloutConfig"] = {"maximumPerMinute": rollout_max_per_minute}
        with self._call("CreateJob", job_id):
            self._client.create_job(**request)

    def progress(self, job_id: str) -> JobProgress:
        with self._call("DescribeJob", job_id):
            return JobProgress.from_job(self._client.describe_job(jobId=job_id)["job"])

    @contextmanager
    def _call(self, name: str, job_id: str = "") -> Iterator[None]:
        started = self._monotonic()
        error: ControlPlaneError | None = None
        try:
            yield
        except ClientError as exc:
            details = exc.response.get("Error", {})
            error = ControlPlaneError(
                str(details.get("Code") or "ClientError"), str(details.get("Message", ""))
            )
            raise error from None
        except BotoCoreError as exc:  # connection refused, TLS, timeouts: no AWS code
            error = ControlPlaneError(type(exc).__name__, str(exc))
            raise error from None
        finally:
            duration = (self._monotonic() - started) * 1000.0
            self._report(ApiCall(name=name, duration_ms=duration, error=error, job_id=job_id))


class JobPlanner:
    """When each of the run's jobs is due: `count` jobs named `<prefix>-1`, `<prefix>-2`, ...,
    `per_minute` of them a minute from `start`, or all at once when `per_minute` is 0."""

    def __init__(self, *, prefix: str, count: int, per_minute: float, start: float) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        if per_minute < 0:
            raise ValueError(f"per_minute must not be negative, not {per_minute}")
        self._prefix = prefix
        self._count = count
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._start = start
        self._issued = 0

    @property
    def done(self) -> bool:
        """True once every job has been handed out by `due`."""
        return self._issued == self._count

    def next_due(self) -> float | None:
        """When the next job falls due, or None when none is left."""
        return None if self.done else self._start + self._issued * self._interval

    def due(self, now: float) -> list[str]:
        """The ids of the jobs due by `now` not handed out yet, oldest first."""
        ready: list[str] = []
        while (at := self.next_due()) is not None and at <= now:
            self._issued += 1
            ready.append(f"{self._prefix}-{self._issued}")
        return ready
