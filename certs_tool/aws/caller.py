"""`IotCaller.call(operation, **params)`: the one seam through which certs_tool talks to AWS IoT.

Each call waits for its API's token (ratelimit.RateLimiter), goes out through the boto3 client,
and on ThrottlingException (or a transient failure) sleeps a full-jitter backoff and queues for
a token again. Whatever still fails leaves as a certs_tool AwsError (client.translate), so the
code above this seam never sees botocore. Tests wrap the boto3 client's own event hooks, or
hand in another client: both stay behind this seam.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from certs_tool.aws.client import is_transient, target_of, translate
from certs_tool.aws.ratelimit import AWS_DEFAULT_RATES, RateLimiter, RetryPolicy
from certs_tool.aws.runner import Stopper

Sleep = Callable[[float], None]


def snake_case(operation: str) -> str:
    """boto3's method name for an operation: RegisterCACertificate -> register_ca_certificate."""
    out: list[str] = []
    for index, char in enumerate(operation):
        after_lower = index > 0 and operation[index - 1].islower()
        before_lower = index + 1 < len(operation) and operation[index + 1].islower()
        if char.isupper() and index > 0 and (after_lower or before_lower):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


class IotCaller:
    """Rate-limited, retrying calls on one boto3 `iot` client; thread-safe."""

    def __init__(
        self,
        client: Any,
        limiter: RateLimiter,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep,
        draw: Callable[[], float] = random.random,
        stopper: Stopper | None = None,
    ) -> None:
        self._client = client
        self._stopper = stopper
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._draw = draw
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self.target = target_of(client)
        self.region = str(client.meta.region_name)

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    def calls(self) -> Mapping[str, int]:
        """Requests sent so far, by operation (retries included)."""
        with self._lock:
            return dict(self._calls)

    def throttled(self) -> Mapping[str, int]:
        """Answers that were retried (throttling or a transient failure), by operation."""
        with self._lock:
            return dict(self._throttled)

    def pause(self, attempt: int) -> None:
        """Sleep the backoff before retry `attempt` of something AWS has not caught up with
        yet (a detachment that is still propagating)."""
        self._sleep(self._retry.delay(attempt, self._draw()))

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call `operation` (its AWS name) with `params`; AwsError when it fails for good."""
        method = getattr(self._client, snake_case(operation))
        attempt = 0
        while True:
            if self._stopper is not None:
                self._stopper.check()  # a stopping run sends nothing new
            self._limiter.acquire(operation)
            with self._lock:
                self._calls[operation] += 1
            try:
                result: dict[str, Any] = method(**params)
            except Exception as exc:  # botocore's tree, translated here, once
                if not is_transient(exc) or attempt + 1 >= self._retry.attempts:
                    raise translate(exc, operation, endpoint=self.target) from None
                with self._lock:
                    self._throttled[operation] += 1
                self.pause(attempt)
                attempt += 1
            else:
                return result


def paced_caller(
    client: Any,
    *,
    stopper: Stopper,
    rates: Mapping[str, float] = AWS_DEFAULT_RATES,
    retry: RetryPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> IotCaller:
    """An IotCaller that sends nothing once `stopper` stops, and whose every wait (for a token,
    for a backoff) ends then."""
    limiter = RateLimiter(rates, clock=clock, sleep=stopper.sleep)
    return IotCaller(client, limiter, retry=retry, sleep=stopper.sleep, stopper=stopper)
