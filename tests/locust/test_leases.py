"""The lease book (the master's, in memory) and the worker's lease client against it: every
device is held by at most one user of one worker, lowest free index first, in batches."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs_tool import DeviceRecord, KeyType
from simfleet.locust.errors import FleetExhausted
from simfleet.locust.lease_book import Grant, LeaseBook
from simfleet.locust.lease_client import LEASE, RELEASE, LeaseClient


def _grant(holder: str, request: int, devices: tuple[int, ...], pending: int = 0) -> Grant:
    return Grant(holder=holder, request=request, devices=devices, pending=pending)


# ---- the book -------------------------------------------------------------------------------


def test_a_request_is_granted_at_once_lowest_first() -> None:
    book = LeaseBook(10)
    assert book.request("a", 1, 3, now=0) == [_grant("a", 1, (0, 1, 2))]
    assert book.request("b", 1, 2, now=0) == [_grant("b", 1, (3, 4))]
    assert book.release("a", [1]) == []
    assert book.request("b", 2, 2, now=0) == [_grant("b", 2, (1, 5))]  # the gap first
    assert book.held_by("a") == {0, 2}
    assert book.held_by("b") == {1, 3, 4, 5}
    assert (book.leased, book.free) == (6, 4)


def test_a_short_request_waits_for_releases_then_is_exhausted() -> None:
    book = LeaseBook(4, wait=5.0)
    book.request("a", 1, 3, now=0)
    # One device free: granted now, two more pending.
    assert book.request("b", 1, 3, now=10) == [_grant("b", 1, (3,), pending=2)]
    assert book.release("a", [2]) == [_grant("b", 1, (2,), pending=1)]
    assert book.expire(14.9) == []
    assert book.expire(15.0) == [Grant(holder="b", request=1, devices=(), pending=0, exhausted=1)]
    assert book.release("a", [0]) == []  # nobody waits any more
    assert book.free == 1


def test_requests_are_served_oldest_first() -> None:
    book = LeaseBook(3)
    book.request("a", 1, 3, now=0)
    assert book.request("b", 1, 2, now=0) == [_grant("b", 1, (), pending=2)]
    # Even a request that one free device would satisfy waits behind the older one.
    assert book.request("c", 1, 1, now=0) == [_grant("c", 1, (), pending=1)]
    assert book.release("a", [0, 1, 2]) == [
        _grant("b", 1, (0, 1)),
        _grant("c", 1, (2,)),
    ]


def test_a_dead_worker_has_its_devices_reclaimed_and_its_requests_dropped() -> None:
    book = LeaseBook(4)
    book.request("a", 1, 2, now=0)
    book.request("b", 1, 2, now=0)
    book.request("a", 2, 1, now=0)  # a waits for one more
    book.request("c", 1, 2, now=0)  # and c, behind it, for two
    assert book.holders() == {"a", "b", "c"}
    # a is gone: its two devices go to c, its own pending request with it.
    assert book.reclaim("a") == [_grant("c", 1, (0, 1))]
    assert book.holders() == {"b", "c"}
    assert book.held_by("a") == frozenset()
    # A late release from a (sent before it was reclaimed) frees nothing of c's.
    assert book.release("a", [0, 1]) == []
    assert book.held_by("c") == {0, 1}


def test_a_worker_gone_from_the_run_is_reclaimed_after_a_delay() -> None:
    """A worker Locust no longer counts keeps its devices for `reclaim_delay` (its own
    releases may still come), then loses them to whoever waits; one that comes back in time
    (a test stopped and started again) keeps them."""
    book = LeaseBook(4, wait=10.0, reclaim_delay=3.0)
    book.request("a", 1, 2, now=0)
    book.request("b", 1, 2, now=0)
    book.request("c", 1, 2, now=0)  # waits for two
    assert book.reconcile({"b", "c"}, 1.0) == ([], {})  # a is gone: noted
    assert book.reconcile({"a", "b", "c"}, 2.0) == ([], {})  # and back
    assert book.reconcile({"b", "c"}, 3.0) == ([], {})  # gone again: the delay starts over
    assert book.reconcile({"b", "c"}, 5.9) == ([], {})
    assert book.reconcile({"b", "c"}, 6.0) == ([_grant("c", 1, (0, 1))], {"a": 2})
    # A gone holder's waiting requests go with it; the others' expire after their wait.
    book.request("b", 2, 1, now=6.0)
    assert book.reconcile({"a", "c"}, 9.0) == ([], {})
    assert book.reconcile({"a", "c"}, 12.0) == ([], {"b": 2})
    assert book.holders() == {"c"}
    assert book.free == 2
    assert book.request("c", 2, 3, now=12.0) == [_grant("c", 2, (2, 3), pending=1)]
    assert book.reconcile({"c"}, 21.9) == ([], {})
    expired = Grant(holder="c", request=2, devices=(), pending=0, exhausted=1)
    assert book.reconcile({"c"}, 22.0) == ([expired], {})


def test_a_worker_that_joins_late_gets_devices_like_the_others() -> None:
    book = LeaseBook(6)
    book.request("a", 1, 2, now=0)
    book.request("b", 1, 2, now=0)
    assert book.request("late", 1, 2, now=50) == [_grant("late", 1, (4, 5))]
    book.release("a", [0, 1])
    assert book.request("late", 2, 1, now=60) == [_grant("late", 2, (0,))]


def test_the_audit_counts_leases_devices_and_holders() -> None:
    book = LeaseBook(5)
    book.request("a", 1, 2, now=0)
    book.release("a", [0, 1])
    book.request("b", 1, 3, now=0)
    audit = book.audit()
    assert (audit.requests, audit.leases, audit.distinct) == (2, 5, 3)
    assert audit.holders == {"a", "b"}
    assert audit.held == {"b": 3}


def test_a_request_for_no_device_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LeaseBook(3).request("a", 1, 0, now=0)


def test_take_leases_one_device_only_when_nobody_waits() -> None:
    book = LeaseBook(2)
    assert book.take("local") == 0
    book.request("w", 1, 2, now=0)  # one now, one pending
    assert book.take("local") is None
    book.release("local", [0])
    assert book.held_by("w") == {0, 1}


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(0, 2), st.integers(1, 4)),
        st.tuples(st.just("release"), st.integers(0, 2), st.integers(0, 7)),
        st.tuples(st.just("reclaim"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("tick"), st.just(0), st.integers(0, 3)),
        st.tuples(st.just("gone"), st.integers(0, 2), st.integers(0, 2)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_no_device_is_ever_held_twice(ops: list[tuple[str, int, int]]) -> None:
    """Any interleaving of requests, releases, worker deaths (at once, or noticed by
    reconcile) and time: every device is free or held by one worker, a grant hands out the
    lowest free devices, and every request is answered in full, devices and exhausted
    together, no more than it asked."""
    size = 6
    book = LeaseBook(size, wait=2.0, reclaim_delay=1.0)
    holders = ["w0", "w1", "w2"]
    held: dict[str, set[int]] = {h: set() for h in holders}
    owed: dict[tuple[str, int], int] = {}
    numbers = dict.fromkeys(holders, 0)
    now = 0.0

    def apply(grants: list[Grant]) -> None:
        for grant in grants:
            free = set(range(size)) - set().union(*held.values())
            assert set(grant.devices) <= free
            assert list(grant.devices) == sorted(free)[: len(grant.devices)]
            held[grant.holder] |= set(grant.devices)
            key = (grant.holder, grant.request)
            owed[key] -= len(grant.devices) + grant.exhausted
            assert owed[key] == grant.pending >= 0

    def forget(holder: str) -> None:
        held[holder].clear()
        for key in [k for k in owed if k[0] == holder]:
            del owed[key]

    for op, who, arg in ops:
        holder = holders[who]
        if op == "request":
            numbers[holder] += 1
            owed[(holder, numbers[holder])] = arg
            apply(book.request(holder, numbers[holder], arg, now=now))
        elif op == "release":
            devices = [*sorted(held[holder])[: arg % 3 + 1], arg]  # and maybe one not its own
            mine = {d for d in devices if d in held[holder]}
            held[holder] -= mine
            apply(book.release(holder, devices))
        elif op == "reclaim":
            forget(holder)
            apply(book.reclaim(holder))
        elif op == "gone":
            now += arg
            grants, reclaimed = book.reconcile(set(holders) - {holder}, now)
            assert set(reclaimed) <= {holder}
            for gone in reclaimed:
                assert reclaimed[gone] == len(held[gone])
                forget(gone)
            apply(grants)
        else:
            now += arg
            apply(book.expire(now))
        for holder_name in holders:
            assert book.held_by(holder_name) == held[holder_name]
        assert book.leased + book.free == size
    apply(book.expire(now + 10))
    assert all(n == 0 for n in owed.values())  # nothing left unanswered


# ---- the worker's client against an in-memory master ----------------------------------------


class Master:
    """A master in memory: the book, and the grants it sends each worker's client."""

    def __init__(self, size: int, *, wait: float = 5.0, hold: bool = False) -> None:
        self.book = LeaseBook(size, wait=wait)
        self.clients: dict[str, LeaseClient] = {}
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.hold = hold  # keep messages until deliver()
        self._held: list[tuple[str, str, dict[str, Any]]] = []
        self.now = 0.0

    def client(self, name: str, devices: int, **kwargs: Any) -> LeaseClient:
        client = LeaseClient(
            [_record(i) for i in range(devices)],
            send=lambda kind, data: self.receive(name, kind, data),
            schedule=lambda delay, call: None,  # flush() by hand
            **kwargs,
        )
        self.clients[name] = client
        return client

    def receive(self, worker: str, kind: str, data: dict[str, Any]) -> None:
        self.sent.append((worker, kind, data))
        if self.hold:
            self._held.append((worker, kind, data))
        else:
            self._handle(worker, kind, data)

    def deliver(self) -> None:
        while self._held:
            self._handle(*self._held.pop(0))

    def expire(self) -> None:
        self._grants(self.book.expire(self.now + 3600))

    def _handle(self, worker: str, kind: str, data: dict[str, Any]) -> None:
        if kind == LEASE:
            self._grants(self.book.request(worker, data["request"], data["count"], now=self.now))
        else:
            assert kind == RELEASE
            self._grants(self.book.release(worker, data["devices"]))

    def _grants(self, grants: list[Grant]) -> None:
        for grant in grants:
            self.clients[grant.holder].handle_grant(
                {"request": grant.request, "devices": list(grant.devices),
                 "pending": grant.pending, "exhausted": grant.exhausted}
            )  # fmt: skip


def _record(index: int) -> DeviceRecord:
    name = f"sim-{index:06d}"
    return DeviceRecord(
        thing_name=name,
        client_id=name,
        certificate_id=f"{index:064x}",
        cert_path=f"devices/{name}/cert.pem",
        key_path=f"devices/{name}/key.pem",
        key_type=KeyType.EC_P256,
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_a_worker_leases_releases_and_gives_back_in_a_batch() -> None:
    master = Master(5)
    worker = master.client("w", 5)
    first, second = worker.lease(), worker.lease()
    assert [first.thing_name, second.thing_name] == ["sim-000000", "sim-000001"]
    worker.release(first)
    worker.release(second)
    assert (worker.held, worker.cached) == (0, 2)
    assert worker.lease() == first  # from the cache, without asking the master
    worker.flush()
    assert master.sent[-1] == ("w", RELEASE, {"devices": [1]})
    assert master.book.held_by("w") == {0}
    assert [kind for _, kind, _ in master.sent] == [LEASE, LEASE, RELEASE]


def test_a_release_of_a_device_not_held_is_refused() -> None:
    worker = Master(3).client("w", 3)
    device = worker.lease()
    worker.release(device)
    with pytest.raises(ValueError, match="is not leased to this worker"):
        worker.release(device)


def test_users_spawned_together_share_one_round_trip() -> None:
    """50 users of a worker start at once: the first asks for one device, the others wait
    and the next request covers all 49; 10,000 users would cost a round trip per step."""
    master = Master(60, hold=True)
    worker = master.client("w", 60)
    got: list[DeviceRecord] = []
    threads = [threading.Thread(target=lambda: got.append(worker.lease())) for _ in range(50)]
    for thread in threads:
        thread.start()
    _until(lambda: worker.waiting == 50)
    master.deliver()  # answers the first request; its answer sends the second
    master.deliver()
    for thread in threads:
        thread.join(timeout=10)
    assert len(got) == len({d.thing_name for d in got}) == 50
    assert [data["count"] for _, kind, data in master.sent if kind == LEASE] == [1, 49]
    assert worker.requests == 2


def test_an_exhausted_fleet_is_a_clear_fleet_exhausted() -> None:
    master = Master(2, wait=0.0)
    worker = master.client("w", 2)
    worker.lease()
    worker.lease()
    waiting = threading.Thread(target=lambda: _expect_exhausted(worker))
    waiting.start()
    _until(lambda: worker.waiting == 1)
    master.expire()
    waiting.join(timeout=10)
    assert not waiting.is_alive()


def _expect_exhausted(worker: LeaseClient) -> None:
    with pytest.raises(FleetExhausted, match="all 2 devices of the fleet are leased"):
        worker.lease()


def test_a_master_that_does_not_answer_is_a_fleet_exhausted() -> None:
    worker = Master(2, hold=True).client("w", 2, timeout=0.05)
    with pytest.raises(FleetExhausted, match=r"gave no device within 0\.05s"):
        worker.lease()
    assert worker.waiting == 0


def test_a_refusal_names_its_reason() -> None:
    sent: list[dict[str, Any]] = []
    worker = LeaseClient([_record(0)], send=lambda kind, data: sent.append(data),
                         schedule=lambda delay, call: None)  # fmt: skip
    waiting = threading.Thread(target=lambda: _expect_refused(worker))
    waiting.start()
    _until(lambda: bool(sent))
    worker.handle_grant({"request": 1, "devices": [], "pending": 0, "exhausted": 1,
                         "reason": "the master no longer counts this worker"})  # fmt: skip
    waiting.join(timeout=10)
    assert not waiting.is_alive()


def _expect_refused(worker: LeaseClient) -> None:
    with pytest.raises(FleetExhausted, match="no longer counts this worker"):
        worker.lease()


def test_a_ramp_down_on_one_worker_feeds_a_ramp_up_on_another() -> None:
    """A tight fleet: worker a stops its users, b starts as many; b's request waits at the
    master until a's batch of releases arrives."""
    master = Master(4)
    a, b = master.client("a", 4), master.client("b", 4)
    held = [a.lease() for _ in range(4)]
    got: list[DeviceRecord] = []
    starting = [threading.Thread(target=lambda: got.append(b.lease())) for _ in range(2)]
    for thread in starting:
        thread.start()
    _until(lambda: b.waiting == 2)
    for device in held[:2]:
        a.release(device)
    assert b.waiting == 2  # still on worker a, in its cache
    a.flush()
    for thread in starting:
        thread.join(timeout=10)
    assert sorted(d.thing_name for d in got) == ["sim-000000", "sim-000001"]
    assert master.book.held_by("a") == {2, 3}
    assert master.book.held_by("b") == {0, 1}


def test_a_device_given_to_a_user_that_went_away_goes_back() -> None:
    master = Master(3, hold=True)
    worker = master.client("w", 3, timeout=0.2)
    with pytest.raises(FleetExhausted):
        worker.lease()  # gives up before the master answers
    master.deliver()  # the answer arrives: the device is the worker's, no user's
    assert (worker.held, worker.cached) == (0, 1)
    worker.flush()
    master.deliver()
    assert master.book.leased == 0


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 9)), max_size=50))
def test_workers_never_share_a_device(ops: list[tuple[int, bool, int]]) -> None:
    """Three workers lease, release and flush in any order against one master: no device is
    ever held by two users, and what the master thinks each worker holds covers its users'."""
    size = 5
    master = Master(size, wait=0.0)
    workers = [master.client(f"w{i}", size) for i in range(3)]
    users: list[list[DeviceRecord]] = [[] for _ in workers]
    for who, lease, pick in ops:
        worker = workers[who]
        if lease:
            if sum(len(u) for u in users) + sum(w.cached for w in workers) >= size:
                for other in workers:
                    other.flush()  # devices in caches go back, as FLUSH_DELAY would do
            if sum(len(u) for u in users) == size:
                continue  # the fleet is all held by users: a lease would wait, then fail
            users[who].append(worker.lease())
        elif users[who]:
            worker.release(users[who].pop(pick % len(users[who])))
        else:
            worker.flush()
        names = [d.thing_name for u in users for d in u]
        assert len(names) == len(set(names))
        for i, u in enumerate(users):
            assert {int(d.thing_name[4:]) for d in u} <= master.book.held_by(f"w{i}")


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError("condition not reached")
