"""Live counts of answered requests, by operation and outcome (read by a future /metrics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

OK = "ok"
# The operation name under which requests that matched no route are counted.
UNROUTED = "(unrouted)"


@dataclass
class RequestCounters:
    """Requests answered, keyed by (operation, outcome): outcome is "ok" or the error code."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, operation: str, outcome: str) -> None:
        self.counts[operation, outcome] += 1

    def count(self, operation: str, outcome: str | None = None) -> int:
        """Answers for `operation` with `outcome`, or with any outcome when it is None."""
        if outcome is not None:
            return self.counts[operation, outcome]
        return sum(n for (name, _), n in self.counts.items() if name == operation)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{operation: {outcome: count}}, a copy safe to serialize."""
        result: dict[str, dict[str, int]] = {}
        for (operation, outcome), n in sorted(self.counts.items()):
            result.setdefault(operation, {})[outcome] = n
        return result
