"""Reports as Locust `request` events: one stats row per (protocol, operation).

`request_type` is the protocol (`MQTT`, `HTTPS`, `JOB`, or `API` for the operator's
control-plane calls) and `name` the operation, never a device or a topic, so that stats stay one
row per operation however large the fleet (docs/devices.md, "Reports"). The error object goes
to Locust as it is: its repr (class and stable reason) names the failure row.
"""

from __future__ import annotations

from typing import Any, Protocol

from simfleet.device import Reporter, RequestReport
from simfleet.locust.operator import API, ApiCall, ApiReporter


class RequestEventHook(Protocol):
    """What the adapters need of `environment.events.request` (a Locust `EventHook`)."""

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None: ...


def locust_reporter(request: RequestEventHook) -> Reporter:
    """A device `Reporter` that fires `request` once per report."""

    def report(item: RequestReport) -> None:
        request.fire(
            request_type=item.protocol,
            name=item.name,
            response_time=item.duration_ms,
            response_length=item.size,
            exception=item.error,
            context=dict(item.context),
        )

    return report


def api_reporter(request: RequestEventHook) -> ApiReporter:
    """The operator's reporter: one `API` row per control-plane operation."""

    def report(call: ApiCall) -> None:
        request.fire(
            request_type=API,
            name=call.name,
            response_time=call.duration_ms,
            response_length=0,
            exception=call.error,
            context={"job_id": call.job_id} if call.job_id else {},
        )

    return report
