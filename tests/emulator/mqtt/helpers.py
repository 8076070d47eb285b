"""Shared helpers for the MQTT tests."""

from __future__ import annotations

from simfleet.emulator.mqtt import Packet, PacketDecoder


def drain(decoder: PacketDecoder) -> list[Packet]:
    """Every packet the decoder can produce from what it was fed so far."""
    out: list[Packet] = []
    while (packet := decoder.next_packet()) is not None:
        out.append(packet)
    return out


def decode_all(data: bytes, decoder: PacketDecoder | None = None) -> list[Packet]:
    decoder = PacketDecoder() if decoder is None else decoder
    decoder.feed(data)
    return drain(decoder)
