"""The soak (locustfiles/soak.py): its load shape, its Operator, and the listeners that run the
disconnect storm and sample memory. Importing this module registers its options and listeners
(after the run's own, which `simfleet.locust.users` registers).

    SoakShape      ramp to -u at -r a second, hold --soak-hold, drain at most --soak-drain;
                   at the storm time it sends the run-wide storm message (to itself when local,
                   to every worker from a master)
    SoakOperator   the run's job plan again every --soak-wave-period during the hold
    init           SoakPlan from the options (a bad one: one line on stderr, exit status 1);
                   the storm's message handlers
    test_start     (local runner or master) RSS samples of this process and the embedded
                   emulator every --memory-interval; workers add theirs to each stats report
    test_stop      the samples stop
    quit           prints the soak's lines after the job summary

The plan and the figures live in `soak_plan`, `storm`, `memory` and `soak_state`, which import
no Locust; `soak_state.soak_report(environment)` hands them to a report.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

import gevent  # type: ignore[import-untyped]
import locust
from locust import LoadTestShape
from locust.env import Environment
from locust.event import Events
from locust.rpc.protocol import Message
from locust.runners import MasterRunner, Runner, WorkerRunner

from simfleet.locust.errors import ConfigError
from simfleet.locust.memory import EMULATOR, LOCUST, RSS_KEY, MemoryMonitor, own_rss
from simfleet.locust.operator import JobPlanner
from simfleet.locust.options import JobPlan
from simfleet.locust.run import run_of
from simfleet.locust.soak_plan import (
    SoakPhase,
    SoakPlan,
    SoakTimeline,
    WavePlanner,
    add_soak_options,
)
from simfleet.locust.soak_state import SoakState, set_soak_state, soak_state
from simfleet.locust.storm import STORM_MESSAGE, STORM_RESULT, StormResult, connections_of
from simfleet.locust.users import MqttDevice, Operator

__all__ = ["MqttDevice", "SoakOperator", "SoakShape", "install"]

log = logging.getLogger("simfleet")


class SoakShape(LoadTestShape):
    """Ramp, hold, drain (see `soak_plan`), and the storm in the hold."""

    use_common_options = True  # the ramp is -u and -r, as in any Locust run

    _timeline: SoakTimeline | None = None  # this test's, from its first tick
    _stormed = False

    def reset_time(self) -> None:
        """A new test (Locust calls it as the shape starts)."""
        self.start_time = time.perf_counter()
        self._timeline = None
        self._stormed = False

    def get_run_time(self) -> float:
        """Seconds since the shape started (LoadTestShape's, typed)."""
        return time.perf_counter() - float(self.start_time)

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        assert runner is not None  # Locust sets it before the shape starts
        environment = runner.environment
        state = soak_state(environment)
        options = environment.parsed_options
        if state is None or options is None:  # not a soak this process set up
            return None
        users, spawn_rate = int(options.num_users or 1), float(options.spawn_rate or 1)
        if self._timeline is None:
            self._timeline = state.plan.timeline(users=users, spawn_rate=spawn_rate)
            state.begin(self._timeline)
        now = self.get_run_time()
        if not self._stormed and now >= self._timeline.storm_time:
            self._stormed = True
            if state.plan.storm_fraction > 0:
                state.storm_time = now
                log.info("disconnect storm: %.0f%% of the devices drop their connection",
                         state.plan.storm_fraction * 100)  # fmt: skip
                runner.send_message(STORM_MESSAGE, {"fraction": state.plan.storm_fraction})
        if self._timeline.phase(now) is SoakPhase.OVER:
            return None
        return users, spawn_rate


class SoakOperator(Operator):
    """The Operator of the soak: the run's job plan, started again in waves during the hold."""

    def job_planner(self, plan: JobPlan, *, start: float) -> JobPlanner:
        # On a worker these are the master's options, which came with the spawn message.
        soak = SoakPlan.from_options(self.environment.parsed_options)
        return WavePlanner.for_plan(
            soak, prefix=plan.prefix, per_wave=plan.count, per_minute=plan.per_minute, start=start
        )


# The environments this process set up as soaks (Locust's worker_report and quit events do
# not say which environment they are about), and the memory sampler of each.
_SOAKS: weakref.WeakSet[Environment] = weakref.WeakSet()
_SAMPLERS: weakref.WeakKeyDictionary[Environment, Any] = weakref.WeakKeyDictionary()


def install(events: Events) -> None:
    """Register the soak's options and listeners on Locust's events."""
    listeners: list[tuple[Any, Callable[..., None]]] = [
        (events.init_command_line_parser, add_soak_options),
        (events.init, _on_init),
        (events.test_start, _on_test_start),
        (events.report_to_master, _on_report_to_master),
        (events.worker_report, _on_worker_report),
        (events.test_stop, _on_test_stop),
        (events.quit, _on_quit),
    ]
    for hook, listener in listeners:  # EventHook.add_listener is not annotated
        hook.add_listener(listener)


def _on_init(environment: Environment, runner: Runner, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    try:
        plan = SoakPlan.from_options(options)
        if not isinstance(runner, WorkerRunner):  # the ramp and the job plan are the master's
            if options.spawn_rate is not None:
                plan.timeline(users=int(options.num_users or 1), spawn_rate=options.spawn_rate)
            plan.check_wave(count=int(options.job_count), per_minute=float(options.job_rate))
    except ConfigError as exc:
        log.error("%s", exc)
        sys.exit(1)  # as the run's own init does: before any user starts
    set_soak_state(environment, SoakState(plan=plan))
    _SOAKS.add(environment)
    if isinstance(runner, MasterRunner):
        runner.register_message(STORM_RESULT, _on_storm_result)
    else:
        runner.register_message(STORM_MESSAGE, _on_storm)


def _on_storm(environment: Environment, msg: Message, **_: Any) -> None:
    """This process's share of the storm (a worker's, or the local runner's)."""
    fraction = float(msg.data["fraction"])
    result = connections_of(environment).drop(fraction, random.Random())  # noqa: S311
    log.info("disconnect storm: dropped %d of %d connected devices", result.dropped,
             result.connected)  # fmt: skip
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(STORM_RESULT, result.to_dict())
    elif (state := soak_state(environment)) is not None:
        state.storms.append(result)


def _on_storm_result(environment: Environment, msg: Message, **_: Any) -> None:
    state = soak_state(environment)
    runner = environment.runner
    if state is not None and isinstance(runner, MasterRunner):
        worker = f"worker {runner.worker_indexes.get(str(msg.node_id), msg.node_id)}"
        state.storms.append(StormResult.from_dict(msg.data, worker=worker))


def _on_test_start(environment: Environment, **_: Any) -> None:
    """The local runner or the master samples memory; a worker sends its RSS with its stats."""
    state = soak_state(environment)
    shape = environment.shape_class
    worker = isinstance(environment.runner, WorkerRunner)
    if state is None or not isinstance(shape, SoakShape) or worker:
        return
    state.monitor = monitor = MemoryMonitor(clock=shape.get_run_time)
    _stop_sampler(environment)
    emulator = run_of(environment).emulator_pid
    _SAMPLERS[environment] = gevent.spawn(_sample, monitor, state.plan.memory_interval, emulator)


def _sample(monitor: MemoryMonitor, interval: float, emulator: int | None) -> None:
    """Every `interval` seconds: this process's RSS and the embedded emulator's, if any."""
    pids = {LOCUST: os.getpid()} if emulator is None else {LOCUST: os.getpid(), EMULATOR: emulator}
    while True:
        monitor.sample(pids)
        gevent.sleep(interval)


def _on_report_to_master(data: dict[str, Any], **_: Any) -> None:
    """A worker's RSS rides on each of its stats reports (every 3 s)."""
    pid, rss = own_rss()
    data[RSS_KEY] = {"pid": pid, "rss": rss}


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    sample = data.get(RSS_KEY)
    if sample is None:
        return
    for environment in list(_SOAKS):
        state, runner = soak_state(environment), environment.runner
        if state is not None and state.monitor is not None and isinstance(runner, MasterRunner):
            name = f"worker {runner.worker_indexes.get(client_id, client_id)}"
            state.monitor.record(name, int(sample["pid"]), int(sample["rss"]))


def _on_test_stop(environment: Environment, **_: Any) -> None:
    state = soak_state(environment)
    shape = environment.shape_class
    if state is not None and isinstance(shape, SoakShape) and environment in _SAMPLERS:
        state.ended_at = shape.get_run_time()
    _stop_sampler(environment)


def _stop_sampler(environment: Environment) -> None:
    sampler = _SAMPLERS.pop(environment, None)
    if sampler is not None:
        sampler.kill(block=False)


def _on_quit(**_: Any) -> None:
    """After the run's job summary (its quit listener comes first): the soak's lines."""
    for environment in list(_SOAKS):
        state = soak_state(environment)
        report = None if state is None else state.report()
        for line in [] if report is None else report.lines():
            print(line)
    sys.stdout.flush()


install(locust.events)
