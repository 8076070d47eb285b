"""The subscription index agrees with brute-force matching and keeps its bookkeeping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.mqtt import QoS, SubscriptionIndex, filter_matches
from tests.emulator.mqtt.strategies import topic_filters, topic_names

Q0, Q1 = QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE
levels = st.sampled_from(["a", "b", "", "$x"])
keys = st.sampled_from(["dev-1", "dev-2", "dev-3"])
ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "remove_all"]),
        topic_filters(levels),
        keys,
        st.sampled_from(QoS),
    ),
    max_size=30,
)


def brute_force(model: dict[tuple[str, str], QoS], topic: str) -> dict[str, QoS]:
    out: dict[str, QoS] = {}
    for (topic_filter, key), qos in model.items():
        if filter_matches(topic_filter, topic):
            out[key] = max(qos, out.get(key, Q0))
    return out


@settings(max_examples=200, deadline=None)
@given(ops, st.lists(topic_names(levels), min_size=1, max_size=8))
def test_match_equals_brute_force(
    operations: list[tuple[str, str, str, QoS]], topics: list[str]
) -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    model: dict[tuple[str, str], QoS] = {}
    for op, topic_filter, key, qos in operations:
        if op == "add":
            assert index.add(topic_filter, key, qos) is ((topic_filter, key) not in model)
            model[topic_filter, key] = qos
        elif op == "remove":
            assert index.remove(topic_filter, key) is ((topic_filter, key) in model)
            model.pop((topic_filter, key), None)
        else:
            mine = [f for (f, k) in model if k == key]
            assert index.remove_all(key) == len(mine)
            for f in mine:
                del model[f, key]
        assert len(index) == len(model)
    for topic in topics:
        assert index.match(topic) == brute_force(model, topic)
    for key in ("dev-1", "dev-2", "dev-3"):
        assert index.filters_of(key) == {f: q for (f, k), q in model.items() if k == key}


def test_overlapping_filters_deliver_once_at_max_qos() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("a/+", "dev-1", Q0)
    index.add("a/b", "dev-1", Q1)
    index.add("#", "dev-1", Q0)
    index.add("a/#", "dev-2", Q0)
    assert index.match("a/b") == {"dev-1": Q1, "dev-2": Q0}
    assert index.match("a/c") == {"dev-1": Q0, "dev-2": Q0}


def test_resubscribing_replaces_the_qos() -> None:
    index: SubscriptionIndex[int] = SubscriptionIndex()
    assert index.add("t", 7, Q1) is True
    assert index.add("t", 7, Q0) is False
    assert len(index) == 1
    assert index.match("t") == {7: Q0}


def test_dollar_topics_need_a_literal_first_level() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("#", "all", Q0)
    index.add("+/things/#", "plus", Q0)
    index.add("$aws/things/+/jobs/notify", "jobs", Q1)
    index.add("$aws/#", "aws", Q0)
    assert index.match("$aws/things/t1/jobs/notify") == {"jobs": Q1, "aws": Q0}
    assert index.match("$aws") == {"aws": Q0}
    assert index.match("plain/things/x") == {"all": Q0, "plus": Q0}


def test_removing_everything_prunes_the_trie() -> None:
    index: SubscriptionIndex[int] = SubscriptionIndex()
    filters = [f"fleet/{n}/jobs/+/update/#" for n in range(100)]
    for n, topic_filter in enumerate(filters):
        index.add(topic_filter, n, Q1)
        index.add("fleet/#", n, Q0)
    assert index.remove_all(3) == 2
    assert index.remove("fleet/#", 3) is False
    for n, topic_filter in enumerate(filters):
        if n != 3:
            assert index.remove(topic_filter, n)
            assert index.remove("fleet/#", n)
    assert len(index) == 0
    assert index.match("fleet/1/jobs/j/update/accepted") == {}
    # Memory stays bounded under subscribe/unsubscribe churn: no empty nodes remain.
    assert index._root.children == {}


def test_match_on_an_empty_index() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    assert index.match("a") == {}
    assert index.match("$aws/x") == {}
    assert index.filters_of("nobody") == {}
    assert index.remove_all("nobody") == 0
