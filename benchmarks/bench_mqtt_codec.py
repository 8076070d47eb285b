"""MQTT codec and routing speed: QoS 1 PUBLISH decode + encode per CPU-second.

The emulator must route 10,000 QoS 1 messages per CPU-second with 2,000 devices connected;
each routed message costs at least one PUBLISH decode, one PUBLISH encode, two PUBACK
encodes/decodes and one index match. Prints the figures, the headline one last.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simfleet.emulator.mqtt import (
    PacketDecoder,
    PubAck,
    Publish,
    QoS,
    SubscriptionIndex,
    encode,
)

COUNT = 100_000
DEVICES = 2_000
CHUNK = 64 * 1024  # what one asyncio read of a busy TLS connection typically hands over


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The lowest CPU time of ``runs`` runs of ``work``."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    payload = b'{"status":"IN_PROGRESS","statusDetails":{"step":"3"},"clientToken":"c-12345"}'
    publishes = [
        Publish(
            topic=f"$aws/things/thing-{n % DEVICES:05d}/jobs/job-{n % 7}/update",
            payload=payload,
            qos=QoS.AT_LEAST_ONCE,
            packet_id=n % 0xFFFF + 1,
        )
        for n in range(COUNT)
    ]
    acks = [PubAck(packet_id=n % 0xFFFF + 1) for n in range(COUNT)]
    stream = b"".join(encode(p) for p in publishes)
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]

    def decode() -> None:
        decoder = PacketDecoder()
        decoded = 0
        for chunk in chunks:
            decoder.feed(chunk)
            while decoder.next_packet() is not None:
                decoded += 1
        assert decoded == COUNT

    index: SubscriptionIndex[int] = SubscriptionIndex()
    for device in range(DEVICES):
        prefix = f"$aws/things/thing-{device:05d}/jobs"
        for suffix in ("notify-next", "start-next/+", "+/get/+", "+/update/+"):
            index.add(f"{prefix}/{suffix}", device, QoS.AT_LEAST_ONCE)
    replies = [f"{p.topic}/accepted" for p in publishes]

    t_decode = best_of(3, decode)
    t_encode = best_of(3, lambda: [encode(p) for p in publishes])
    t_puback = best_of(3, lambda: [encode(a) for a in acks])
    t_match = best_of(3, lambda: [index.match(t) for t in replies])
    assert index.match(replies[0]) == {0: QoS.AT_LEAST_ONCE}

    print(f"PUBLISH decode (64 KiB chunks): {COUNT / t_decode:,.0f} packets/s")
    print(f"PUBLISH encode:                 {COUNT / t_encode:,.0f} packets/s")
    print(f"PUBACK encode:                  {COUNT / t_puback:,.0f} packets/s")
    print(
        f"index match ({len(index):,} subscriptions of {DEVICES:,} devices): "
        f"{COUNT / t_match:,.0f} topics/s"
    )
    print(f"QoS 1 PUBLISH decode+encode: {COUNT / (t_decode + t_encode):,.0f} packets/s")


if __name__ == "__main__":
    main()
