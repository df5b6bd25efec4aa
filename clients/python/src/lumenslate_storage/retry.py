"""When and how long to wait before trying a failed call again.

Only failures that say "try later" are retried: UNAVAILABLE (the service or its object store is
unreachable, or restarting), RATE_LIMITED and OVERLOADED. Anything else (NOT_FOUND, TOO_LARGE, a
broken sha256, ...) fails the same way every time. The client retries only calls that can be
replayed: reads, delete, copy, presign, and uploads whose bytes it can send again (bytes, a
path, a seekable file object); a one-shot stream is never retried.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import StorageError

__all__ = ["RetryEvent", "RetryPolicy", "RETRYABLE_CODES"]

RETRYABLE_CODES = frozenset({"UNAVAILABLE", "RATE_LIMITED", "OVERLOADED"})


@dataclass(frozen=True)
class RetryEvent:
    """Passed to RetryPolicy.on_retry before each wait: the attempt that failed (1-based),
    its error and the seconds the client will sleep."""

    method: str
    attempt: int
    error: StorageError
    delay: float


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the service's retry-after.

    max_attempts: tries in all (1 disables retries).
    initial_backoff, max_backoff, multiplier: attempt n waits a random time in
      [0, min(max_backoff, initial_backoff * multiplier**(n-1))] ("full jitter").
    max_retry_after: a retry-after longer than this is not waited for; the error is raised.
    on_retry: called before each wait (for logs or metrics).
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0
    max_retry_after: float = 60.0
    retryable_codes: frozenset[str] = RETRYABLE_CODES
    on_retry: Callable[[RetryEvent], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoff values must be >= 0 and multiplier >= 1")

    def delay(self, attempt: int, error: StorageError) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based), or None to give up."""
        if attempt >= self.max_attempts or error.code not in self.retryable_codes:
            return None
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        backoff = random.uniform(0, ceiling)
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            # The service knows when its budget refills: wait at least that, plus a little jitter
            # so that clients told the same time do not all come back at once.
            return error.retry_after + random.uniform(0, min(1.0, ceiling))
        return backoff


NO_RETRY = RetryPolicy(max_attempts=1)
