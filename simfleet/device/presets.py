"""The named behaviour profiles `--profile NAME` picks (a file may start from one: `base = NAME`).

default          a firmware update over notify-next: download, verify, install, reboot
                 (about 40 s); 3 % FAILED, 1 % REJECTED
fast             the same in well under a second per job, for demos and tests; 3 % FAILED
flaky            short jobs on devices that crash mid-job (20 %) and go offline (5 % of
                 idle cycles) for a while
https-poller     start-next every 5-15 s, as AWS recommends for HTTPS devices
describe-next    describe $next every 5-15 s, then update IN_PROGRESS with expectedVersion
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from simfleet.device.backoff import Backoff
from simfleet.device.distribution import Distribution
from simfleet.device.profile import BehaviourProfile, Step, Workflow

_FIRMWARE_UPDATE = (
    Step(name="download", duration=Distribution.lognormal(10.0, 0.5, cap=60.0)),
    Step(name="verify", duration=Distribution.uniform(1.0, 3.0)),
    Step(name="install", duration=Distribution.uniform(8.0, 15.0)),
    Step(name="reboot", duration=Distribution.uniform(10.0, 20.0)),
)

DEFAULT = BehaviourProfile(
    name="default",
    steps=_FIRMWARE_UPDATE,
    step_timeout_minutes=10,
    failed_probability=0.03,
    rejected_probability=0.01,
)

FAST = BehaviourProfile(
    name="fast",
    steps=(
        Step(name="download", duration=Distribution.uniform(0.05, 0.3)),
        Step(name="install", duration=Distribution.uniform(0.05, 0.3)),
    ),
    step_timeout_minutes=1,
    failed_probability=0.03,
    poll_interval=Distribution.uniform(0.5, 1.5),
    idle_wait=1.0,
    request_timeout=10.0,
    throttle_backoff=Backoff(base=0.1, cap=2.0, multiplier=2.0),
    reconnect_backoff=Backoff(base=0.2, cap=5.0, multiplier=2.0),
)

FLAKY = BehaviourProfile(
    name="flaky",
    steps=(
        Step(name="download", duration=Distribution.uniform(1.0, 5.0)),
        Step(name="install", duration=Distribution.uniform(1.0, 5.0)),
        Step(name="reboot", duration=Distribution.uniform(2.0, 6.0)),
    ),
    step_timeout_minutes=5,
    failed_probability=0.03,
    crash_probability=0.2,
    crash_offline=Distribution.uniform(5.0, 30.0),
    offline_probability=0.05,
    offline_duration=Distribution.uniform(10.0, 60.0),
    idle_wait=2.0,
)

HTTPS_POLLER = dataclasses.replace(DEFAULT, name="https-poller", workflow=Workflow.START_NEXT_POLL)

DESCRIBE_NEXT = dataclasses.replace(DEFAULT, name="describe-next", workflow=Workflow.DESCRIBE_NEXT)

PRESETS: Mapping[str, BehaviourProfile] = MappingProxyType(
    {p.name: p for p in (DEFAULT, FAST, FLAKY, HTTPS_POLLER, DESCRIBE_NEXT)}
)
