"""A Locust worker's identities: its users lease devices from the master's lease book through
Locust's master-worker messages, never by guessing.

    user on_start ─lease()─▶ the worker's cache ─empty─▶ wait; one `simfleet:lease` request
                                                          covers every user waiting ─▶ master
    master ─`simfleet:leases` (grants)─▶ handle_grant(): devices to the waiting users, oldest
                                           first; the rest to the cache
    user on_stop ─release()─▶ the cache ─FLUSH_DELAY later, or flush() at test stop─▶
                                           `simfleet:release` ─▶ master

Locust spawns a worker's share of a dispatch step at once, so a ramp of 10,000 users costs a
round trip per step and worker, not per user. A device a user gives back waits a moment in the
cache, where the next user of this worker takes it without a round trip, then goes back to the
master, so that a ramp-down here and a ramp-up on another worker do not run the fleet dry.

The waits use `threading` primitives: gevent's once Locust has monkey-patched the process,
real ones in a test.

Messages (data are msgpack maps; device = manifest index):
    simfleet:lease    worker → master   {"request": n, "count": k}
    simfleet:leases   master → worker   {"request": n, "devices": [i, ...], "pending": p,
                                         "exhausted": e, "reason": "..." (when refused)}
    simfleet:release  worker → master   {"devices": [i, ...]}
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from certs_tool import DeviceRecord
from simfleet.locust.errors import FleetExhausted

LEASE = "simfleet:lease"
LEASES = "simfleet:leases"
RELEASE = "simfleet:release"
FLUSH_DELAY = 0.5  # seconds a released device stays on the worker before it goes back
# Past the master's LEASE_WAIT: the master answers every request by then, unless it is gone.
LEASE_TIMEOUT = 30.0

Send = Callable[[str, dict[str, Any]], None]
Schedule = Callable[[float, Callable[[], None]], object]


class _Waiter:
    """A user waiting for a device: `device` or `error` once `done` is set."""

    __slots__ = ("device", "done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.device: int | None = None
        self.error: str | None = None


class LeaseClient:
    """`Identities` for the users of a worker: `send(type, data)` sends a message to the
    master, `schedule(delay, call)` calls later; the master's `simfleet:leases` messages go to
    `handle_grant`."""

    def __init__(
        self,
        devices: Sequence[DeviceRecord],
        *,
        send: Send,
        schedule: Schedule,
        timeout: float = LEASE_TIMEOUT,
        flush_delay: float = FLUSH_DELAY,
    ) -> None:
        self._devices = tuple(devices)
        self._index = {device.thing_name: i for i, device in enumerate(self._devices)}
        self._send = send
        self._schedule = schedule
        self._timeout = timeout
        self._flush_delay = flush_delay
        self._lock = threading.Lock()
        self._cache: list[int] = []  # a heap: held by this worker, by none of its users
        self._held: set[int] = set()  # held by its users
        self._waiters: deque[_Waiter] = deque()
        self._outstanding = 0  # devices asked for and not answered yet
        self._request = 0  # the number of the last request
        self._unanswered = False  # the last request has had no answer yet
        self._flush_due = False
        self.requests = 0  # requests sent, for the record

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def cached(self) -> int:
        return len(self._cache)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def lease(self) -> DeviceRecord:
        with self._lock:
            if self._cache:
                return self._hold(heapq.heappop(self._cache))
            waiter = _Waiter()
            self._waiters.append(waiter)
            request = self._next_request()
        if request is not None:
            self._send(LEASE, request)
        try:
            answered = waiter.done.wait(self._timeout)
        except BaseException:  # the user was stopped while it waited
            self._abandon(waiter)
            raise
        if not answered:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise FleetExhausted(
                        f"the master gave no device within {self._timeout:g}s (is it still up?)"
                    )
        if waiter.error is not None:
            raise FleetExhausted(waiter.error)
        assert waiter.device is not None  # set with `done` when there is no error
        return self._devices[waiter.device]

    def release(self, device: DeviceRecord) -> None:
        index = self._index.get(device.thing_name)
        with self._lock:
            if index is None or index not in self._held:
                raise ValueError(f"{device.thing_name} is not leased to this worker")
            self._held.remove(index)
            flush = self._give(index)
        if flush:
            self._schedule(self._flush_delay, self.flush)

    def handle_grant(self, data: Mapping[str, Any]) -> None:
        """A `simfleet:leases` message from the master."""
        devices = [int(device) for device in data["devices"]]
        exhausted = int(data.get("exhausted", 0))
        reason = str(data.get("reason") or self._exhausted_reason())
        flush = False
        with self._lock:
            self._outstanding -= len(devices) + exhausted
            if int(data["request"]) == self._request:
                self._unanswered = False
            for index in devices:
                flush = self._give(index) or flush
            for _ in range(exhausted):
                if not self._waiters:
                    break
                waiter = self._waiters.popleft()
                waiter.error = reason
                waiter.done.set()
            request = self._next_request()
        if request is not None:
            self._send(LEASE, request)
        if flush:
            self._schedule(self._flush_delay, self.flush)

    def flush(self) -> None:
        """Give the devices no user of this worker holds back to the master now."""
        with self._lock:
            devices = sorted(self._cache)
            self._cache.clear()
            self._flush_due = False
        if devices:
            self._send(RELEASE, {"devices": devices})

    def _hold(self, index: int) -> DeviceRecord:
        self._held.add(index)
        return self._devices[index]

    def _give(self, index: int) -> bool:
        """A device this worker holds and no user: to the oldest waiting user, else to the
        cache. True when a flush needs scheduling (with the lock held)."""
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.device = index
            self._held.add(index)
            waiter.done.set()
            return False
        heapq.heappush(self._cache, index)
        if self._flush_due:
            return False
        self._flush_due = True
        return True

    def _next_request(self) -> dict[str, Any] | None:
        """A request for the waiting users no request covers yet, one round trip at a time, so
        that users spawned together share one (with the lock held)."""
        count = len(self._waiters) - self._outstanding
        if count < 1 or self._unanswered:
            return None
        self._request += 1
        self._outstanding += count
        self._unanswered = True
        self.requests += 1
        return {"request": self._request, "count": count}

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiting user went away: forget it, or take back the device it was just given."""
        flush = False
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.device is not None and waiter.device in self._held:
                self._held.remove(waiter.device)
                flush = self._give(waiter.device)
        if flush:
            self._schedule(self._flush_delay, self.flush)

    def _exhausted_reason(self) -> str:
        return (
            f"all {len(self._devices)} devices of the fleet are leased to running users (of "
            "every worker): run fewer users or a larger fleet"
        )
