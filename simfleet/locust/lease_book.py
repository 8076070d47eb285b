"""The fleet's lease book: which holder (a Locust worker, or the local process) holds which
device, kept by one process only (the master, or the local runner), with no I/O and no clock.

Devices are manifest indices. A holder asks for `count` devices under a request number it
chooses; every request is answered at once (a `Grant`, possibly of no device) and, when the
fleet is short, again as devices come back, oldest request first, until it has its `count` or
its wait runs out (`exhausted`). Waiting rather than refusing at once matters: a worker gives
devices back in batches a moment after its users stop, and a worker that is gone has its
devices reclaimed a moment after the master notices, while the users Locust moves elsewhere
already ask for new ones.

    free (a heap, lowest index first) ──request──▶ held by one holder ──release/reclaim──▶ free

Lowest index first: the embedded emulator's run thing group holds the first N devices, the
ones a run of N device users gets.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass

LEASE_WAIT = 5.0  # seconds a short request waits for devices to come back before it gives up
# Seconds a holder is gone (Locust no longer counts the worker) before its devices are free: a
# worker that quits says so before its users stop, and its own releases come a moment later.
# Under LEASE_WAIT, so that the users Locust moves off it wait for its devices no longer than
# a request waits.
RECLAIM_DELAY = 3.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Grant:
    """An answer to request `request` of `holder`: `devices` are now its; `pending` more will
    follow when devices come back; `exhausted` of them never will (the fleet is all held)."""

    holder: str
    request: int
    devices: tuple[int, ...]
    pending: int
    exhausted: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseAudit:
    """The book's figures: `leases` handed out in all over `requests`, `distinct` devices ever
    leased, `holders` that ever held one, `held` now by each holder."""

    size: int
    requests: int
    leases: int
    distinct: int
    holders: frozenset[str]
    held: dict[str, int]


@dataclass(kw_only=True, slots=True)
class _Pending:
    holder: str
    request: int
    remaining: int
    deadline: float


class LeaseBook:
    """Every device of a fleet of `size` is free or held by exactly one holder."""

    def __init__(
        self, size: int, *, wait: float = LEASE_WAIT, reclaim_delay: float = RECLAIM_DELAY
    ) -> None:
        if size < 0:
            raise ValueError(f"size must not be negative, not {size}")
        self._size = size
        self._wait = wait
        self._reclaim_delay = reclaim_delay
        self._gone: dict[str, float] = {}  # holder -> when it was first seen gone
        self._free = list(range(size))  # a heap: already ordered
        self._owner: dict[int, str] = {}
        self._held: dict[str, set[int]] = {}
        self._pending: deque[_Pending] = deque()
        self._leases = 0
        self._requests = 0
        self._ever: set[int] = set()
        self._holders_ever: set[str] = set()

    @property
    def size(self) -> int:
        return self._size

    @property
    def free(self) -> int:
        return len(self._free)

    @property
    def leased(self) -> int:
        return len(self._owner)

    def holders(self) -> frozenset[str]:
        """The holders that hold a device or wait for one."""
        return frozenset(self._held) | {p.holder for p in self._pending}

    def held_by(self, holder: str) -> frozenset[int]:
        return frozenset(self._held.get(holder, ()))

    def holds(self, holder: str, device: int) -> bool:
        return self._owner.get(device) == holder

    def take(self, holder: str) -> int | None:
        """One device now, or None: for a holder that does not wait (the local runner)."""
        if not self._free or self._pending:
            return None
        return self._lease(holder, 1)[0]

    def request(self, holder: str, request: int, count: int, *, now: float) -> list[Grant]:
        """Ask for `count` devices. The grants to send: this request's first answer always,
        in full when nobody waits ahead of it and enough devices are free."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        self._requests += 1
        if self._pending or len(self._free) < count:
            self._pending.append(
                _Pending(holder=holder, request=request, remaining=count, deadline=now + self._wait)
            )
            grants = self._serve()
            if not any(g.holder == holder and g.request == request for g in grants):
                grants.append(Grant(holder=holder, request=request, devices=(), pending=count))
            return grants
        return [
            Grant(holder=holder, request=request, devices=self._lease(holder, count), pending=0)
        ]

    def release(self, holder: str, devices: Iterable[int]) -> list[Grant]:
        """Give back devices; those `holder` does not hold are ignored (they were reclaimed
        from it and may be another's now). The grants the freed devices make possible."""
        held = self._held.get(holder, set())
        for device in devices:
            if self._owner.get(device) == holder:
                self._return(holder, held, device)
        if not held:
            self._held.pop(holder, None)
        return self._serve()

    def reclaim(self, holder: str) -> list[Grant]:
        """`holder` is gone: every device it holds is free again and its requests are dropped.
        The grants the freed devices make possible for the others."""
        self._pending = deque(p for p in self._pending if p.holder != holder)
        held = self._held.pop(holder, set())
        for device in list(held):
            self._return(holder, held, device)
        return self._serve()

    def reconcile(self, live: Collection[str], now: float) -> tuple[list[Grant], dict[str, int]]:
        """Called every so often with the holders still in the run: those gone for
        `reclaim_delay` are reclaimed (with how many devices each held), then requests past
        their deadline expire. The grants to send, and the reclaimed holders."""
        for holder in [h for h in self._gone if h in live]:
            del self._gone[holder]  # back: a test stopped and started again, a worker healed
        grants: list[Grant] = []
        reclaimed: dict[str, int] = {}
        for holder in sorted(self.holders() - set(live)):
            if now - self._gone.setdefault(holder, now) >= self._reclaim_delay:
                del self._gone[holder]
                reclaimed[holder] = len(self._held.get(holder, ()))
                grants += self.reclaim(holder)
        return grants + self.expire(now), reclaimed

    def expire(self, now: float) -> list[Grant]:
        """Requests that waited past their deadline get nothing more: `exhausted`."""
        grants = []
        kept: deque[_Pending] = deque()
        for pending in self._pending:
            if pending.deadline <= now:
                grants.append(
                    Grant(holder=pending.holder, request=pending.request, devices=(), pending=0,
                          exhausted=pending.remaining)
                )  # fmt: skip
            else:
                kept.append(pending)
        self._pending = kept
        return grants + self._serve()

    def audit(self) -> LeaseAudit:
        return LeaseAudit(
            size=self._size,
            requests=self._requests,
            leases=self._leases,
            distinct=len(self._ever),
            holders=frozenset(self._holders_ever),
            held={holder: len(devices) for holder, devices in sorted(self._held.items())},
        )

    def _serve(self) -> list[Grant]:
        """Free devices to the oldest waiting requests, in order."""
        grants = []
        while self._pending and self._free:
            head = self._pending[0]
            devices = self._lease(head.holder, min(head.remaining, len(self._free)))
            head.remaining -= len(devices)
            grants.append(
                Grant(holder=head.holder, request=head.request, devices=devices,
                      pending=head.remaining)
            )  # fmt: skip
            if not head.remaining:
                self._pending.popleft()
        return grants

    def _lease(self, holder: str, count: int) -> tuple[int, ...]:
        devices = tuple(heapq.heappop(self._free) for _ in range(count))
        held = self._held.setdefault(holder, set())
        for device in devices:
            self._owner[device] = holder
            held.add(device)
        self._leases += count
        self._holders_ever.add(holder)
        self._ever.update(devices)
        return devices

    def _return(self, holder: str, held: set[int], device: int) -> None:
        del self._owner[device]
        held.discard(device)
        heapq.heappush(self._free, device)
