"""DeadlineQueue against a plain dict: the earliest key comes out first, setting again
replaces, discarding removes, and stale heap entries are dropped and compacted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.job_timers import DeadlineQueue, RolloutDue, TimeoutDue

_KEYS = st.integers(0, 20)
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _KEYS, st.integers(0, 100)),
        st.tuples(st.just("discard"), _KEYS, st.just(0)),
        st.tuples(st.just("pop"), st.just(0), st.integers(0, 100)),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(operations=_OPERATIONS)
def test_the_queue_behaves_as_a_dict_of_due_times(
    operations: list[tuple[str, int, int]],
) -> None:
    queue: DeadlineQueue[int] = DeadlineQueue()
    model: dict[int, int] = {}
    for operation, key, when in operations:
        if operation == "set":
            queue.set(key, when)
            model[key] = when
        elif operation == "discard":
            queue.discard(key)
            model.pop(key, None)
        else:
            popped = queue.pop_due(when)
            earliest = min(model.values(), default=None)
            if earliest is None or earliest > when:
                assert popped is None
            else:
                assert popped is not None
                assert model.pop(popped) == earliest
        assert len(queue) == len(model)
        assert queue.next_due() == min(model.values(), default=None)


def test_stale_entries_are_compacted() -> None:
    queue: DeadlineQueue[TimeoutDue] = DeadlineQueue()
    key = TimeoutDue("sim-000000", "job-1", 1)
    for when in range(100_000):
        queue.set(key, when)
    assert len(queue) == 1
    assert len(queue._heap) <= 2 + 1024 + 1
    assert queue.pop_due(10**6) == key
    assert queue.pop_due(10**6) is None


def test_timers_of_both_kinds_come_out_in_due_order() -> None:
    queue: DeadlineQueue[RolloutDue | TimeoutDue] = DeadlineQueue()
    queue.set(TimeoutDue("t", "j", 1), 30)
    queue.set(RolloutDue("j"), 10)
    queue.set(RolloutDue("k"), 20)
    queue.discard(RolloutDue("k"))
    assert [queue.pop_due(100) for _ in range(3)] == [
        RolloutDue("j"),
        TimeoutDue("t", "j", 1),
        None,
    ]
