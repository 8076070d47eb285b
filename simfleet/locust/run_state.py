"""What one Locust process of a run shares between its users and listeners: `SimfleetRun`."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from enum import Enum

from certs_tool import Fleet
from simfleet.device import Reporter
from simfleet.locust.embedded import EmbeddedEmulator
from simfleet.locust.endpoints import Endpoints
from simfleet.locust.errors import ControlPlaneError
from simfleet.locust.identity import Identities
from simfleet.locust.operator import JobsOperator
from simfleet.locust.options import RunConfig
from simfleet.locust.summary import summary_line

log = logging.getLogger("simfleet")


class Role(Enum):
    """What a user class is to the run (set as `role` on the classes in `users`)."""

    MQTT_DEVICE = "MQTT"
    HTTPS_DEVICE = "HTTPS"
    OPERATOR = "operator"


class SimfleetRun:
    """The state one Locust process shares between its users and listeners.

    On a worker of a distributed run: `quiet_operator` is None (the master sums the jobs up),
    `on_job` tells the master of each job the Operator creates. On the master: `audit` gives
    the identity lines of the summary.
    """

    def __init__(
        self,
        *,
        config: RunConfig,
        fleet: Fleet,
        endpoints: Endpoints,
        identities: Identities,
        reporter: Reporter,
        operator: JobsOperator | None,
        quiet_operator: JobsOperator | None,
        target_arn: str | None,
        emulator: EmbeddedEmulator | None,
    ) -> None:
        self.config = config
        self.fleet = fleet
        self.endpoints = endpoints
        self.identities = identities
        self.reporter = reporter
        self.operator = operator  # reports its calls as API rows
        self._quiet_operator = quiet_operator  # for the summary, after the test
        self.target_arn = target_arn
        self._emulator = emulator
        self.spawned = threading.Event()  # gevent's, once Locust has monkey-patched
        self.created_jobs: list[str] = []
        self.on_job: Callable[[str], None] | None = None
        self.audit: Callable[[], list[str]] | None = None
        self._summary: list[str] = []
        self._warned: set[str] = set()

    @property
    def emulator_pid(self) -> int | None:
        """The embedded emulator's pid; None when the run targets an endpoint of its own."""
        return None if self._emulator is None else self._emulator.pid

    def warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.error("%s", message)

    def job_created(self, job_id: str) -> None:
        """The Operator created `job_id` (on this process, or on a worker: the master)."""
        if job_id not in self.created_jobs:
            self.created_jobs.append(job_id)
        if self.on_job is not None:
            self.on_job(job_id)

    def collect_summary(self) -> None:
        lines = []
        if self._quiet_operator is not None:
            for job_id in self.created_jobs:
                try:
                    lines.append(summary_line(self._quiet_operator.progress(job_id)))
                except ControlPlaneError as exc:
                    lines.append(f"job {job_id}: no summary, DescribeJob failed: {exc}")
        if self.audit is not None:
            lines += self.audit()
        self._summary = lines

    @property
    def summary(self) -> list[str]:
        """The summary lines of the last test: one per job the Operator created, then the
        identity lines of a distributed run."""
        return list(self._summary)

    def print_summary(self) -> None:
        for line in self._summary:
            print(line)
        sys.stdout.flush()

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
