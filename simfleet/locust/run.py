"""The run: what Locust's event listeners set up at start-up and tear down at the end.

    init              the local runner or master (`startup.start`): RunConfig from the
                      options, the fleet, the embedded emulator (no --host) or a TLS probe of
                      the given endpoints, the control plane, the lease book; a master then
                      serves its workers (`distributed.MasterLink`); a worker starts from its
                      master's set-up (`distributed.start_worker`). Any RunError: one line on
                      stderr and exit status 1, before a user starts.
    test_start        the options the web UI may change (profile, start delay, job plan)
    spawning_complete lets the Operator start its jobs
    test_stop         the job summary, asked of the control plane while it still runs
    quit              prints the summary after Locust's stats, stops the emulator

Users find their run with `run_of(environment)`. Every user holds a distinct device across all
the processes of a run: the local runner or master keeps the one lease book, and a worker's
users lease through it.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from locust.env import Environment
from locust.event import Events
from locust.runners import MasterRunner, Runner, WorkerRunner

from simfleet.locust import slo
from simfleet.locust.distributed import END_TEST, SETUP_TIMEOUT, MasterLink, start_worker
from simfleet.locust.errors import ConfigError, RunError
from simfleet.locust.options import add_options
from simfleet.locust.run_state import Role, SimfleetRun
from simfleet.locust.startup import start

__all__ = ["Role", "SimfleetRun", "end_test", "install", "run_of"]

log = logging.getLogger("simfleet")

_RUNS: weakref.WeakKeyDictionary[Environment, SimfleetRun] = weakref.WeakKeyDictionary()
# Set once the init listener has registered the run: a worker's users can spawn before.
_STARTED: weakref.WeakKeyDictionary[Environment, threading.Event] = weakref.WeakKeyDictionary()
# Environments whose spawning completed before their run was registered (a slow worker).
_SPAWNED: weakref.WeakSet[Environment] = weakref.WeakSet()


def run_of(environment: Environment) -> SimfleetRun:
    """The run of `environment`, set up by the init listener. A worker's users that Locust
    spawns before the master's set-up has arrived wait here for it."""
    run = _RUNS.get(environment)
    if run is None:
        started = _STARTED.get(environment)
        if started is not None:
            started.wait(SETUP_TIMEOUT)
        run = _RUNS[environment]
    return run


def install(events: Events) -> None:
    """Register the options and the run's listeners on Locust's events."""
    listeners: list[tuple[Any, Callable[..., None]]] = [
        (events.init_command_line_parser, add_options),
        (events.init, _on_init),
        (events.test_start, _on_test_start),
        (events.spawning_complete, _on_spawning_complete),
        (events.test_stop, _on_test_stop),
        (events.quit, _on_quit),
    ]
    for hook, listener in listeners:  # EventHook.add_listener is not annotated
        hook.add_listener(listener)
    slo.install(events, run_of=_RUNS.get)  # after these: its verdict prints after the summary


def _on_init(environment: Environment, runner: Runner, **_: Any) -> None:
    started = _STARTED[environment] = threading.Event()
    try:
        run = _start(environment, runner)
    except RunError as exc:
        log.error("%s", exc)
        # Locust only logs an exception raised here; SystemExit is not caught, and stops the
        # process before any user starts.
        sys.exit(1)
    _RUNS[environment] = run
    if environment in _SPAWNED:
        run.spawned.set()
    started.set()
    # A run that ends without Locust's quit event (an error in Locust, a second Ctrl-C) still
    # stops its emulator; stop() is idempotent.
    atexit.register(run.close)


def _start(environment: Environment, runner: Runner) -> SimfleetRun:
    if isinstance(runner, WorkerRunner):
        return start_worker(environment, runner)
    if not isinstance(runner, MasterRunner):
        return start(environment)
    link = MasterLink(environment, runner, end_test=end_test)
    try:
        run = start(environment)
    except RunError as exc:
        link.failed(str(exc))
        raise
    link.started(run)
    return run


def _on_test_start(environment: Environment, **_: Any) -> None:
    _SPAWNED.discard(environment)
    run = _RUNS.get(environment)
    if run is None:
        return
    run.spawned.clear()
    try:
        run.config = run.config.for_test(environment.parsed_options, now=datetime.now(UTC))
    except ConfigError as exc:
        log.error("%s; this test keeps the previous settings", exc)


def _on_spawning_complete(user_count: int, **_: Any) -> None:
    del user_count
    for environment in list(_STARTED.keys()):
        run = _RUNS.get(environment)
        if run is None:
            _SPAWNED.add(environment)
        else:
            run.spawned.set()


def _on_test_stop(environment: Environment, **_: Any) -> None:
    run = _RUNS.get(environment)
    if run is not None:
        run.collect_summary()
        if not _headless(environment):
            # The web UI stays up for the next test: say now how this one's jobs went.
            for line in run.summary:
                log.info("%s", line)


def _headless(environment: Environment) -> bool:
    options = environment.parsed_options
    return bool(options is not None and options.headless)


def end_test(environment: Environment) -> None:
    """What --stop-when-done does: quit a headless run; in the web UI, stop the test only. On a
    worker, the master does it, for every worker."""
    runner = environment.runner
    if runner is None:
        return
    if isinstance(runner, WorkerRunner):
        runner.send_message(END_TEST, {})
    elif _headless(environment):
        runner.quit()
    else:
        runner.stop()


def _on_quit(exit_code: int, **_: Any) -> None:
    del exit_code
    for run in list(_RUNS.values()):
        run.print_summary()
        run.close()
