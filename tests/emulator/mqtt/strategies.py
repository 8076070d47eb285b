"""Hypothesis strategies for MQTT packets, topic names and topic filters."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    QoS,
    SubAck,
    SubAckReturnCode,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)

T = TypeVar("T")

# Any UTF-8-encodable text without U+0000 (§1.5.3); surrogates (Cs) cannot be encoded.
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
level = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00/+#"), max_size=6)
packet_ids = st.integers(min_value=1, max_value=0xFFFF)
qos = st.sampled_from(QoS)
payloads = st.binary(max_size=300)  # past 127 and 255 bytes: two-byte remaining lengths


@st.composite
def topic_names(draw: st.DrawFn, levels: st.SearchStrategy[str] = level) -> str:
    """A valid topic name (§4.7): non-empty, no wildcards."""
    name = "/".join(draw(st.lists(levels, min_size=1, max_size=5)))
    return name or draw(st.sampled_from(["a", "$x", "/"]))


@st.composite
def topic_filters(draw: st.DrawFn, levels: st.SearchStrategy[str] = level) -> str:
    """A valid topic filter: levels, `+` anywhere, `#` only as the whole last level."""
    parts = draw(st.lists(st.one_of(levels, st.just("+")), min_size=0, max_size=5))
    if not parts or draw(st.booleans()):
        parts.append("#")
    topic_filter = "/".join(parts)
    return topic_filter or "#"


wills = st.builds(Will, topic=topic_names(), payload=payloads, qos=qos, retain=st.booleans())


@st.composite
def connects(draw: st.DrawFn) -> Connect:
    username = draw(st.none() | text)
    return Connect(
        client_id=draw(text),
        clean_session=draw(st.booleans()),
        keep_alive=draw(st.integers(0, 0xFFFF)),
        username=username,
        password=None if username is None else draw(st.none() | st.binary(max_size=40)),
        will=draw(st.none() | wills),
    )


@st.composite
def connacks(draw: st.DrawFn) -> ConnAck:
    code = draw(st.sampled_from(ConnectReturnCode))
    session_present = code is ConnectReturnCode.ACCEPTED and draw(st.booleans())
    return ConnAck(session_present=session_present, return_code=code)


@st.composite
def publishes(draw: st.DrawFn) -> Publish:
    level_qos = draw(qos)
    at_least_once = level_qos is QoS.AT_LEAST_ONCE
    return Publish(
        topic=draw(topic_names()),
        payload=draw(payloads),
        qos=level_qos,
        retain=draw(st.booleans()),
        dup=at_least_once and draw(st.booleans()),
        packet_id=draw(packet_ids) if at_least_once else None,
    )


def _nonempty_tuple(elements: st.SearchStrategy[T]) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(elements, min_size=1, max_size=4).map(tuple)


packets: st.SearchStrategy[Packet] = st.one_of(
    connects(),
    connacks(),
    publishes(),
    st.builds(PubAck, packet_id=packet_ids),
    st.builds(
        Subscribe, packet_id=packet_ids, topics=_nonempty_tuple(st.tuples(topic_filters(), qos))
    ),
    st.builds(
        SubAck,
        packet_id=packet_ids,
        return_codes=_nonempty_tuple(st.sampled_from(SubAckReturnCode)),
    ),
    st.builds(Unsubscribe, packet_id=packet_ids, topic_filters=_nonempty_tuple(topic_filters())),
    st.builds(UnsubAck, packet_id=packet_ids),
    st.builds(PingReq),
    st.builds(PingResp),
    st.builds(Disconnect),
)
