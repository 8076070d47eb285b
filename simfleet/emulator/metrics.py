"""The emulator's live counters, named for Prometheus (issue #4, item 5), with no I/O.

    metrics = EmulatorMetrics(broker=broker.counters, control_plane=api.counters,
                              jobs_mqtt=counting.counters, jobs_https=jobs_http.counters,
                              jobs=jobs_service, throttles=quotas, loop_lag=monitor.lag)
    HttpsApiServer(api, ..., metrics=metrics.render)      # GET /metrics, control-plane port

`EmulatorMetrics` reads the counters objects the broker, the HTTP APIs and the Jobs service
already keep, at every scrape, and writes them with `prometheus.render`: nothing is copied on
the hot paths. Every metric is prefixed `simfleet_`; counters end in `_total`, durations in
`_seconds`.

Rates ("handshakes/s", "messages/s") are not exposed: they are what Prometheus's rate()
computes from the `_total` counters, over the window the reader chooses. Gauges are read at
scrape time; executions by status cost O(jobs), not O(executions), since the Jobs service
keeps each job's counts up to date (`ExecutionBook.status_counts`).

Errors: none of its own; see `prometheus` for a malformed family (a bug).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from simfleet.emulator.broker.counters import BrokerCounters, RefusalReason
from simfleet.emulator.http.counters import RequestCounters
from simfleet.emulator.jobs_http.counters import JobsHttpCounters
from simfleet.emulator.policy import DenialCounter
from simfleet.emulator.prometheus import Labels, MetricFamily, MetricType, Sample, render
from simfleet.emulator.records import Job, JobStatus
from simfleet.jobs import ExecutionStatus

PREFIX = "simfleet_"


class JobsView(Protocol):
    """What the Jobs service answers DescribeJob from; `JobsService` is one."""

    def jobs(self) -> Iterable[Job]: ...

    def status_counts(self, job_id: str) -> Mapping[ExecutionStatus, int]: ...


class CountSource(Protocol):
    """Named counts, e.g. throttled requests by quota."""

    def snapshot(self) -> Mapping[str, int]: ...


class LoopLagSource(Protocol):
    """Event-loop lag measurements in seconds (`loop_lag.LoopLag` is one)."""

    @property
    def last_seconds(self) -> float: ...

    @property
    def max_seconds(self) -> float: ...

    @property
    def total_seconds(self) -> float: ...

    @property
    def count(self) -> int: ...


def _counter(name: str, help_text: str, value: int) -> MetricFamily:
    return MetricFamily(
        name=PREFIX + name, help=help_text, type=MetricType.COUNTER, samples=(Sample(value=value),)
    )


def _gauge(name: str, help_text: str, value: float) -> MetricFamily:
    return MetricFamily(
        name=PREFIX + name, help=help_text, type=MetricType.GAUGE, samples=(Sample(value=value),)
    )


def _labelled(
    name: str, help_text: str, kind: MetricType, rows: Iterable[tuple[Labels, float]]
) -> MetricFamily:
    samples = tuple(Sample(labels=labels, value=value) for labels, value in rows)
    return MetricFamily(name=PREFIX + name, help=help_text, type=kind, samples=samples)


def _distinct(counters: Iterable[DenialCounter]) -> list[DenialCounter]:
    """Each counter once: the app shares the broker's with the Jobs HTTPS API."""
    return list({id(counter): counter for counter in counters}.values())


def _merged(counters: Iterable[DenialCounter]) -> list[tuple[str, int]]:
    total: Counter[str] = Counter()
    for counter in _distinct(counters):
        total.update(counter.snapshot())
    return sorted(total.items())


# The broker's plain counters: (metric name, BrokerCounters attribute, help).
_BROKER_TOTALS = (
    ("mqtt_connections_total", "connections_total", "TCP connections accepted on the MQTT port."),
    (
        "mqtt_tls_handshake_failures_total",
        "tls_failures",
        "TLS handshakes refused: unknown CA, no client certificate, not TLS.",
    ),
    (
        "mqtt_connects_accepted_total",
        "connects_accepted",
        "CONNECTs answered CONNACK 0 (TLS handshake, certificate and policy passed); "
        "rate() of it is device handshakes per second.",
    ),
    (
        "mqtt_takeovers_total",
        "takeovers",
        "CONNECTs that closed an older connection with the same client ID.",
    ),
    (
        "mqtt_messages_in_total",
        "messages_in",
        "PUBLISH packets received from clients; rate() of it is messages in per second.",
    ),
    (
        "mqtt_messages_out_total",
        "messages_out",
        "PUBLISH packets written to clients, redeliveries included; rate() of it is "
        "messages out per second.",
    ),
    (
        "mqtt_messages_dropped_total",
        "messages_dropped",
        "Messages dropped: queue full, or QoS 0 to a stalled or offline client.",
    ),
    (
        "mqtt_keep_alive_timeouts_total",
        "keep_alive_timeouts",
        "Connections closed for silence past 1.5 keep-alive periods.",
    ),
    ("mqtt_protocol_errors_total", "protocol_errors", "Connections closed for bad MQTT input."),
    (
        "mqtt_internal_errors_total",
        "internal_errors",
        "Connections closed by an emulator bug (see the log).",
    ),
)


@dataclass(frozen=True, kw_only=True)
class EmulatorMetrics:
    """The emulator's counters objects, read at every scrape.

    `jobs_mqtt` counts MQTT Jobs requests (`jobs_counting.CountingJobsHandler`);
    `iam_denials` adds IAM denial counters other than the Jobs HTTPS API's own (the control
    plane's); `throttles` is any object whose snapshot() maps a quota name to the requests
    it throttled.
    """

    broker: BrokerCounters
    control_plane: RequestCounters
    jobs_mqtt: RequestCounters
    jobs_https: JobsHttpCounters
    jobs: JobsView
    iam_denials: Sequence[DenialCounter] = ()
    throttles: CountSource | None = None
    loop_lag: LoopLagSource | None = None

    def render(self) -> str:
        """The body of GET /metrics."""
        return render(self.families())

    def families(self) -> list[MetricFamily]:
        families = self._mqtt()
        families += self._requests()
        families += self._jobs_state()
        if self.loop_lag is not None:
            families += _loop_lag(self.loop_lag)
        return families

    def _mqtt(self) -> list[MetricFamily]:
        b = self.broker
        refused = (((("reason", r.value),), b.connects_refused.get(r, 0)) for r in RefusalReason)
        families = [
            _gauge(
                "mqtt_connections",
                "Open MQTT connections, TLS handshake done or not.",
                b.connections_current,
            ),
            _labelled(
                "mqtt_connects_refused_total",
                "Connections ended before CONNACK 0, by reason.",
                MetricType.COUNTER,
                refused,
            ),
        ]
        families += (
            _counter(name, help_text, getattr(b, attribute))
            for name, attribute, help_text in _BROKER_TOTALS
        )
        return families

    def _requests(self) -> list[MetricFamily]:
        by_protocol = (
            ("mqtt", self.jobs_mqtt),
            ("https", self.jobs_https.device),
            ("sigv4", self.jobs_https.sigv4),
        )
        jobs_rows = (
            ((("protocol", protocol), ("operation", operation), ("outcome", outcome)), n)
            for protocol, counters in by_protocol
            for (operation, outcome), n in sorted(counters.counts.items())
        )
        control_rows = (
            ((("operation", operation), ("outcome", outcome)), n)
            for (operation, outcome), n in sorted(self.control_plane.counts.items())
        )
        iot = _merged((self.broker.denials, self.jobs_https.policy_denials))
        iam = _merged((self.jobs_https.iam_denials, *self.iam_denials))
        denial_rows = [
            ((("policy", policy), ("action", action)), n)
            for policy, merged in (("iot", iot), ("iam", iam))
            for action, n in merged
        ]
        throttled = {} if self.throttles is None else self.throttles.snapshot()
        return [
            _labelled(
                "jobs_requests_total",
                "Jobs device API requests answered, by protocol (mqtt; https: device "
                "certificate; sigv4), operation and outcome (ok, or the error code "
                "sent: MQTT rejected code or HTTPS x-amzn-ErrorType); rate() of it is "
                "requests per second.",
                MetricType.COUNTER,
                jobs_rows,
            ),
            _labelled(
                "control_plane_requests_total",
                "Control-plane requests answered, by operation and outcome (ok, or "
                "the x-amzn-ErrorType sent).",
                MetricType.COUNTER,
                control_rows,
            ),
            _labelled(
                "policy_denials_total",
                "Requests denied, by policy type (iot: IoT Core policy of a "
                "certificate; iam: IAM policy of a SigV4 principal) and action.",
                MetricType.COUNTER,
                denial_rows,
            ),
            _labelled(
                "throttles_total",
                "Refusals by quota: Jobs requests throttled, publishes dropped, CONNECTs "
                "refused, connections closed for subscriptions or payload size.",
                MetricType.COUNTER,
                (((("quota", quota),), n) for quota, n in sorted(throttled.items())),
            ),
        ]

    def _jobs_state(self) -> list[MetricFamily]:
        executions = dict.fromkeys(ExecutionStatus, 0)
        jobs = dict.fromkeys(JobStatus, 0)
        for job in self.jobs.jobs():
            jobs[job.status] += 1
            for status, n in self.jobs.status_counts(job.job_id).items():
                executions[status] += n
        return [
            _labelled(
                "job_executions",
                "Targeted things by the status of their latest execution, over every "
                "job (what DescribeJob's jobProcessDetails sums).",
                MetricType.GAUGE,
                (((("status", s.value),), n) for s, n in executions.items()),
            ),
            _labelled(
                "jobs",
                "Jobs by status.",
                MetricType.GAUGE,
                (((("status", s.value),), n) for s, n in jobs.items()),
            ),
        ]


def _loop_lag(lag: LoopLagSource) -> list[MetricFamily]:
    return [
        _gauge(
            "event_loop_lag_seconds",
            "How late the event loop ran the last lag probe's timer: the delay any ready "
            "callback (a packet, a request) saw then.",
            lag.last_seconds,
        ),
        _gauge(
            "event_loop_lag_max_seconds", "The largest event-loop lag since start.", lag.max_seconds
        ),
        MetricFamily(
            name=PREFIX + "event_loop_lag_probes_seconds",
            help="Every lag probe: rate(_sum) / rate(_count) is the mean lag over a window.",
            type=MetricType.SUMMARY,
            samples=(
                Sample(suffix="_sum", value=lag.total_seconds),
                Sample(suffix="_count", value=lag.count),
            ),
        ),
    ]
