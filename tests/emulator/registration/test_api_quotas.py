"""Control-plane quotas without I/O: the `--quotas` SPEC items for APIs next to the data-plane
ones, each API's bucket at the time given, and the refusals counted by API."""

from __future__ import annotations

import pytest

from simfleet.emulator.api_quotas import (
    AWS_API_RATES,
    ApiQuotaConfig,
    ApiQuotas,
    MergedCounts,
    parse_quota_spec,
)
from simfleet.emulator.errors import AwsError
from simfleet.emulator.quotas import QuotaConfig, QuotaCounters


@pytest.mark.parametrize(
    ("spec", "jobs_writes", "register", "describe_thing"),
    [
        pytest.param("aws", 200.0, 10.0, 350.0, id="aws"),
        pytest.param("off", None, None, None, id="off"),
        pytest.param("api=off", 200.0, None, None, id="api-off"),
        pytest.param("off,api=aws", None, 10.0, 350.0, id="only-api"),
        pytest.param("api=5", 200.0, 5.0, 5.0, id="every-api"),
        pytest.param("api:RegisterCertificate=50", 200.0, 50.0, 350.0, id="one-api"),
        pytest.param("api=off,api:RegisterCertificate=1.5", 200.0, 1.5, None, id="one-api-only"),
        pytest.param("api:RegisterCertificate=off,jobs-writes=7", 7.0, None, 350.0, id="mixed"),
        pytest.param("api:RegisterCertificate=3,aws", 200.0, 10.0, 350.0, id="aws-resets"),
    ],
)
def test_parse_quota_spec(
    spec: str, jobs_writes: float | None, register: float | None, describe_thing: float | None
) -> None:
    quotas, api = parse_quota_spec(spec)
    assert quotas.jobs_writes == jobs_writes
    assert api.rate("RegisterCertificate") == register
    assert api.rate("DescribeThing") == describe_thing


def test_burst_seconds_applies_to_both_families() -> None:
    quotas, api = parse_quota_spec("burst-seconds=3,api=off,api:ListThings=2")
    assert (quotas.burst_seconds, api.burst_seconds) == (3.0, 3.0)
    assert QuotaConfig.parse("burst-seconds=3") == quotas


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("api:NoSuchApi=3", "unknown API quota", id="unknown-api"),
        pytest.param("api:ListThings=fast", "must be a number or off", id="not-a-number"),
        pytest.param("api:ListThings=0", "rate > 0", id="zero"),
        pytest.param("api:ListThings", "api=VALUE", id="no-value"),
        pytest.param("jobs-reads=x", "jobs-reads", id="data-plane-item"),
        pytest.param("burst-seconds=0", "burst-seconds", id="burst"),
    ],
)
def test_bad_specs_name_the_item(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quota_spec(spec)


def test_every_api_has_a_bucket_of_burst_seconds_of_its_rate() -> None:
    quotas = ApiQuotas(ApiQuotaConfig(rates={"ListThings": 2.0}, burst_seconds=2), now=0.0)
    for _ in range(4):
        quotas.admit("ListThings", 0.0)
    with pytest.raises(AwsError) as raised:
        quotas.admit("ListThings", 0.0)
    assert (raised.value.code, raised.value.status, raised.value.message) == (
        "ThrottlingException",
        400,
        "Rate exceeded",
    )
    quotas.admit("ListThings", 0.5)  # half a second: one more token
    with pytest.raises(AwsError):
        quotas.admit("ListThings", 0.5)
    for _ in range(100):
        quotas.admit("DescribeThing", 0.5)  # no quota for it in this config
    assert quotas.throttles.snapshot() == {"api:ListThings": 2}


def test_aws_rates_come_from_the_2019_table() -> None:
    assert (AWS_API_RATES["RegisterCertificate"], AWS_API_RATES["AttachThingPrincipal"]) == (
        10.0,
        15.0,
    )
    assert ApiQuotaConfig().rates == AWS_API_RATES


def test_merged_counts_for_metrics() -> None:
    counters = QuotaCounters()
    quotas = ApiQuotas(ApiQuotaConfig(rates={"ListJobs": 1.0}), now=0.0)
    quotas.admit("ListJobs", 0.0)
    with pytest.raises(AwsError):
        quotas.admit("ListJobs", 0.0)
    merged = MergedCounts(counters, quotas.throttles).snapshot()
    assert merged["api:ListJobs"] == 1
    assert merged["jobs-reads"] == 0
