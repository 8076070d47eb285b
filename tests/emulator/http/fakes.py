"""A small ControlPlane over dicts: the seam we own between the HTTP layer and the real one.

It follows docs/emulator.md ("Control plane"): snake_case methods, keyword arguments named as
botocore's `iot` members, dicts in the output shape with `datetime` timestamps, `AwsError` for
failures. It records every call with the arguments exactly as received, so tests can check
the types the HTTP layer produced. `fail_with` makes describe_thing raise (a bug in an
operation); `bad_output` makes it return a member the model does not have.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from simfleet.emulator.errors import AwsError, already_exists, invalid_request, not_found

ACCOUNT = "123456789012"
REGION = "us-east-1"
_START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def thing_arn(name: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"


def job_arn(job_id: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:job/{job_id}"


def _page(
    items: list[dict[str, Any]], max_results: int | None, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    start = 0
    if token is not None:
        if not token.isdigit():
            raise invalid_request(f"invalid nextToken {token!r}")
        start = int(token)
    size = max_results if max_results is not None else 50
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


class FakeControlPlane:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, dict[str, dict[str, Any]]] = {}  # thing → job → execution
        self.groups: dict[str, set[str]] = {}
        self.things = {name: {"attributes": {"model": "x1"}} for name in ("sim-0", "sim-1")}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: Exception | None = None
        self.bad_output = False
        self._ticks = 0

    def _now(self) -> datetime:
        # Distinct, increasing, whole-second times: ordering by createdAt is well defined.
        self._ticks += 1
        return _START + timedelta(seconds=self._ticks)

    def create_job(
        self,
        *,
        jobId: str,
        targets: list[str],
        document: str | None = None,
        description: str | None = None,
        targetSelection: str = "SNAPSHOT",
    ) -> dict[str, Any]:
        self.calls.append(("create_job", {"jobId": jobId, "targets": targets}))
        if jobId in self.jobs:
            raise already_exists(f"Job {jobId} already exists.")
        now = self._now()
        self.jobs[jobId] = {
            "jobArn": job_arn(jobId),
            "jobId": jobId,
            "targetSelection": targetSelection,
            "status": "IN_PROGRESS",
            "targets": targets,
            "description": description,
            "createdAt": now,
            "lastUpdatedAt": now,
            "document": document,
        }
        for number, target in enumerate(targets, start=1):
            thing = target.rsplit("/", 1)[-1]
            self.executions.setdefault(thing, {})[jobId] = {
                "jobId": jobId,
                "jobExecutionSummary": {
                    "status": "QUEUED",
                    "queuedAt": now,
                    "lastUpdatedAt": now,
                    "executionNumber": number,
                },
            }
        return {"jobArn": job_arn(jobId), "jobId": jobId, "description": description}

    def describe_job(self, *, jobId: str, beforeSubstitution: bool = False) -> dict[str, Any]:
        self.calls.append(
            ("describe_job", {"jobId": jobId, "beforeSubstitution": beforeSubstitution})
        )
        job = self.jobs.get(jobId)
        if job is None:
            raise not_found(f"Job {jobId} does not exist.")
        fields = {key: value for key, value in job.items() if key != "document"}
        return {"job": fields}

    def list_jobs(
        self,
        *,
        status: str | None = None,
        targetSelection: str | None = None,
        maxResults: int | None = None,
        nextToken: str | None = None,
        thingGroupName: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append(
            ("list_jobs", {"status": status, "maxResults": maxResults, "nextToken": nextToken})
        )
        summaries = [
            {key: job[key] for key in ("jobArn", "jobId", "targetSelection", "status", "createdAt")}
            for job in sorted(self.jobs.values(), key=lambda job: job["createdAt"])
            if status is None or job["status"] == status
        ]
        page, token = _page(summaries, maxResults, nextToken)
        return {"jobs": page, "nextToken": token}

    def cancel_job(
        self,
        *,
        jobId: str,
        force: bool = False,
        comment: str | None = None,
        reasonCode: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append(("cancel_job", {"jobId": jobId, "force": force, "comment": comment}))
        job = self.jobs.get(jobId)
        if job is None:
            raise not_found(f"Job {jobId} does not exist.")
        job.update(status="CANCELED", forceCanceled=force, comment=comment, reasonCode=reasonCode)
        return {"jobArn": job["jobArn"], "jobId": jobId, "description": job["description"]}

    def list_job_executions_for_thing(
        self,
        *,
        thingName: str,
        status: str | None = None,
        maxResults: int | None = None,
        nextToken: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append(("list_job_executions_for_thing", {"thingName": thingName}))
        if thingName not in self.things:
            raise not_found(f"Thing {thingName} does not exist.")
        rows = [
            row
            for row in self.executions.get(thingName, {}).values()
            if status is None or row["jobExecutionSummary"]["status"] == status
        ]
        page, token = _page(rows, maxResults, nextToken)
        return {"executionSummaries": page, "nextToken": token}

    def add_thing_to_thing_group(
        self,
        *,
        thingGroupName: str | None = None,
        thingName: str | None = None,
        overrideDynamicGroups: bool = False,
    ) -> dict[str, Any]:
        self.calls.append(
            (
                "add_thing_to_thing_group",
                {"thingGroupName": thingGroupName, "overrideDynamicGroups": overrideDynamicGroups},
            )
        )
        if thingGroupName is None or thingName is None:
            raise invalid_request("thingGroupName and thingName are required by this fake")
        if thingName not in self.things:
            raise not_found(f"Thing {thingName} does not exist.")
        self.groups.setdefault(thingGroupName, set()).add(thingName)
        return {}

    def describe_thing(self, *, thingName: str) -> dict[str, Any]:
        self.calls.append(("describe_thing", {"thingName": thingName}))
        if self.fail_with is not None:
            raise self.fail_with
        thing = self.things.get(thingName)
        if thing is None:
            raise AwsError("ResourceNotFoundException", f"Thing {thingName} not found.", 404)
        answer = {
            "defaultClientId": thingName,
            "thingName": thingName,
            "thingArn": thing_arn(thingName),
            "attributes": thing["attributes"],
            "version": 1,
        }
        if self.bad_output:
            answer["notAMember"] = True
        return answer
