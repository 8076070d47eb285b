"""AWS IoT's control-plane quotas: transactions per second for each API, per account (issue #7),
with no I/O: time is passed in. The data-plane and broker quotas are quotas.py's; one
`--quotas SPEC` sets both (`parse_quota_spec`).

Values: "AWS IoT Throttling Limits" (awsdocs/aws-iot-docs, developerguide/limits-iot.md at
b946d0b, 2019; spec §6 cites the same table), which certs-tool's rate limiter uses too. Newer
APIs missing from that table are marked [U] where they are set.

SPEC items, applied left to right with quotas.py's (`aws` and `off` reset both families):

    api=off | api=aws | api=N        every API off, at AWS's rates, or at N per second
    api:RegisterCertificate=N|off    one API (its AWS name)

Choices [U] (AWS documents rates, not how it measures them):
- A token bucket per API holding `burst_seconds` of its rate (quotas.py's TokenBucket; the
  same `burst-seconds`), full at start. A call over it is answered 400 ThrottlingException
  "Rate exceeded" and changes nothing: the IoT model gives ThrottlingException status 400,
  and botocore's legacy retry handler retries exactly (ThrottlingException, 400); its
  standard mode retries the code whatever the status.
- A call takes a token once it is authenticated and authorized (SigV4, then IAM): a refused
  call costs nothing, as in quotas.py.
- RegisterCertificate and RegisterCertificateWithoutCA have a bucket each.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol

from simfleet.emulator.errors import AwsError
from simfleet.emulator.quotas import THROTTLED_MESSAGE, QuotaConfig, TokenBucket

# Transactions per second by API (the 2019 table), for the APIs the emulator serves.
AWS_API_RATES: Final[Mapping[str, float]] = MappingProxyType(
    {
        "AddThingToThingGroup": 60.0,
        "AttachPolicy": 15.0,
        "AttachThingPrincipal": 15.0,
        "CancelJob": 10.0,
        "CancelJobExecution": 10.0,
        "CreateJob": 10.0,
        "CreatePolicy": 10.0,
        "CreateThing": 15.0,
        "CreateThingGroup": 25.0,
        "DeleteCACertificate": 10.0,
        "DeleteCertificate": 10.0,
        "DeleteJob": 10.0,
        "DeleteJobExecution": 10.0,
        "DeletePolicy": 10.0,
        "DeleteThing": 15.0,
        "DeleteThingGroup": 15.0,
        "DescribeCACertificate": 10.0,
        "DescribeCertificate": 10.0,
        "DescribeJob": 10.0,
        "DescribeJobExecution": 10.0,
        "DescribeThing": 350.0,
        "DescribeThingGroup": 100.0,
        "DetachPolicy": 15.0,
        "DetachThingPrincipal": 15.0,
        "GetJobDocument": 10.0,
        "GetPolicy": 10.0,
        "GetRegistrationCode": 10.0,
        "ListAttachedPolicies": 15.0,
        "ListCACertificates": 10.0,
        "ListCertificates": 10.0,
        "ListCertificatesByCA": 10.0,
        "ListJobExecutionsForJob": 10.0,
        "ListJobExecutionsForThing": 10.0,
        "ListJobs": 10.0,
        "ListPolicies": 10.0,
        "ListPrincipalThings": 10.0,
        "ListTagsForResource": 10.0,
        "ListTargetsForPolicy": 10.0,
        "ListThingGroups": 10.0,
        "ListThingGroupsForThing": 10.0,
        "ListThingPrincipals": 10.0,
        "ListThings": 10.0,
        "ListThingsInThingGroup": 25.0,
        "RegisterCACertificate": 10.0,
        "RegisterCertificate": 10.0,
        # [U] Newer than the table: RegisterCertificate's rate (certs-tool assumes the same).
        "RegisterCertificateWithoutCA": 10.0,
        "RemoveThingFromThingGroup": 15.0,
        "TagResource": 10.0,
        "UntagResource": 10.0,
        "UpdateCACertificate": 10.0,
        "UpdateCertificate": 10.0,
        "UpdateJob": 10.0,
    }
)
API_PREFIX: Final = "api"  # `api=...` sets every API; `api:NAME=...` one


@dataclass(frozen=True, kw_only=True)
class ApiQuotaConfig:
    """Requests per second by API name; None (or absent) is no quota. AWS's by default."""

    # Not hashed (a mapping is not hashable): a config is compared, not used as a key.
    rates: Mapping[str, float | None] = field(
        default_factory=lambda: dict(AWS_API_RATES), hash=False
    )
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name, rate in self.rates.items():
            if name not in AWS_API_RATES:
                raise ValueError(f"unknown API quota {API_PREFIX}:{name}")
            if rate is not None and not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"quota {API_PREFIX}:{name} must be a rate > 0, not {rate!r}")
        if not (math.isfinite(self.burst_seconds) and self.burst_seconds > 0):
            raise ValueError("burst-seconds must be > 0")
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))

    def rate(self, api: str) -> float | None:
        return self.rates.get(api)

    def with_item(self, name: str, text: str) -> ApiQuotaConfig:
        """The config after one `api=...` or `api:NAME=...` item of a SPEC."""
        if name == API_PREFIX:
            if text == "aws":
                return dataclasses.replace(self, rates=dict(AWS_API_RATES))
            value = _rate(name, text)
            return dataclasses.replace(self, rates=dict.fromkeys(AWS_API_RATES, value))
        api = name.removeprefix(f"{API_PREFIX}:")
        if api not in AWS_API_RATES:
            raise ValueError(
                f"unknown API quota {name!r} (an API the emulator serves, e.g. "
                f"{API_PREFIX}:RegisterCertificate)"
            )
        return dataclasses.replace(self, rates={**self.rates, api: _rate(name, text)})


def _rate(name: str, text: str) -> float | None:
    if text == "off":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"quota {name}={text!r}: the value must be a number or off") from None


def parse_quota_spec(spec: str) -> tuple[QuotaConfig, ApiQuotaConfig]:
    """The two quota families a `--quotas SPEC` sets (see the module docstring). Raises
    ValueError naming the item at fault."""
    others: list[str] = []
    api = ApiQuotaConfig()
    for raw in spec.split(","):
        item = raw.strip()
        name, equals, text = (part.strip() for part in item.partition("="))
        if item == "aws":
            others.append(item)
            api = ApiQuotaConfig(burst_seconds=api.burst_seconds)
        elif item == "off":
            others.append(item)
            api = ApiQuotaConfig(rates={}, burst_seconds=api.burst_seconds)
        elif name == "burst-seconds":
            others.append(item)
            burst = QuotaConfig.parse(item).burst_seconds
            api = dataclasses.replace(api, burst_seconds=burst)
        elif name == API_PREFIX or name.startswith(f"{API_PREFIX}:"):
            if not equals or not text:
                raise ValueError(f"quota item {item!r} is not {API_PREFIX}=VALUE")
            api = api.with_item(name, text)
        else:
            others.append(item)
    return QuotaConfig.parse(",".join(others) or "aws"), api


class ApiThrottles:
    """How many calls each API's quota refused, for /metrics (`api:NAME` keys)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def record(self, api: str) -> None:
        self._counts[api] = self._counts.get(api, 0) + 1

    def snapshot(self) -> dict[str, int]:
        return {f"{API_PREFIX}:{api}": count for api, count in sorted(self._counts.items())}


class ApiQuotas:
    """The live buckets of one emulator's control plane."""

    def __init__(self, config: ApiQuotaConfig, *, now: float) -> None:
        self.config = config
        self.throttles = ApiThrottles()
        self._buckets = {
            api: TokenBucket(rate=rate, burst=max(1.0, rate * config.burst_seconds), now=now)
            for api, rate in config.rates.items()
            if rate is not None
        }

    def admit(self, api: str, now: float) -> None:
        """Take a token of `api`'s quota, or raise ThrottlingException (nothing is spent)."""
        bucket = self._buckets.get(api)
        if bucket is not None and not bucket.take(now):
            self.throttles.record(api)
            raise AwsError("ThrottlingException", THROTTLED_MESSAGE, 400)


class CountSource(Protocol):
    def snapshot(self) -> Mapping[str, int]: ...


class MergedCounts:
    """Several named-count sources as one (both quota families' refusals, for /metrics)."""

    def __init__(self, *sources: CountSource) -> None:
        self._sources = sources

    def snapshot(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for source in self._sources:
            merged.update(source.snapshot())
        return merged
