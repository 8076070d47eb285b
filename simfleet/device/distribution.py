"""How long something takes, as a distribution of seconds a device draws from with its own rng.

    constant      value                 always `value`
    uniform       low, high             evenly between `low` and `high`
    exponential   mean [, cap]          memoryless waits (arrivals, polls): mean `mean`
    lognormal     median, sigma [, cap] task durations: most near `median`, a long tail

Every sample is a finite number of seconds >= 0. The unbounded kinds take an optional `cap` so
that a long tail cannot make one step last for hours.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from enum import Enum

from simfleet.device.errors import ProfileError

# A bound on every parameter and every sample (about 31 years): keeps draws finite.
MAX_SECONDS = 1e9
_MAX_EXPONENT = math.log(MAX_SECONDS)  # a lognormal draw is capped before exp() can overflow


class DistributionKind(Enum):
    CONSTANT = "constant"
    UNIFORM = "uniform"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


# The parameters each kind needs, and the optional ones it takes.
PARAMETERS: dict[DistributionKind, tuple[frozenset[str], frozenset[str]]] = {
    DistributionKind.CONSTANT: (frozenset({"value"}), frozenset()),
    DistributionKind.UNIFORM: (frozenset({"low", "high"}), frozenset()),
    DistributionKind.EXPONENTIAL: (frozenset({"mean"}), frozenset({"cap"})),
    DistributionKind.LOGNORMAL: (frozenset({"median", "sigma"}), frozenset({"cap"})),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Distribution:
    """A distribution of seconds; only the parameters of its `kind` are set (see the table)."""

    kind: DistributionKind
    value: float | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    median: float | None = None
    sigma: float | None = None
    cap: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, DistributionKind):
            raise ProfileError(f"kind: {self.kind!r} is not a DistributionKind")
        required, optional = PARAMETERS[self.kind]
        for item in fields(self):
            if item.name == "kind":
                continue
            given = getattr(self, item.name)
            if given is None:
                if item.name in required:
                    raise ProfileError(f"{item.name}: a {self.kind.value} distribution needs it")
                continue
            if item.name not in required | optional:
                raise ProfileError(f"{item.name}: a {self.kind.value} distribution has no such key")
            _parameter(item.name, given)
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ProfileError(f"high: {self.high} is below low ({self.low})")
        for name in ("mean", "median"):
            given = getattr(self, name)
            if given is not None and given <= 0:
                raise ProfileError(f"{name}: must be > 0, not {given}")

    @classmethod
    def constant(cls, value: float) -> Distribution:
        return cls(kind=DistributionKind.CONSTANT, value=value)

    @classmethod
    def uniform(cls, low: float, high: float) -> Distribution:
        return cls(kind=DistributionKind.UNIFORM, low=low, high=high)

    @classmethod
    def exponential(cls, mean: float, *, cap: float | None = None) -> Distribution:
        return cls(kind=DistributionKind.EXPONENTIAL, mean=mean, cap=cap)

    @classmethod
    def lognormal(cls, median: float, sigma: float, *, cap: float | None = None) -> Distribution:
        return cls(kind=DistributionKind.LOGNORMAL, median=median, sigma=sigma, cap=cap)

    @property
    def is_zero(self) -> bool:
        """True when every sample is 0 (a poll interval must not be)."""
        return self.cap == 0 or 0 in (self.value, self.high)

    def sample(self, rng: random.Random) -> float:
        """One draw, in seconds: 0 <= sample <= MAX_SECONDS (and <= `cap`)."""
        match self.kind:
            case DistributionKind.CONSTANT:
                return _given(self.value)
            case DistributionKind.UNIFORM:
                low, high = _given(self.low), _given(self.high)
                return min(high, max(low, rng.uniform(low, high)))
            case DistributionKind.EXPONENTIAL:
                drawn = rng.expovariate(1.0 / _given(self.mean))
            case DistributionKind.LOGNORMAL:
                exponent = math.log(_given(self.median)) + _given(self.sigma) * rng.gauss()
                drawn = math.exp(min(exponent, _MAX_EXPONENT))
        return min(drawn, MAX_SECONDS if self.cap is None else self.cap)


def _given(value: float | None) -> float:
    # __post_init__ guarantees the parameters of the kind are set.
    if value is None:
        raise AssertionError("a distribution parameter its kind needs is missing")
    return value


def _parameter(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{key}: must be a number, not {value!r}")
    if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
        raise ProfileError(f"{key}: must be 0-{MAX_SECONDS:.0e}, not {value!r}")
