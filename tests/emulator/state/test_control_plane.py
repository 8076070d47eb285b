"""ControlPlane against botocore's `iot` model: operation and argument names, output shapes,
input validation with AWS's error codes, and pagination."""

from __future__ import annotations

import datetime
import inspect
import json
from collections.abc import Callable
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore import xform_name
from botocore.model import (  # type: ignore[import-untyped]
    OperationModel,
    Shape,
    StructureShape,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.control_plane import ControlPlane
from simfleet.emulator.control_shapes import MAX_DOCUMENT_BYTES, paginate
from simfleet.emulator.errors import AwsError
from simfleet.emulator.records import CertificateStatus, JobStatus
from simfleet.jobs import ExecutionStatus
from tests.emulator.state.helpers import ACCOUNT, DOCUMENT, REGION, State, arn

MODEL = botocore.session.get_session().get_service_model("iot")


def _check_shape(value: object, shape: Shape, where: str) -> None:
    """Fail unless `value` is what botocore's parser would give for `shape`."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: not in {shape.name}: {unknown}"
        for name, member in value.items():
            _check_shape(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), where
        for key, item in value.items():
            _check_shape(key, shape.key, f"{where} key")
            _check_shape(item, shape.value, f"{where}[{key}]")
    elif kind == "timestamp":
        assert isinstance(value, datetime.datetime), where
        assert value.tzinfo == datetime.UTC, where
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind in ("integer", "long"):
        assert isinstance(value, int), where
        assert not isinstance(value, bool), where
    else:
        pytest.fail(f"{where}: unexpected shape type {kind}")


def _check_output(operation: str, value: dict[str, Any]) -> None:
    if operation not in MODEL.operation_names:
        return
    output = MODEL.operation_model(operation).output_shape
    if output is None:
        assert value == {}
    else:
        _check_shape(value, output, operation)


def test_every_listed_operation_is_a_method_named_after_it() -> None:
    for operation, method in ControlPlane.OPERATIONS.items():
        assert operation in MODEL.operation_names
        assert method == xform_name(operation)
        assert callable(getattr(ControlPlane, method))


@pytest.mark.parametrize("operation", sorted(ControlPlane.OPERATIONS))
def test_method_arguments_are_the_models_members(operation: str) -> None:
    model: OperationModel = MODEL.operation_model(operation)
    members = set(model.input_shape.members) if model.input_shape is not None else set()
    required = set(model.input_shape.required_members) if model.input_shape is not None else set()
    signature = inspect.signature(getattr(ControlPlane, ControlPlane.OPERATIONS[operation]))
    named = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(named) <= members
    assert {n for n, p in named.items() if p.default is inspect.Parameter.empty} == required
    # Any other member of the model reaches the method (and is refused there when set).
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


@pytest.mark.parametrize(
    ("ours", "shape"),
    [
        pytest.param({s.value for s in CertificateStatus}, "CertificateStatus", id="certificate"),
        pytest.param({s.value for s in JobStatus}, "JobStatus", id="job"),
        pytest.param({s.value for s in ExecutionStatus}, "JobExecutionStatus", id="execution"),
    ],
)
def test_our_statuses_are_the_models(ours: set[str], shape: str) -> None:
    assert ours == set(MODEL.shape_for(shape).enum)


def test_outputs_have_the_models_shapes(state: State, things: list[str]) -> None:
    control = state.control
    calls: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (
            "CreateThing",
            lambda: control.create_thing(
                thingName="extra", attributePayload={"attributes": {"model": "x1"}}
            ),
        ),
        ("CreateThingGroup", lambda: control.create_thing_group(thingGroupName="root")),
        (
            "CreateThingGroup",
            lambda: control.create_thing_group(
                thingGroupName="leaf",
                parentGroupName="root",
                thingGroupProperties={
                    "thingGroupDescription": "leaf group",
                    "attributePayload": {"attributes": {"site": "a"}},
                },
            ),
        ),
        (
            "AddThingToThingGroup",
            lambda: control.add_thing_to_thing_group(
                thingGroupArn=arn("thinggroup", "leaf"), thingArn=arn("thing", things[0])
            ),
        ),
        (
            "CreateJob",
            lambda: control.create_job(
                jobId="job-1",
                targets=[arn("thinggroup", "leaf"), arn("thing", things[1])],
                document=DOCUMENT,
                description="first",
            ),
        ),
        ("DescribeJob", lambda: control.describe_job(jobId="job-1")),
        ("StartNext", lambda: _start(state, things[0])),
        ("ListJobs", control.list_jobs),
        ("GetJobDocument", lambda: control.get_job_document(jobId="job-1")),
        ("ListJobExecutionsForJob", lambda: control.list_job_executions_for_job(jobId="job-1")),
        (
            "ListJobExecutionsForThing",
            lambda: control.list_job_executions_for_thing(thingName=things[0]),
        ),
        (
            "DescribeJobExecution",
            lambda: control.describe_job_execution(jobId="job-1", thingName=things[0]),
        ),
        (
            "UpdateJob",
            lambda: control.update_job(
                jobId="job-1",
                description="second",
                timeoutConfig={"inProgressTimeoutInMinutes": 30},
            ),
        ),
        (
            "CancelJobExecution",
            lambda: control.cancel_job_execution(
                jobId="job-1", thingName=things[1], statusDetails={"why": "test"}
            ),
        ),
        (
            "DeleteJobExecution",
            lambda: control.delete_job_execution(
                jobId="job-1", thingName=things[1], executionNumber=1
            ),
        ),
        ("DescribeThing", lambda: control.describe_thing(thingName="extra")),
        ("ListThings", lambda: control.list_things(maxResults=2)),
        ("DescribeThingGroup", lambda: control.describe_thing_group(thingGroupName="leaf")),
        (
            "DescribeCertificate",
            lambda: control.describe_certificate(certificateId=_first_certificate(state)),
        ),
        (
            "UpdateCertificate",
            lambda: control.update_certificate(
                certificateId=_first_certificate(state), newStatus="INACTIVE"
            ),
        ),
        ("CancelJob", lambda: control.cancel_job(jobId="job-1", comment="stop")),
        ("DescribeJob", lambda: control.describe_job(jobId="job-1")),
        ("DeleteJob", lambda: control.delete_job(jobId="job-1")),
    ]
    for operation, call in calls:
        _check_output(operation, call())
    assert set(ControlPlane.OPERATIONS) == {op for op, _ in calls} - {"StartNext"}


def _start(state: State, thing: str) -> dict[str, Any]:
    """Not an operation: a device starts its execution, so that the shapes show startedAt and
    statusDetails."""
    state.mqtt(thing, "start-next", {"statusDetails": {"step": "download"}})
    return {}


def _first_certificate(state: State) -> str:
    for certificate_id in state.store.certificate_ids():
        return certificate_id
    raise AssertionError("no certificate")


def test_describe_shapes_carry_the_expected_values(state: State, things: list[str]) -> None:
    control = state.control
    created = control.create_thing(thingName="extra")
    assert created["thingArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/extra"
    described = control.describe_thing(thingName="extra")
    assert described == {
        "defaultClientId": "extra",
        "thingName": "extra",
        "thingId": created["thingId"],
        "thingArn": created["thingArn"],
        "attributes": {},
        "version": 1,
    }
    control.create_thing_group(thingGroupName="root")
    control.create_thing_group(thingGroupName="leaf", parentGroupName="root")
    metadata = control.describe_thing_group(thingGroupName="leaf")["thingGroupMetadata"]
    assert metadata["parentGroupName"] == "root"
    assert metadata["rootToParentThingGroups"] == [
        {"groupName": "root", "groupArn": arn("thinggroup", "root")}
    ]
    control.create_job(jobId="job-1", targets=[arn("thing", things[0])], document=DOCUMENT)
    assert control.get_job_document(jobId="job-1") == {"document": DOCUMENT}
    job = control.describe_job(jobId="job-1")["job"]
    assert job["targets"] == [arn("thing", things[0])]
    assert job["jobArn"] == arn("job", "job-1")
    assert job["createdAt"] == datetime.datetime.fromtimestamp(state.clock.now(), datetime.UTC)


_TOO_BIG = json.dumps({"pad": "x" * MAX_DOCUMENT_BYTES})


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        pytest.param({"jobId": ""}, "InvalidRequestException", id="empty-id"),
        pytest.param({"jobId": "j" * 65}, "InvalidRequestException", id="id-too-long"),
        pytest.param({"jobId": "job.1"}, "InvalidRequestException", id="id-bad-character"),
        pytest.param({"jobId": "$next"}, "InvalidRequestException", id="id-next"),
        pytest.param({"document": "{not json"}, "InvalidRequestException", id="doc-not-json"),
        pytest.param({"document": "[1, 2]"}, "InvalidRequestException", id="doc-not-object"),
        pytest.param({"document": _TOO_BIG}, "InvalidRequestException", id="doc-too-big"),
        pytest.param({"document": None}, "InvalidRequestException", id="no-document"),
        pytest.param({"targets": []}, "InvalidRequestException", id="no-targets"),
        pytest.param(
            {"targets": [arn("thing", "nobody")]}, "ResourceNotFoundException", id="no-thing"
        ),
        pytest.param(
            {"targets": [arn("thinggroup", "nogroup")]},
            "ResourceNotFoundException",
            id="no-group",
        ),
        pytest.param(
            {"targets": ["arn:aws:iot:us-east-1:999999999999:thing/sim-000000"]},
            "InvalidRequestException",
            id="other-account",
        ),
        pytest.param({"targets": [arn("job", "j")]}, "InvalidRequestException", id="not-a-target"),
        pytest.param({"targets": ["sim-000000"]}, "InvalidRequestException", id="not-an-arn"),
        pytest.param({"targetSelection": "SOMETIMES"}, "InvalidRequestException", id="selection"),
        pytest.param(
            {"presignedUrlConfig": {"expiresInSec": 60}},
            "NotImplementedException",
            id="unsupported-member",
        ),
        pytest.param(
            {"description": "bad\u0007bell"}, "InvalidRequestException", id="control-character"
        ),
    ],
)
def test_create_job_validation(state: State, arguments: dict[str, Any], code: str) -> None:
    request: dict[str, Any] = {
        "jobId": "job-1",
        "targets": [arn("thing", "sim-000000")],
        "document": DOCUMENT,
    }
    request.update(arguments)
    with pytest.raises(AwsError) as raised:
        state.control.create_job(**request)
    assert raised.value.code == code
    statuses = {"InvalidRequestException": 400, "NotImplementedException": 501}
    assert raised.value.status == statuses.get(code, 404)
    assert state.control.list_jobs()["jobs"] == []
    assert state.published == []


def test_the_largest_document_is_accepted(state: State) -> None:
    document = json.dumps({"pad": ""})
    document = json.dumps({"pad": "x" * (MAX_DOCUMENT_BYTES - len(document))})
    assert len(document.encode()) == MAX_DOCUMENT_BYTES
    state.control.create_job(jobId="big", targets=[arn("thing", "sim-000000")], document=document)
    assert state.control.get_job_document(jobId="big")["document"] == document


def test_a_duplicate_job_id_already_exists(state: State) -> None:
    target = [arn("thing", "sim-000000")]
    state.control.create_job(jobId="job-1", targets=target, document=DOCUMENT)
    with pytest.raises(AwsError) as raised:
        state.control.create_job(jobId="job-1", targets=target, document=DOCUMENT)
    assert (raised.value.code, raised.value.status) == ("ResourceAlreadyExistsException", 409)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param(lambda c: c.describe_job(jobId="nope"), "ResourceNotFoundException", id="job"),
        pytest.param(
            lambda c: c.describe_job_execution(jobId="job-1", thingName="sim-000001"),
            "ResourceNotFoundException",
            id="execution-of-untargeted-thing",
        ),
        pytest.param(
            lambda c: c.describe_job_execution(
                jobId="job-1", thingName="sim-000000", executionNumber=2
            ),
            "ResourceNotFoundException",
            id="execution-number",
        ),
        pytest.param(
            lambda c: c.list_job_executions_for_thing(thingName="nobody"),
            "ResourceNotFoundException",
            id="executions-of-unknown-thing",
        ),
        pytest.param(
            lambda c: c.list_job_executions_for_job(jobId="job-1", status="DONE"),
            "InvalidRequestException",
            id="bad-status-filter",
        ),
        pytest.param(
            lambda c: c.list_jobs(status="RUNNING"), "InvalidRequestException", id="bad-job-status"
        ),
        pytest.param(
            lambda c: c.list_jobs(namespaceId="greengrass"),
            "NotImplementedException",
            id="unsupported-filter",
        ),
        pytest.param(
            lambda c: c.cancel_job(jobId="job-1", reasonCode="lower case"),
            "InvalidRequestException",
            id="bad-reason-code",
        ),
        pytest.param(
            lambda c: c.add_thing_to_thing_group(thingName="sim-000000"),
            "InvalidRequestException",
            id="no-group-named",
        ),
        pytest.param(
            lambda c: c.add_thing_to_thing_group(
                thingGroupArn=arn("thing", "g"), thingName="sim-000000"
            ),
            "InvalidRequestException",
            id="group-arn-of-a-thing",
        ),
        pytest.param(
            lambda c: c.create_thing(thingName="bad name"),
            "InvalidRequestException",
            id="thing-name",
        ),
        pytest.param(
            lambda c: c.create_thing(
                thingName="t", attributePayload={"attributes": {"bad key": "v"}}
            ),
            "InvalidRequestException",
            id="attribute-name",
        ),
        pytest.param(
            lambda c: c.describe_thing_group(thingGroupName="nope"),
            "ResourceNotFoundException",
            id="group",
        ),
    ],
)
def test_errors_carry_aws_codes(
    state: State, call: Callable[[ControlPlane], object], code: str
) -> None:
    state.control.create_job(jobId="job-1", targets=[arn("thing", "sim-000000")], document=DOCUMENT)
    with pytest.raises(AwsError) as raised:
        call(state.control)
    assert raised.value.code == code


def _all_pages(call: Callable[..., dict[str, Any]], key: str, page: int) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        answer = call(maxResults=page, **({} if token is None else {"nextToken": token}))
        assert len(answer[key]) <= page
        items += answer[key]
        token = answer.get("nextToken")
        if token is None:
            return items


def test_list_things_pages_through_every_thing(state: State, things: list[str]) -> None:
    listed = _all_pages(state.control.list_things, "things", 3)
    assert [t["thingName"] for t in listed] == things
    assert state.control.list_things(maxResults=len(things)).get("nextToken") is None


def test_list_things_filters_by_attribute(state: State) -> None:
    for name, model in [("a", "x1"), ("b", "x10"), ("c", "y1")]:
        state.control.create_thing(thingName=name, attributePayload={"attributes": {"m": model}})

    def names(**filters: Any) -> list[str]:
        return [t["thingName"] for t in state.control.list_things(**filters)["things"]]

    assert names(attributeName="m", attributeValue="x1") == ["a"]
    assert names(attributeName="m", attributeValue="x1", usePrefixAttributeValue=True) == ["a", "b"]
    assert names(attributeName="m") == ["a", "b", "c"]


def test_executions_for_job_page_with_a_status_filter(state: State, things: list[str]) -> None:
    state.control.create_job(
        jobId="job-1", targets=[arn("thing", t) for t in things], document=DOCUMENT
    )
    for thing in things[::2]:
        state.mqtt(thing, "job-1/update", {"status": "FAILED"})

    def call(**page: Any) -> dict[str, Any]:
        return state.control.list_job_executions_for_job(jobId="job-1", status="FAILED", **page)

    failed = _all_pages(call, "executionSummaries", 2)
    assert [e["thingArn"] for e in failed] == [arn("thing", t) for t in things[::2]]
    everything = _all_pages(
        lambda **page: state.control.list_job_executions_for_job(jobId="job-1", **page),
        "executionSummaries",
        3,
    )
    assert len(everything) == len(things)


def test_executions_for_thing_and_jobs_page(state: State, things: list[str]) -> None:
    for n in range(5):
        state.clock.advance(1)
        state.control.create_job(
            jobId=f"job-{n}", targets=[arn("thing", things[0])], document=DOCUMENT
        )
    state.control.cancel_job(jobId="job-4")
    listed = _all_pages(
        lambda **page: state.control.list_job_executions_for_thing(thingName=things[0], **page),
        "executionSummaries",
        2,
    )
    assert [e["jobId"] for e in listed] == [f"job-{n}" for n in range(5)]
    jobs = _all_pages(state.control.list_jobs, "jobs", 2)
    assert [j["jobId"] for j in jobs] == [f"job-{n}" for n in range(5)]
    canceled = state.control.list_jobs(status="CANCELED")["jobs"]
    assert [j["jobId"] for j in canceled] == ["job-4"]
    only = state.control.list_job_executions_for_thing(thingName=things[0], jobId="job-2")
    assert [e["jobId"] for e in only["executionSummaries"]] == ["job-2"]


@pytest.mark.parametrize(
    "page",
    [
        pytest.param({"maxResults": 0}, id="zero"),
        pytest.param({"maxResults": 251}, id="over-250"),
        pytest.param({"nextToken": "garbage"}, id="bad-token"),
        pytest.param({"nextToken": ""}, id="empty-token"),
    ],
)
def test_bad_paging_is_an_invalid_request(state: State, page: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as raised:
        state.control.list_things(**page)
    assert raised.value.code == "InvalidRequestException"


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 60), size=st.integers(1, 25))
def test_pages_cover_the_listing_exactly_once(count: int, size: int) -> None:
    items = list(range(count))
    collected: list[int] = []
    token = None
    while True:
        page, token = paginate(iter(items), max_results=size, next_token=token)
        assert len(page) <= size
        collected += page
        if token is None:
            break
        assert len(page) == size
    assert collected == items
