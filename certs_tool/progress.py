"""A progress line for long work: count, percent, rate and ETA on a terminal; silent elsewhere,
so CI logs get the one summary line the CLI prints at the end instead of thousands of updates."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_REDRAW_SECONDS = 0.1


def interactive(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("CI")


class Progress:
    def __init__(
        self, label: str, total: int, *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self._label = label
        self._total = total
        self._stream = stream or sys.stderr
        self._enabled = interactive(self._stream) if enabled is None else enabled
        self._started = time.monotonic()
        self._first: int | None = None  # work already done before this run (resumed minting)
        self._drawn_at = 0.0

    def __call__(self, done: int) -> None:
        self.update(done)

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = done
            self._started = now
        if not self._enabled or (now - self._drawn_at < _REDRAW_SECONDS and done < self._total):
            return
        self._drawn_at = now
        self._stream.write("\r" + self.render(done, now - self._started) + "\x1b[K")
        self._stream.flush()

    def render(self, done: int, elapsed: float) -> str:
        fresh = done - (self._first or 0)
        rate = fresh / elapsed if elapsed > 0 else 0.0
        percent = 100.0 * done / self._total if self._total else 100.0
        width = 24
        filled = int(width * done / self._total) if self._total else width
        bar = "#" * filled + "." * (width - filled)
        eta = (self._total - done) / rate if rate > 0 else None
        eta_text = f"ETA {_duration(eta)}" if eta is not None else "ETA --"
        return (
            f"{self._label} [{bar}] {done}/{self._total} {percent:5.1f}% {rate:,.0f}/s {eta_text}"
        )

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )
