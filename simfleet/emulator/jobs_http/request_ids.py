"""The `x-amzn-RequestId` of each answer: UUID-shaped like AWS's, without a uuid4 per request.

`uuid.uuid4()` reads 16 bytes from the kernel (a getrandom() system call) and builds a UUID
object: ~3 µs of a ~120 µs device request. Here one uuid4 per process supplies the random
part and a counter the last 48 bits, so ids stay distinct within a run (2^48 answers) and
across runs (74 random bits), and still parse as version-4 UUIDs.
"""

from __future__ import annotations

import itertools
import uuid

_NODE_BITS = 48


class RequestIds:
    """`next()`: a new request id."""

    def __init__(self) -> None:
        # "xxxxxxxx-xxxx-4xxx-yxxx-": everything but the node field, version and variant kept.
        self._prefix = str(uuid.uuid4())[:24]
        self._numbers = itertools.count()

    def next(self) -> str:
        number = next(self._numbers) & ((1 << _NODE_BITS) - 1)
        return f"{self._prefix}{number:012x}"
