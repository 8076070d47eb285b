"""Exponential backoff with full jitter: how long a device waits before trying again.

Attempt n waits a uniform draw from [0, min(cap, base * multiplier**n)] ("full jitter", the
scheme AWS's SDKs use and recommend, so that a fleet throttled or dropped at once does not come
back at once).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simfleet.device.distribution import MAX_SECONDS
from simfleet.device.errors import ProfileError


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    base: float = 1.0  # seconds: the ceiling of the first retry's wait
    cap: float = 60.0  # seconds: no wait is ever longer
    multiplier: float = 2.0  # how much the ceiling grows per attempt

    def __post_init__(self) -> None:
        for key in ("base", "cap", "multiplier"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProfileError(f"{key}: must be a number, not {value!r}")
            if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
                raise ProfileError(f"{key}: must be 0-{MAX_SECONDS:.0e}, not {value!r}")
        if self.cap < self.base:
            raise ProfileError(f"cap: {self.cap} is below base ({self.base})")
        if self.multiplier < 1:
            raise ProfileError(f"multiplier: must be >= 1, not {self.multiplier}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry number `attempt` (0 for the first retry)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, not {attempt}")
        if self.base == 0:
            return 0.0
        # Compared in logarithms: multiplier**attempt overflows long before a device gives up.
        if math.log(self.base) + attempt * math.log(self.multiplier) >= math.log(self.cap):
            return self.cap
        return float(min(self.cap, self.base * self.multiplier**attempt))

    def sample(self, attempt: int, rng: random.Random) -> float:
        """The wait before retry number `attempt`: uniform in [0, ceiling(attempt)]."""
        ceiling = self.ceiling(attempt)
        return min(ceiling, rng.uniform(0.0, ceiling))
