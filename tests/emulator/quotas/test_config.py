"""QuotaConfig: AWS's defaults, off, the `--quotas` syntax, validation; the broker's limits
taken from it; the counters /metrics reads."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from certs_tool import Fleet
from simfleet.emulator.broker import Broker, BrokerConfig
from simfleet.emulator.clock import ManualClock
from simfleet.emulator.quotas import (
    MQTT_MAX_PAYLOAD_SIZE,
    Quota,
    QuotaConfig,
    QuotaCounters,
    Quotas,
)
from simfleet.jobs import Operation
from tests.emulator.broker.helpers import FakeScheduler, FleetPrincipals, InMemoryJobs


def test_defaults_are_the_spec_section_6_table() -> None:
    config = QuotaConfig()
    assert {quota: config.value(quota) for quota in Quota} == {
        Quota.JOBS_READS: 200,
        Quota.JOBS_WRITES: 200,
        Quota.PUBLISHES_PER_CONNECTION: 100,
        Quota.CONNECTS_PER_CLIENT_ID: 1,
        Quota.CONNECTS_PER_ACCOUNT: 500,
        Quota.SUBSCRIPTIONS_PER_CONNECTION: 50,
        Quota.PAYLOAD_SIZE: 128 * 1024,
    }
    # Buckets hold one second of their rate.
    assert config.burst(Quota.JOBS_WRITES) == 200
    assert config.burst(Quota.CONNECTS_PER_CLIENT_ID) == 1


def test_off_turns_every_quota_off() -> None:
    config = QuotaConfig.off()
    assert all(config.value(quota) is None for quota in Quota)
    assert all(config.burst(quota) is None for quota in Quota if quota.is_rate)


def test_a_burst_holds_at_least_one_request() -> None:
    config = QuotaConfig(jobs_reads=0.5, burst_seconds=0.1)
    assert config.burst(Quota.JOBS_READS) == 1.0
    with pytest.raises(ValueError, match="limit"):
        config.burst(Quota.PAYLOAD_SIZE)


def _aws(**changes: Any) -> QuotaConfig:
    return dataclasses.replace(QuotaConfig(), **changes)


def _off(**changes: Any) -> QuotaConfig:
    return dataclasses.replace(QuotaConfig.off(), **changes)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("aws", QuotaConfig(), id="aws"),
        pytest.param("off", QuotaConfig.off(), id="off"),
        pytest.param(
            "jobs-writes=1000,connects-per-client-id=off",
            _aws(jobs_writes=1000.0, connects_per_client_id=None),
            id="changes-on-aws",
        ),
        pytest.param(
            " off , jobs-reads = 200 ,jobs-writes=200",
            _off(jobs_reads=200.0, jobs_writes=200.0),
            id="only-jobs",
        ),
        pytest.param("off,aws", QuotaConfig(), id="aws-resets"),
        pytest.param(
            "subscriptions-per-connection=8,payload-size=1024",
            _aws(subscriptions_per_connection=8, payload_size=1024),
            id="limits",
        ),
        pytest.param("burst-seconds=0.1,off", _off(burst_seconds=0.1), id="burst-kept-by-off"),
        pytest.param("publishes-per-connection=2.5", _aws(publishes_per_connection=2.5), id="rate"),
    ],
)
def test_parse(spec: str, expected: QuotaConfig) -> None:
    assert QuotaConfig.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("", "not aws, off or NAME=VALUE", id="empty"),
        pytest.param("fast", "not aws, off or NAME=VALUE", id="unknown-word"),
        pytest.param("jobs-reads", "not aws, off or NAME=VALUE", id="no-value"),
        pytest.param("jobs-reads=", "not aws, off or NAME=VALUE", id="empty-value"),
        pytest.param("jobs-reeds=5", "unknown quota 'jobs-reeds'", id="unknown-name"),
        pytest.param("jobs-reads=many", "must be a number or off", id="not-a-number"),
        pytest.param("payload-size=1.5", "must be a whole number", id="fractional-limit"),
        pytest.param("jobs-reads=0", "rate > 0", id="zero-rate"),
        pytest.param("jobs-reads=-3", "rate > 0", id="negative-rate"),
        pytest.param("jobs-reads=inf", "rate > 0", id="infinite-rate"),
        pytest.param("jobs-reads=nan", "rate > 0", id="nan-rate"),
        pytest.param("subscriptions-per-connection=0", ">= 1", id="no-subscription"),
        pytest.param("payload-size=-1", "payload-size", id="negative-payload"),
        pytest.param("payload-size=300000000", "payload-size", id="payload-over-mqtt"),
        pytest.param("burst-seconds=0", "burst-seconds", id="zero-burst"),
        pytest.param("burst-seconds=off", "must be a number", id="burst-off"),
    ],
)
def test_parse_refuses(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuotaConfig.parse(spec)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"jobs_writes": 0}, id="zero-rate"),
        pytest.param({"connects_per_account": True}, id="bool"),
        pytest.param({"jobs_reads": "200"}, id="string"),
        pytest.param({"subscriptions_per_connection": 2.0}, id="float-limit"),
        pytest.param({"payload_size": MQTT_MAX_PAYLOAD_SIZE + 1}, id="payload"),
        pytest.param({"burst_seconds": float("inf")}, id="burst"),
    ],
)
def test_constructor_validates(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"quota|burst"):
        QuotaConfig(**changes)


@pytest.mark.parametrize(
    ("config", "subscriptions", "payload"),
    [
        pytest.param(QuotaConfig(), 50, 128 * 1024, id="aws"),
        pytest.param(QuotaConfig.off(), None, MQTT_MAX_PAYLOAD_SIZE, id="off"),
        pytest.param(
            QuotaConfig.parse("subscriptions-per-connection=3,payload-size=9"), 3, 9, id="custom"
        ),
    ],
)
def test_broker_limits_come_from_the_quotas(
    config: QuotaConfig, subscriptions: int | None, payload: int
) -> None:
    broker_config = BrokerConfig(region="eu-west-1").with_quotas(config)
    assert broker_config.max_subscriptions == subscriptions
    assert broker_config.max_payload_size == payload
    assert broker_config.region == "eu-west-1"


def test_broker_refuses_limits_that_disagree_with_its_quotas(shared_fleet: Fleet) -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="with_quotas"):
        Broker(
            principals=FleetPrincipals(shared_fleet),
            jobs=InMemoryJobs(clock),
            clock=clock,
            scheduler=FakeScheduler(clock),
            config=BrokerConfig(),  # AWS's 50 subscriptions, while the quotas are off
            quotas=Quotas(QuotaConfig.off(), now=clock.now()),
        )


def test_counters_snapshot_names_every_quota() -> None:
    counters = QuotaCounters()
    counters.record(Quota.JOBS_WRITES)
    counters.record(Quota.JOBS_WRITES)
    counters.record(Quota.PAYLOAD_SIZE)
    snapshot = counters.snapshot()
    assert snapshot == {quota.value: 0 for quota in Quota} | {"jobs-writes": 2, "payload-size": 1}
    assert all(type(value) is int for value in snapshot.values())


def test_a_connect_refused_per_client_id_spends_no_account_token() -> None:
    now = 1_750_000_000.0
    quotas = Quotas(
        QuotaConfig.parse("off,connects-per-client-id=1,connects-per-account=2"), now=now
    )
    assert quotas.allow_connect("a", now)
    for _ in range(5):
        assert not quotas.allow_connect("a", now)
    assert quotas.allow_connect("b", now)  # the account's second token is still there
    assert not quotas.allow_connect("c", now)
    assert quotas.counters.snapshot() == {quota.value: 0 for quota in Quota} | {
        "connects-per-client-id": 5,
        "connects-per-account": 1,
    }
    # A throttled client ID took no token of its own either: it may connect after a second.
    assert quotas.allow_connect("c", now + 1)


@pytest.mark.parametrize(
    ("operation", "quota"),
    [
        pytest.param(Operation.GET_PENDING, Quota.JOBS_READS, id="get-pending"),
        pytest.param(Operation.DESCRIBE, Quota.JOBS_READS, id="describe"),
        pytest.param(Operation.START_NEXT, Quota.JOBS_WRITES, id="start-next"),
        pytest.param(Operation.UPDATE, Quota.JOBS_WRITES, id="update"),
    ],
)
def test_jobs_operations_fall_in_reads_or_writes(operation: Operation, quota: Quota) -> None:
    now = 1_750_000_000.0
    config = QuotaConfig.parse(f"off,{quota.value}=1")
    quotas = Quotas(config, now=now)
    assert quotas.allow_jobs(operation, now)
    assert not quotas.allow_jobs(operation, now)
    assert quotas.counters[quota] == 1
    other = Operation.UPDATE if quota is Quota.JOBS_READS else Operation.DESCRIBE
    assert all(quotas.allow_jobs(other, now) for _ in range(100))  # the other one is off
