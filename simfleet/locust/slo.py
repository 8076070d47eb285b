"""The SLO gates and the job report, as Locust listeners (installed by `run.install`).

    init_command_line_parser  the --gate-* and --job-report* options (gate_options)
    init                      GateConfig and ReportConfig, checked once: a bad value is one
                              line on stderr and exit status 1, before any user starts
    test_start                (master or local runner) the sampler: every
                              --job-report-interval, DescribeJob of the run's running jobs
                              (`created_jobs` of the run; a master's has its workers'
                              Operators' jobs) and a scrape of the embedded emulator's /metrics
    test_stop                 (master or local) the last sample
    quitting                  (master or local) the gates, on Locust's aggregated stats and the
                              last sample; the exit code; the report files
    quit                      one line per gate, after Locust's stats and the job summary

With a gate set, the gates decide the exit status instead of --exit-code-on-error: 3 when one
is breached, else 0, unless a user task raised or a greenlet died (then Locust decides, as
without gates). With no gate and no report asked for, nothing here runs during the test.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import gevent  # type: ignore[import-untyped]
from locust import log as locust_log
from locust.env import Environment
from locust.event import Events
from locust.runners import Runner, WorkerRunner

from simfleet.locust.endpoints import Endpoints
from simfleet.locust.errors import ConfigError, ControlPlaneError
from simfleet.locust.gate_options import add_options, gate_config, report_config
from simfleet.locust.gates import (
    GATE_BREACH_EXIT_CODE,
    GateConfig,
    GateResult,
    breached,
    evaluate,
)
from simfleet.locust.job_figures import job_figures
from simfleet.locust.job_series import JobSeries
from simfleet.locust.metrics_scrape import (
    EmulatorCounters,
    fetch_metrics,
    metrics_url,
    parse_metrics,
)
from simfleet.locust.operator import JobsOperator, iot_client
from simfleet.locust.options import RunConfig
from simfleet.locust.report import JobReport, ReportConfig, report_json
from simfleet.locust.report_html import render_html
from simfleet.locust.soak_state import soak_report

log = logging.getLogger("simfleet")


class RunView(Protocol):
    """What is read of the run (`run.SimfleetRun`)."""

    @property
    def config(self) -> RunConfig: ...
    @property
    def endpoints(self) -> Endpoints: ...
    @property
    def created_jobs(self) -> Sequence[str]: ...


RunLookup = Callable[[Environment], RunView | None]


class RunOutcome:
    """One Locust process's sampler, gates and report."""

    def __init__(
        self,
        environment: Environment,
        *,
        gates: GateConfig,
        report: ReportConfig,
        run_of: RunLookup,
    ) -> None:
        self.environment = environment
        self.gates = gates
        self.report = report
        self._run_of = run_of
        self.series = JobSeries()
        self.emulator: EmulatorCounters | None = None
        self.results: tuple[GateResult, ...] = ()
        self._sampler: Any = None  # gevent Greenlet
        self._sampling = False
        self._operator: JobsOperator | None = None
        self._warned: set[str] = set()

    @property
    def wanted(self) -> bool:
        """Whether anything is to be measured: a gate is set or a report file is asked for."""
        html, json_path = self.report.paths(self._locust_html())
        return self.gates.enabled or html is not None or json_path is not None

    def start(self) -> None:
        """A test starts: sample every interval until it stops."""
        if self.wanted and not self._sampling:
            self._sampling = True
            self._sampler = gevent.spawn(self._sample_every_interval)

    def finish(self) -> None:
        """The test stopped: stop sampling, then one last sample (once)."""
        if not self._sampling:
            return
        self._sampling = False
        if self._sampler is not None:
            self._sampler.kill(block=True)
            self._sampler = None
        self.sample()

    def sample(self) -> None:
        """Describe the run's running jobs and scrape the embedded emulator, now."""
        now = time.time()
        run = self._run_of(self.environment)
        known = list(run.created_jobs) if run is not None else []
        described = []
        if run is not None and (to_ask := self.series.to_ask(known)):
            operator = self._operator or self._new_operator(run)
            for job_id in to_ask:
                try:
                    described.append(operator.progress(job_id))
                except ControlPlaneError as exc:
                    self._warn(f"job report: DescribeJob {job_id} failed ({exc})")
        if known:
            self.series.record(now, described)
        if run is not None and run.config.embedded:
            self._scrape(run, now)

    def conclude(self) -> None:
        """The process quits: gates, exit code, report files (master or local runner)."""
        self.finish()  # a test still running (Ctrl-C, SIGTERM): its last sample now
        environment = self.environment
        figures = job_figures(environment.stats)
        jobs = self.series.latest or None
        if self.gates.enabled:
            self.results = evaluate(self.gates, figures, jobs)
            self._set_exit_code()
        html, json_path = self.report.paths(self._locust_html())
        if html is None and json_path is None:
            return
        report = JobReport(
            started=environment.stats.start_time,
            ended=time.time(),
            interval=self.report.interval,
            figures=figures,
            gates=self.results,
            jobs=jobs,
            samples=self.series.samples,
            emulator=None if self.emulator is None else self.emulator.snapshot(),
            soak=None if (soak := soak_report(environment)) is None else soak.to_dict(),
        )
        document = report_json(report)
        try:
            if json_path is not None:
                _write(json_path, json.dumps(document, indent=1) + "\n")
                log.info("job report (JSON): %s", json_path)
            if html is not None:
                _write(html, render_html(report, document))
                log.info("job report: %s", html)
        except OSError as exc:
            log.error("cannot write the job report: %s", exc)

    def verdict_lines(self) -> list[str]:
        if not self.results:
            return []
        lines = [result.line() for result in self.results]
        if failed := breached(self.results):
            lines.append(
                f"SLO gates breached: {', '.join(failed)} (exit status {GATE_BREACH_EXIT_CODE})"
            )
        else:
            lines.append(f"SLO gates passed: {len(self.results)} of {len(self.results)}")
        return lines

    def _set_exit_code(self) -> None:
        environment = self.environment
        runner = environment.runner
        if breached(self.results):
            environment.process_exit_code = GATE_BREACH_EXIT_CODE
        elif (
            environment.process_exit_code is None
            and not (runner is not None and runner.exceptions)
            and not locust_log.unhandled_greenlet_exception
        ):
            environment.process_exit_code = 0

    def _sample_every_interval(self) -> None:
        while True:
            self.sample()
            gevent.sleep(self.report.interval)

    def _new_operator(self, run: RunView) -> JobsOperator:
        # The report's own calls are not part of the measured test: no API rows.
        self._operator = JobsOperator(iot_client(run.endpoints.control), report=_ignore)
        return self._operator

    def _scrape(self, run: RunView, now: float) -> None:
        api_url = run.endpoints.control.api_url
        if api_url is None:
            return
        if self.emulator is None:
            self.emulator = EmulatorCounters(metrics_url(api_url))
        try:
            text = fetch_metrics(self.emulator.url, ca_file=run.endpoints.ca_file)
        except (OSError, ValueError) as exc:
            self.emulator.failed(str(exc))
            self._warn(f"job report: cannot scrape {self.emulator.url} ({exc})")
        else:
            self.emulator.record(now, parse_metrics(text))

    def _locust_html(self) -> str | None:
        options = self.environment.parsed_options
        html = getattr(options, "html_file", None)
        return str(html) if html else None

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)


_OUTCOMES: weakref.WeakKeyDictionary[Environment, RunOutcome] = weakref.WeakKeyDictionary()


def install(events: Events, *, run_of: RunLookup) -> None:
    """Register the options and listeners; `run_of` finds the run of an environment."""

    def on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
        options = environment.parsed_options
        if options is None or runner is None:  # not started by Locust's main()
            return
        try:
            gates, report = gate_config(options), report_config(options)
        except ConfigError as exc:
            log.error("%s", exc)
            sys.exit(1)  # as run.py does: before any user starts
        _OUTCOMES[environment] = RunOutcome(environment, gates=gates, report=report, run_of=run_of)

    listeners: list[tuple[Any, Callable[..., None]]] = [
        (events.init_command_line_parser, add_options),
        (events.init, on_init),
        (events.test_start, _on_test_start),
        (events.test_stop, _on_test_stop),
        (events.quitting, _on_quitting),
        (events.quit, _on_quit),
    ]
    for hook, listener in listeners:  # EventHook.add_listener is not annotated
        hook.add_listener(listener)


def _measuring(environment: Environment) -> RunOutcome | None:
    """The outcome of `environment` if it is the master or the only process."""
    outcome = _OUTCOMES.get(environment)
    if outcome is None or isinstance(environment.runner, WorkerRunner):
        return None
    return outcome


def _on_test_start(environment: Environment, **_: Any) -> None:
    if (outcome := _measuring(environment)) is not None:
        outcome.start()


def _on_test_stop(environment: Environment, **_: Any) -> None:
    if (outcome := _measuring(environment)) is not None:
        outcome.finish()


def _on_quitting(environment: Environment, **_: Any) -> None:
    if (outcome := _measuring(environment)) is not None:
        outcome.conclude()


def _on_quit(exit_code: int, **_: Any) -> None:
    del exit_code
    for outcome in list(_OUTCOMES.values()):
        for line in outcome.verdict_lines():
            print(line)
    sys.stdout.flush()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _ignore(_: object) -> None:
    """The reporter of the report's own control-plane calls."""
