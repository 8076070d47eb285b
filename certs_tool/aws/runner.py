"""Running one task per device on a pool of threads, as fast as the rate limiter lets them, and
stopping cleanly: on the first error, or on Ctrl-C.

Threads, not processes or asyncio: the work is waiting (for a token, for AWS), boto3 clients
are thread-safe, and the GIL is idle while they wait. Enough threads keep the slowest API's
bucket always claimed, so a run goes at the quota-bound rate (Little's law: threads >= rate x
seconds per device).

Stopping: every sleep of a run goes through `Stopper.sleep`, which wakes at once when the run
stops and raises `Stopped`, and `IotCaller` checks `Stopper.check` before each call it sends.
A call already sent finishes and is journaled, so a stop we asked for leaves nothing done but
unrecorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from certs_tool.errors import AwsInterrupted

DEFAULT_WORKERS = 32  # threads: AWS answers in ~50-100 ms, so 32 keep 100+ calls/s in flight
T = TypeVar("T")
_END: Any = object()
ProgressCallback = Callable[[int], None]


class Stopped(Exception):
    """Raised inside a task when its run is stopping."""


class Stopper:
    """The run's stop flag, and the sleep every waiting thread uses."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def stop(self) -> None:
        self._event.set()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Stopped

    def sleep(self, seconds: float) -> None:
        if self._event.wait(seconds):
            raise Stopped


def run_tasks(
    items: Sequence[T],
    task: Callable[[T], None],
    *,
    workers: int,
    stopper: Stopper,
    done_before: int = 0,
    on_progress: ProgressCallback | None = None,
    what: str = "devices",
) -> int:
    """Run `task(item)` for every item on `workers` threads; the number that completed.

    The first exception a task raises stops the run and is raised here once the threads are
    idle. KeyboardInterrupt (Ctrl-C, or raised by `on_progress`) stops it too, as AwsInterrupted.
    `on_progress(done)` runs on the calling thread, `done` counting `done_before` too.
    """
    workers = max(1, workers)
    done = 0
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="certs-tool")
    queue = iter(items)
    pending: set[Future[None]] = set()
    failure: BaseException | None = None
    try:
        if on_progress:
            on_progress(done_before)
        # At most `workers` tasks queued at a time: a stop abandons no more than that.
        _fill(pending, queue, executor, task, workers)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                error = future.exception()
                if error is None:
                    done += 1
                elif not isinstance(error, Stopped) and failure is None:
                    failure = error
                    stopper.stop()
            if not stopper.stopped:
                _fill(pending, queue, executor, task, workers)
            if on_progress:
                on_progress(done_before + done)
    except KeyboardInterrupt:
        stopper.stop()
        executor.shutdown(wait=True, cancel_futures=True)
        done += sum(1 for f in pending if not f.cancelled() and f.exception() is None)
        raise AwsInterrupted(
            f"interrupted after {done_before + done} of {done_before + len(items)} {what}; "
            "every finished call is in the journal: run the same command again to continue"
        ) from None
    except BaseException:
        stopper.stop()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        raise failure
    return done


def _fill(
    pending: set[Future[None]],
    queue: Iterator[T],
    executor: ThreadPoolExecutor,
    task: Callable[[T], None],
    workers: int,
) -> None:
    while len(pending) < workers:
        item = next(queue, _END)
        if item is _END:
            return
        pending.add(executor.submit(task, item))
