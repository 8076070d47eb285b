"""Round trips and byte splits: encode then decode gives the packets back, in any split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simfleet.emulator.mqtt import (
    ConnAck,
    Connect,
    MalformedPacket,
    MqttProtocolError,
    Packet,
    PacketDecoder,
    PubAck,
    Publish,
    QoS,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
    encode,
)
from simfleet.emulator.mqtt.encoder import encode_remaining_length
from tests.emulator.mqtt.helpers import decode_all, drain
from tests.emulator.mqtt.strategies import packets

SETTINGS = settings(max_examples=200, deadline=None)
# Records whose body has a variable-length tail: a shorter body can still be valid.
OPEN_ENDED = (Publish, Subscribe, SubAck, Unsubscribe)


def _body(frame: bytes) -> tuple[int, bytes]:
    """The first byte and the body of one encoded packet."""
    i = 1
    while frame[i] & 0x80:
        i += 1
    return frame[0], frame[i + 1 :]


@SETTINGS
@given(packets)
def test_every_packet_round_trips(packet: Packet) -> None:
    assert decode_all(encode(packet)) == [packet]


@SETTINGS
@given(st.lists(packets, min_size=1, max_size=4))
def test_every_prefix_of_a_stream_waits_then_completes(stream_packets: list[Packet]) -> None:
    frames = [encode(p) for p in stream_packets]
    stream = b"".join(frames)
    ends = [sum(len(f) for f in frames[: i + 1]) for i in range(len(frames))]
    for cut in range(len(stream) + 1):
        decoder = PacketDecoder()
        decoder.feed(stream[:cut])
        complete = sum(1 for end in ends if end <= cut)
        assert drain(decoder) == stream_packets[:complete]  # no error, no partial packet
        decoder.feed(stream[cut:])
        assert drain(decoder) == stream_packets[complete:]


@SETTINGS
@given(st.lists(packets, min_size=1, max_size=4))
def test_byte_at_a_time_gives_the_same_packets(stream_packets: list[Packet]) -> None:
    stream = b"".join(encode(p) for p in stream_packets)
    decoder = PacketDecoder()
    out: list[Packet] = []
    for i in range(len(stream)):
        decoder.feed(stream[i : i + 1])
        out.extend(drain(decoder))
    assert out == stream_packets


@SETTINGS
@given(st.lists(packets, min_size=1, max_size=6), st.data())
def test_any_chunking_gives_the_same_packets(
    stream_packets: list[Packet], data: st.DataObject
) -> None:
    stream = b"".join(encode(p) for p in stream_packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = PacketDecoder()
    out: list[Packet] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        decoder.feed(stream[start:stop])
        if data.draw(st.booleans()):  # sometimes feed several chunks before decoding
            out.extend(drain(decoder))
    out.extend(drain(decoder))
    assert out == stream_packets


@SETTINGS
@given(packets)
def test_every_truncated_body_is_rejected_or_reencodes_exactly(packet: Packet) -> None:
    # A frame whose remaining length is honest but whose body lost its tail must never be
    # misread: either it is refused, or it is a shorter valid packet that encodes to the
    # very same bytes. Fixed-structure packets have no shorter valid form at all.
    first, body = _body(encode(packet))
    for cut in range(len(body)):
        frame = bytes((first,)) + encode_remaining_length(cut) + body[:cut]
        try:
            decoded = decode_all(frame)
        except MqttProtocolError:
            continue
        assert isinstance(packet, OPEN_ENDED), f"{type(packet).__name__} cut at {cut}"
        assert [encode(p) for p in decoded] == [frame]


@pytest.mark.parametrize(
    ("size", "width"),
    [
        pytest.param(0, 1, id="empty"),
        pytest.param(120, 1, id="remaining-127"),
        pytest.param(121, 2, id="remaining-128"),
        pytest.param(16376, 2, id="remaining-16383"),
        pytest.param(16377, 3, id="remaining-16384"),
        pytest.param(128 * 1024, 3, id="aws-max-payload"),
    ],
)
def test_payload_sizes_across_remaining_length_widths(size: int, width: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    packet = Publish(topic="a/b", payload=payload, qos=QoS.AT_LEAST_ONCE, packet_id=9)
    frame = encode(packet)
    # first byte, `width` length digits, then topic (2+3), packet id (2) and payload
    assert len(frame) == 1 + width + 7 + size
    assert frame[width] < 0x80
    assert all(b >= 0x80 for b in frame[1:width])
    assert decode_all(frame) == [packet]


def test_packets_before_an_error_are_returned_first() -> None:
    good = encode(PubAck(packet_id=1)) + encode(UnsubAck(packet_id=2))
    decoder = PacketDecoder()
    decoder.feed(good + b"\x00\x00")
    assert decoder.next_packet() == PubAck(packet_id=1)
    assert decoder.next_packet() == UnsubAck(packet_id=2)
    with pytest.raises(MalformedPacket, match="reserved packet type 0"):
        decoder.next_packet()


def test_a_failed_decoder_stays_failed() -> None:
    decoder = PacketDecoder()
    decoder.feed(b"\xf0\x00")
    with pytest.raises(MalformedPacket) as first:
        decoder.next_packet()
    decoder.feed(encode(PubAck(packet_id=1)))
    with pytest.raises(MalformedPacket) as again:
        decoder.next_packet()
    assert again.value is first.value


def test_no_packet_until_fed() -> None:
    decoder = PacketDecoder()
    assert decoder.next_packet() is None
    decoder.feed(b"")
    assert decoder.next_packet() is None


def test_a_large_packet_in_small_chunks_is_decoded_once_whole() -> None:
    packet = Publish(topic="t", payload=b"\xab" * 100_000, qos=QoS.AT_LEAST_ONCE, packet_id=3)
    frame = encode(packet)
    decoder = PacketDecoder()
    results: list[Packet] = []
    for i in range(0, len(frame), 1000):
        decoder.feed(frame[i : i + 1000])
        results.extend(drain(decoder))
    assert results == [packet]


def test_non_minimal_remaining_length_is_accepted() -> None:
    # §2.2.3 in 3.1.1 does not require the shortest form (MQTT 5 does).
    assert decode_all(b"\xc0\x80\x00") == decode_all(b"\xc0\x00")


def test_connect_with_all_fields_round_trips() -> None:
    packet = Connect(
        client_id="thing-1",
        clean_session=False,
        keep_alive=1200,
        username="user",
        password=b"\x00secret",
        will=Will(topic="last/will", payload=b"gone", qos=QoS.AT_LEAST_ONCE, retain=True),
    )
    assert decode_all(encode(packet)) == [packet]
    assert encode(ConnAck()) == b"\x20\x02\x00\x00"
