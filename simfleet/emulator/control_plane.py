"""The AWS IoT control plane as Python methods (docs/emulator.md, "Control plane").

Each method is named after its operation in snake_case and takes keyword arguments named
exactly as the members of botocore's `iot` model; it returns a dict in the operation's output
shape (`{}` for operations without one) and raises AwsError with AWS's code. The HTTP layer
looks methods up through `ControlPlane.OPERATIONS` and answers any other operation itself.

Members of an implemented operation that the emulator does not implement (presignedUrlConfig,
namespaceId, schedulingConfig, ...) arrive in `**unsupported` and are refused when set, with 501
NotImplementedException as the HTTP layer answers an operation it does not know (never
silently ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from simfleet.emulator.clock import Clock
from simfleet.emulator.control_shapes import (
    check_enum,
    check_reason_code,
    check_status_details,
    check_text,
    execution_shape,
    execution_summary,
    job_shape,
    job_summary,
    paginate,
    parse_document,
    put,
    refuse_unsupported,
)
from simfleet.emulator.errors import invalid_request
from simfleet.emulator.job_config import ABORT, RETRY, ROLLOUT, TIMEOUT, JobConfig
from simfleet.emulator.jobs_service import JobsService, TargetKind
from simfleet.emulator.records import JobStatus, TargetSelection
from simfleet.emulator.registry import Registry
from simfleet.emulator.registry_control import RegistryControl
from simfleet.jobs import ExecutionStatus
from simfleet.jobs.topics import is_valid_job_id

_STATUSES = tuple(s.value for s in ExecutionStatus)


class ControlPlane(RegistryControl):
    # AWS operation name (botocore model) -> method name.
    OPERATIONS: ClassVar[Mapping[str, str]] = {
        "AddThingToThingGroup": "add_thing_to_thing_group",
        "CancelJob": "cancel_job",
        "CancelJobExecution": "cancel_job_execution",
        "CreateJob": "create_job",
        "CreateThing": "create_thing",
        "CreateThingGroup": "create_thing_group",
        "DeleteJob": "delete_job",
        "DeleteJobExecution": "delete_job_execution",
        "DescribeCertificate": "describe_certificate",
        "DescribeJob": "describe_job",
        "DescribeJobExecution": "describe_job_execution",
        "DescribeThing": "describe_thing",
        "DescribeThingGroup": "describe_thing_group",
        "GetJobDocument": "get_job_document",
        "ListJobExecutionsForJob": "list_job_executions_for_job",
        "ListJobExecutionsForThing": "list_job_executions_for_thing",
        "ListJobs": "list_jobs",
        "ListThings": "list_things",
        "UpdateCertificate": "update_certificate",
        "UpdateJob": "update_job",
    }

    def __init__(
        self,
        registry: Registry,
        jobs: JobsService,
        *,
        region: str,
        account_id: str,
        clock: Clock,
    ) -> None:
        super().__init__(registry, region=region, account_id=account_id, clock=clock)
        self._jobs = jobs

    # --- thing groups: continuous jobs reach the things that join -------------------------

    def add_thing_to_thing_group(
        self,
        *,
        thingGroupName: str | None = None,
        thingGroupArn: str | None = None,
        thingName: str | None = None,
        thingArn: str | None = None,
        overrideDynamicGroups: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        out = super().add_thing_to_thing_group(
            thingGroupName=thingGroupName,
            thingGroupArn=thingGroupArn,
            thingName=thingName,
            thingArn=thingArn,
            overrideDynamicGroups=overrideDynamicGroups,
            **unsupported,
        )
        self._jobs.thing_joined_group(
            self._name_or_arn(thingName, thingArn, TargetKind.THING),
            self._name_or_arn(thingGroupName, thingGroupArn, TargetKind.THING_GROUP),
        )
        return out

    # --- jobs -----------------------------------------------------------------------------

    def create_job(
        self,
        *,
        jobId: str,
        targets: list[str],
        document: str | None = None,
        description: str | None = None,
        targetSelection: str | None = None,
        jobExecutionsRolloutConfig: Mapping[str, Any] | None = None,
        abortConfig: Mapping[str, Any] | None = None,
        timeoutConfig: Mapping[str, Any] | None = None,
        jobExecutionsRetryConfig: Mapping[str, Any] | None = None,
        tags: list[Mapping[str, str]] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        # Tags change nothing the emulator does (it has no ListTagsForResource): accepted.
        del tags
        refuse_unsupported(unsupported)
        _check_job_id(jobId)
        check_enum(targetSelection, (s.value for s in TargetSelection), "targetSelection")
        if document is None:
            raise invalid_request("A job needs a document or a documentSource")
        parse_document(document)
        if not targets:
            raise invalid_request("targets must hold at least one thing or thing group ARN")
        config = JobConfig.from_members(
            {
                ROLLOUT: jobExecutionsRolloutConfig,
                ABORT: abortConfig,
                TIMEOUT: timeoutConfig,
                RETRY: jobExecutionsRetryConfig,
            }
        )
        job = self._jobs.create_job(
            job_id=jobId,
            targets=[self._target(arn) for arn in targets],
            document=document,
            description=check_text(description, "description"),
            config=config,
            target_selection=TargetSelection(targetSelection or TargetSelection.SNAPSHOT.value),
        )
        out = {"jobArn": self._job_arn(job.job_id), "jobId": job.job_id}
        put(out, "description", job.description)
        return out

    def describe_job(
        self, *, jobId: str, beforeSubstitution: bool | None = None, **unsupported: object
    ) -> dict[str, Any]:
        # No document substitution happens, so beforeSubstitution changes nothing.
        del beforeSubstitution
        refuse_unsupported(unsupported)
        job = self._jobs.job(jobId)
        counts = self._jobs.status_counts(jobId)
        return {"job": job_shape(job, self._job_arn(jobId), counts)}

    def update_job(
        self,
        *,
        jobId: str,
        description: str | None = None,
        jobExecutionsRolloutConfig: Mapping[str, Any] | None = None,
        abortConfig: Mapping[str, Any] | None = None,
        timeoutConfig: Mapping[str, Any] | None = None,
        jobExecutionsRetryConfig: Mapping[str, Any] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        config = self._jobs.config(jobId).updated(
            {
                ROLLOUT: jobExecutionsRolloutConfig,
                ABORT: abortConfig,
                TIMEOUT: timeoutConfig,
                RETRY: jobExecutionsRetryConfig,
            }
        )
        self._jobs.update_job(
            jobId, description=check_text(description, "description"), config=config
        )
        return {}

    def list_jobs(
        self,
        *,
        status: str | None = None,
        targetSelection: str | None = None,
        maxResults: int | None = None,
        nextToken: str | None = None,
        thingGroupName: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_enum(status, (s.value for s in JobStatus), "status")
        check_enum(targetSelection, (s.value for s in TargetSelection), "targetSelection")
        group_arn = None if thingGroupName is None else self._arn("thinggroup", thingGroupName)
        jobs = (
            job
            for job in self._jobs.jobs()
            if status in (None, job.status.value)
            and targetSelection in (None, job.target_selection.value)
            and (group_arn is None or group_arn in job.targets)
        )
        page, token = paginate(jobs, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {"jobs": [job_summary(j, self._job_arn(j.job_id)) for j in page]}
        put(out, "nextToken", token)
        return out

    def cancel_job(
        self,
        *,
        jobId: str,
        reasonCode: str | None = None,
        comment: str | None = None,
        force: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        job = self._jobs.cancel_job(
            jobId,
            force=bool(force),
            reason_code=check_reason_code(reasonCode),
            comment=check_text(comment, "comment"),
        )
        out = {"jobArn": self._job_arn(jobId), "jobId": jobId}
        put(out, "description", job.description)
        return out

    def delete_job(
        self, *, jobId: str, force: bool | None = None, **unsupported: object
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._jobs.delete_job(jobId, force=bool(force))
        return {}

    def cancel_job_execution(
        self,
        *,
        jobId: str,
        thingName: str,
        force: bool | None = None,
        expectedVersion: int | None = None,
        statusDetails: Mapping[str, str] | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._jobs.cancel_execution(
            thingName,
            jobId,
            force=bool(force),
            expected_version=expectedVersion,
            status_details=check_status_details(statusDetails),
        )
        return {}

    def delete_job_execution(
        self,
        *,
        jobId: str,
        thingName: str,
        executionNumber: int,
        force: bool | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        self._jobs.delete_execution(thingName, jobId, executionNumber, force=bool(force))
        return {}

    def get_job_document(
        self, *, jobId: str, beforeSubstitution: bool | None = None, **unsupported: object
    ) -> dict[str, Any]:
        del beforeSubstitution  # as in describe_job
        refuse_unsupported(unsupported)
        return {"document": self._jobs.job(jobId).document}

    def list_job_executions_for_job(
        self,
        *,
        jobId: str,
        status: str | None = None,
        maxResults: int | None = None,
        nextToken: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_enum(status, _STATUSES, "status")
        records = (
            r for r in self._jobs.executions_for_job(jobId) if status in (None, r.status.value)
        )
        page, token = paginate(records, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {
            "executionSummaries": [
                {
                    "thingArn": self._arn("thing", r.thing_name),
                    "jobExecutionSummary": execution_summary(r),
                }
                for r in page
            ]
        }
        put(out, "nextToken", token)
        return out

    def list_job_executions_for_thing(
        self,
        *,
        thingName: str,
        status: str | None = None,
        maxResults: int | None = None,
        nextToken: str | None = None,
        jobId: str | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        check_enum(status, _STATUSES, "status")
        self._registry.thing(thingName)
        records = (
            r
            for r in self._jobs.executions_for_thing(thingName)
            if status in (None, r.status.value) and jobId in (None, r.job_id)
        )
        page, token = paginate(records, max_results=maxResults, next_token=nextToken)
        out: dict[str, Any] = {
            "executionSummaries": [
                {"jobId": r.job_id, "jobExecutionSummary": execution_summary(r)} for r in page
            ]
        }
        put(out, "nextToken", token)
        return out

    def describe_job_execution(
        self,
        *,
        jobId: str,
        thingName: str,
        executionNumber: int | None = None,
        **unsupported: object,
    ) -> dict[str, Any]:
        refuse_unsupported(unsupported)
        record = self._jobs.execution(thingName, jobId, executionNumber)
        now = int(self._clock.now())
        return {"execution": execution_shape(record, self._arn("thing", thingName), now)}


def _check_job_id(job_id: str) -> None:
    if not is_valid_job_id(job_id):
        raise invalid_request("jobId must be 1-64 characters of [a-zA-Z0-9_-]")
