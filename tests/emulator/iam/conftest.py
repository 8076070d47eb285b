"""Fixtures: the control plane and the Jobs HTTPS API over the session's shared fleet
(8 devices), with an administrator, an operator and a one-thing service principal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from certs_tool import Fleet
from simfleet.emulator.iam import Principals, administrator
from tests.emulator.iam.helpers import Served, arn, policy, principal, statement

ADMIN_KEY = "AKIASIMFLEETADMIN000"
OPERATOR_KEY = "AKIASIMFLEETOPERATOR"
SERVICE_KEY = "AKIASIMFLEETSERVICE0"


@pytest.fixture
def things(shared_fleet: Fleet) -> list[str]:
    return [device.thing_name for device in shared_fleet.devices]


@pytest.fixture
def served(shared_fleet: Fleet, tmp_path: Path, things: list[str]) -> Iterator[Served]:
    principals = Principals.of(
        administrator(ADMIN_KEY, "admin-secret"),
        # Allowed CreateJob (on every job and target) and DescribeJob, not CancelJob.
        principal(
            "operator",
            OPERATOR_KEY,
            policy(statement(action=["iot:CreateJob", "iot:DescribeJob"])),
            secret="operator-secret",
        ),
        # A cloud service allowed the Jobs data plane on one thing only.
        principal(
            "service",
            SERVICE_KEY,
            policy(statement(action="iotjobsdata:*", resource=arn("thing", things[0]))),
            secret="service-secret",
        ),
    )
    running = Served(shared_fleet, tmp_path / "state", principals)
    yield running
    running.close()


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    # One session per module: it caches the loaded models across clients.
    return boto3.session.Session()
