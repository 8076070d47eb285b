"""Real Locust `RequestStats`, built in a child process, read by the gates and the report.

Importing Locust monkey-patches its process with gevent, so it never happens in pytest's:
`report_documents(scenarios)` runs this module as a child (`python -m tests.locust.locust_stats`),
which logs each scenario's requests into a real `RequestStats` (locally, or on two workers
whose reports a master merges through Locust's own distributed-stats listeners, where errors
become strings), evaluates the gates and prints each scenario's `report_json` document.

A scenario (JSON):
    {"requests": [[method, name, response_time_ms, count, error], ...],
     "gates": {GateConfig keyword: value, ...},
     "jobs": [DescribeJob `job` member, ...] or null,
     "distributed": false}
error: null, ["rejected", CODE] (a JobsRejected), or ["device", REASON] (a DeviceError).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

TIMEOUT = 60.0


def report_documents(scenarios: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The report document of each scenario, from a child process that imported Locust."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.locust.locust_stats"], input=json.dumps(list(scenarios)),
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    documents: list[dict[str, Any]] = json.loads(done.stdout)
    return documents


def _main() -> None:
    import locust  # noqa: F401 - first, as the locust command does: it patches this process
    from locust import event
    from locust.stats import RequestStats, setup_distributed_stats_event_listeners

    from simfleet.device.errors import DeviceError, JobsRejected
    from simfleet.jobs import JobsErrorCode
    from simfleet.locust.gates import GateConfig, evaluate
    from simfleet.locust.job_figures import job_figures
    from simfleet.locust.report import JobReport, report_json
    from simfleet.locust.summary import JobProgress

    def error_of(spec: list[str] | None) -> Exception | None:
        if spec is None:
            return None
        kind, value = spec
        if kind == "rejected":
            return JobsRejected(JobsErrorCode(value), "the message varies")
        return DeviceError(value)

    new_events: Any = event.Events  # its methods are not annotated

    def stats_of(scenario: Mapping[str, Any]) -> RequestStats:
        workers = [RequestStats(), RequestStats()] if scenario.get("distributed") else []
        local = RequestStats()
        for index, (method, name, ms, count, error) in enumerate(scenario["requests"]):
            stats = workers[index % 2] if workers else local
            for _ in range(count):
                stats.log_request(method, name, ms, 0)
                if (exception := error_of(error)) is not None:
                    stats.log_error(method, name, exception)
        if not workers:
            return local
        master, master_events = RequestStats(), new_events()
        setup_distributed_stats_event_listeners(master_events, master)
        for number, worker in enumerate(workers):
            worker_events = new_events()
            setup_distributed_stats_event_listeners(worker_events, worker)
            data: dict[str, Any] = {}
            worker_events.report_to_master.fire(client_id=f"worker-{number}", data=data)
            # What the master gets has been through msgpack: plain data, errors as strings.
            master_events.worker_report.fire(client_id=f"worker-{number}", data=data)
        return master

    documents = []
    for scenario in json.load(sys.stdin):
        stats = stats_of(scenario)
        figures = job_figures(stats)
        jobs = scenario.get("jobs")
        progress = None if jobs is None else tuple(JobProgress.from_job(job) for job in jobs)
        gates = GateConfig(**scenario.get("gates", {}))
        report = JobReport(
            started=stats.start_time,
            ended=stats.start_time + 60.0,
            interval=5.0,
            figures=figures,
            gates=evaluate(gates, figures, progress),
            jobs=progress,
        )
        documents.append(report_json(report))
    json.dump(documents, sys.stdout)


if __name__ == "__main__":
    _main()
