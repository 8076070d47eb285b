"""Reports become Locust `request` events: one row per (protocol, operation)."""

from __future__ import annotations

from typing import Any

from simfleet.device import ConnectFailed, JobsRejected, RequestReport
from simfleet.jobs import JobsErrorCode
from simfleet.locust.errors import ControlPlaneError
from simfleet.locust.events import api_reporter, locust_reporter
from simfleet.locust.operator import ApiCall


class RecordingHook:
    """Stands in for Locust's EventHook: keeps what each fire() was given."""

    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        assert not reverse
        self.fired.append(kwargs)


def test_a_device_report_is_one_request_event() -> None:
    hook = RecordingHook()
    report = locust_reporter(hook)
    rejected = JobsRejected(JobsErrorCode.VERSION_MISMATCH, "expected 2, found 3")
    context = {"thing_name": "sim-000001", "job_id": "j-1"}
    report(RequestReport(protocol="MQTT", name="update SUCCEEDED", duration_ms=12.5, size=80,
                         error=rejected, context=context))  # fmt: skip
    report(RequestReport(protocol="JOB", name="queued to terminal", duration_ms=3000.0))
    assert hook.fired == [
        {
            "request_type": "MQTT",
            "name": "update SUCCEEDED",
            "response_time": 12.5,
            "response_length": 80,
            "exception": rejected,
            "context": {"thing_name": "sim-000001", "job_id": "j-1"},
        },
        {
            "request_type": "JOB",
            "name": "queued to terminal",
            "response_time": 3000.0,
            "response_length": 0,
            "exception": None,
            "context": {},
        },
    ]


def test_the_failure_row_is_named_by_the_stable_reason() -> None:
    """Locust keys failures on repr(exception): the class and the reason, never the message
    (which may name a device) or an address."""
    first = JobsRejected(JobsErrorCode.VERSION_MISMATCH, "thing sim-000001 expected 2")
    second = JobsRejected(JobsErrorCode.VERSION_MISMATCH, "thing sim-000002 expected 7")
    assert repr(first) == repr(second) == "JobsRejected('VersionMismatch')"
    assert repr(ConnectFailed("timeout")) == "ConnectFailed('timeout')"
    assert repr(ControlPlaneError("ThrottlingException", "Rate exceeded")) == (
        "ControlPlaneError('ThrottlingException')"
    )


def test_an_api_call_is_one_api_row() -> None:
    hook = RecordingHook()
    report = api_reporter(hook)
    error = ControlPlaneError("ThrottlingException", "Rate exceeded")
    report(ApiCall(name="CreateJob", duration_ms=4.0, error=error, job_id="run-1"))
    report(ApiCall(name="DescribeThingGroup", duration_ms=2.0))
    assert [(f["request_type"], f["name"], f["exception"], f["context"]) for f in hook.fired] == [
        ("API", "CreateJob", error, {"job_id": "run-1"}),
        ("API", "DescribeThingGroup", None, {}),
    ]
