"""EmulatorMetrics reads every counter object it is given, named for Prometheus."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

import simfleet.emulator
from simfleet.emulator.broker import BrokerCounters, RefusalReason
from simfleet.emulator.http import RequestCounters
from simfleet.emulator.jobs_http import JobsHttpCounters
from simfleet.emulator.loop_lag import LoopLag
from simfleet.emulator.metrics import EmulatorMetrics
from simfleet.emulator.policy import DenialCounter
from simfleet.emulator.records import Job, JobStatus
from simfleet.jobs import ExecutionStatus
from tests.emulator.metrics.promtext import Family, parse

# Each plain BrokerCounters field and the metric it is exposed as.
BROKER_FIELDS = {
    "connections_current": "simfleet_mqtt_connections",
    "connections_total": "simfleet_mqtt_connections_total",
    "connects_accepted": "simfleet_mqtt_connects_accepted_total",
    "takeovers": "simfleet_mqtt_takeovers_total",
    "messages_in": "simfleet_mqtt_messages_in_total",
    "messages_out": "simfleet_mqtt_messages_out_total",
    "messages_dropped": "simfleet_mqtt_messages_dropped_total",
    "keep_alive_timeouts": "simfleet_mqtt_keep_alive_timeouts_total",
    "tls_failures": "simfleet_mqtt_tls_handshake_failures_total",
    "protocol_errors": "simfleet_mqtt_protocol_errors_total",
    "internal_errors": "simfleet_mqtt_internal_errors_total",
}


class FakeJobs:
    """Jobs and each one's execution counts, as JobsService answers them."""

    def __init__(self, counts: Mapping[str, tuple[JobStatus, Mapping[ExecutionStatus, int]]]):
        self._counts = counts

    def jobs(self) -> Iterable[Job]:
        for job_id, (status, _) in self._counts.items():
            yield Job(
                job_id=job_id,
                document="{}",
                targets=(),
                created_at=0,
                last_updated_at=0,
                status=status,
            )

    def status_counts(self, job_id: str) -> Mapping[ExecutionStatus, int]:
        return self._counts[job_id][1]


class FakeQuotaCounters:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


def _metrics(**changes: Any) -> EmulatorMetrics:
    base = EmulatorMetrics(
        broker=BrokerCounters(),
        control_plane=RequestCounters(),
        jobs_mqtt=RequestCounters(),
        jobs_https=JobsHttpCounters(),
        jobs=FakeJobs({}),
    )
    return dataclasses.replace(base, **changes)


def _scrape(metrics: EmulatorMetrics) -> dict[str, Family]:
    return parse(metrics.render())


def test_every_broker_counter_is_exposed() -> None:
    counters = BrokerCounters()
    plain = {
        name
        for name, value in vars(counters).items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    # A new BrokerCounters field fails here until /metrics exposes it.
    assert plain == set(BROKER_FIELDS)
    for number, name in enumerate(sorted(plain), start=1):
        setattr(counters, name, number * 10)
    counters.refused(RefusalReason.UNKNOWN_CERTIFICATE)
    counters.refused(RefusalReason.UNKNOWN_CERTIFICATE)
    counters.refused(RefusalReason.CONNECT_DENIED)
    families = _scrape(_metrics(broker=counters))
    for field, metric in BROKER_FIELDS.items():
        assert families[metric].value() == getattr(counters, field), metric
    assert families["simfleet_mqtt_connections"].type == "gauge"
    refused = families["simfleet_mqtt_connects_refused_total"].by("reason")
    # Every reason is listed, zeros included, so that rate() has a series from the start.
    assert set(refused) == {reason.value for reason in RefusalReason}
    assert refused["unknown-certificate"] == 2
    assert refused["connect-denied"] == 1
    assert sum(refused.values()) == 3


def test_jobs_requests_of_the_three_protocols() -> None:
    mqtt, https = RequestCounters(), JobsHttpCounters()
    mqtt.record("UpdateJobExecution", "ok")
    mqtt.record("UpdateJobExecution", "RequestThrottled")
    mqtt.record("UpdateJobExecution", "RequestThrottled")
    https.device.record("UpdateJobExecution", "ThrottlingException")
    https.sigv4.record("DescribeJobExecution", "ok")
    https.sigv4.record("(unrouted)", "UnknownOperationException")
    requests = _scrape(_metrics(jobs_mqtt=mqtt, jobs_https=https))["simfleet_jobs_requests_total"]
    assert requests.value(protocol="mqtt", operation="UpdateJobExecution", outcome="ok") == 1
    assert (
        requests.value(protocol="mqtt", operation="UpdateJobExecution", outcome="RequestThrottled")
        == 2
    )
    assert (
        requests.value(
            protocol="https", operation="UpdateJobExecution", outcome="ThrottlingException"
        )
        == 1
    )
    assert requests.value(protocol="sigv4", operation="DescribeJobExecution", outcome="ok") == 1
    assert requests.total() == 6
    assert len(requests.samples) == 5


def test_denials_by_policy_type_and_action_each_counter_once() -> None:
    broker = BrokerCounters()
    broker.denials.record("iot:Publish")
    broker.denials.record("iotjobsdata:UpdateJobExecution")
    https = JobsHttpCounters(policy_denials=broker.denials)  # shared, as the app wires it
    https.iam_denials.record("iotjobsdata:DescribeJobExecution")
    control_plane_iam = DenialCounter()
    control_plane_iam.record("iot:CancelJob")
    control_plane_iam.record("iot:CancelJob")
    families = _scrape(_metrics(broker=broker, jobs_https=https, iam_denials=(control_plane_iam,)))
    denials = families["simfleet_policy_denials_total"]
    assert denials.value(policy="iot", action="iot:Publish") == 1
    assert denials.value(policy="iot", action="iotjobsdata:UpdateJobExecution") == 1
    assert denials.value(policy="iam", action="iotjobsdata:DescribeJobExecution") == 1
    assert denials.value(policy="iam", action="iot:CancelJob") == 2
    assert denials.total() == 5


def test_separate_iot_counters_are_summed() -> None:
    broker, https = BrokerCounters(), JobsHttpCounters()
    broker.denials.record("iotjobsdata:GetPendingJobExecutions")
    https.policy_denials.record("iotjobsdata:GetPendingJobExecutions")
    denials = _scrape(_metrics(broker=broker, jobs_https=https))["simfleet_policy_denials_total"]
    assert denials.value(policy="iot", action="iotjobsdata:GetPendingJobExecutions") == 2


def test_throttles_by_quota() -> None:
    quotas = FakeQuotaCounters({"jobs-reads": 0, "jobs-writes": 7, "connects-per-client-id": 2})
    throttles = _scrape(_metrics(throttles=quotas))["simfleet_throttles_total"]
    assert throttles.by("quota") == {"jobs-reads": 0, "jobs-writes": 7, "connects-per-client-id": 2}
    quotas.counts["jobs-reads"] = 3  # read at every scrape
    assert (
        _scrape(_metrics(throttles=quotas))["simfleet_throttles_total"].value(quota="jobs-reads")
        == 3
    )
    assert _scrape(_metrics())["simfleet_throttles_total"].samples == {}


def test_executions_and_jobs_by_status_over_every_job() -> None:
    jobs = FakeJobs(
        {
            "a": (JobStatus.IN_PROGRESS, {ExecutionStatus.QUEUED: 5, ExecutionStatus.FAILED: 1}),
            "b": (JobStatus.COMPLETED, {ExecutionStatus.SUCCEEDED: 4, ExecutionStatus.FAILED: 2}),
            "c": (JobStatus.IN_PROGRESS, {}),
        }
    )
    families = _scrape(_metrics(jobs=jobs))
    executions = families["simfleet_job_executions"].by("status")
    assert set(executions) == {status.value for status in ExecutionStatus}
    assert executions["QUEUED"] == 5
    assert executions["FAILED"] == 3
    assert executions["SUCCEEDED"] == 4
    assert sum(executions.values()) == 12
    by_job_status = families["simfleet_jobs"].by("status")
    assert set(by_job_status) == {status.value for status in JobStatus}
    assert by_job_status["IN_PROGRESS"] == 2
    assert by_job_status["COMPLETED"] == 1
    assert sum(by_job_status.values()) == 3


def test_loop_lag_only_when_measured() -> None:
    assert not any("lag" in name for name in _scrape(_metrics()))
    lag = LoopLag()
    for each in (0.001, 0.25, 0.002):
        lag.record(each)
    families = _scrape(_metrics(loop_lag=lag))
    assert families["simfleet_event_loop_lag_seconds"].value() == 0.002
    assert families["simfleet_event_loop_lag_max_seconds"].value() == 0.25
    probes = families["simfleet_event_loop_lag_probes_seconds"]
    assert probes.type == "summary"
    assert probes.value("_count") == 3
    assert probes.value("_sum") == pytest.approx(0.253)


def test_names_units_and_help() -> None:
    lag = LoopLag()
    families = _scrape(_metrics(loop_lag=lag, throttles=FakeQuotaCounters({})))
    for name, family in families.items():
        assert name.startswith("simfleet_"), name
        assert (family.type == "counter") == name.endswith("_total"), name
        assert family.help, name
    for name in ("simfleet_mqtt_connects_accepted_total", "simfleet_mqtt_messages_in_total"):
        assert "rate()" in families[name].help  # rates are Prometheus's job, said where read


_IO = {"socket", "ssl", "asyncio", "aiohttp", "threading", "time", "gevent", "paho", "httpx"}


@pytest.mark.parametrize("module", ["metrics.py", "prometheus.py", "jobs_counting.py"])
def test_sans_io(module: str) -> None:
    source = Path(simfleet.emulator.__file__).parent / module
    tree = ast.parse(source.read_text(encoding="utf-8"))
    roots = {
        alias.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for alias in n.names
    }
    roots |= {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert not roots & _IO
