"""When to try a request again, and how long to wait first (pure: the sync and async
transports share it).

``retries`` extra attempts at most. Connection failures and timeouts are retried when
repeating the request cannot apply it twice (reads, and writes that carry a ccid) or when it
never reached a server; 429 and gateway failures always; a plain 500 only when repeating is
harmless. Waits are jittered and grow exponentially up to ``max_backoff``; a ``Retry-After``
header is honoured up to 30 seconds.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

from simperium_orm.errors import RequestTimeout, TransportError

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_MAX_BACKOFF", "DEFAULT_RETRIES", "RetryPolicy"]

DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.2  # seconds: the first retry waits up to this, each next one up to twice more
DEFAULT_MAX_BACKOFF = 5.0

# Statuses worth another attempt: rate limiting and gateway/overload failures. A plain 500 is
# retried only when repeating the request is harmless (reads, or writes carrying a ccid).
_RETRY_ALWAYS = frozenset({429, 502, 503, 504})
_RETRY_IF_SAFE = frozenset({500})
_MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Decides, after each failed attempt, whether to try again and after what wait."""

    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff and max_backoff must be >= 0 seconds")

    def after_error(
        self, error: TransportError, attempt: int, *, safe: bool, retry_timeouts: bool = True
    ) -> float | None:
        """The wait before attempt ``attempt + 1`` after ``error``; None: give up."""
        if attempt >= self.retries:
            return None
        if isinstance(error, RequestTimeout):
            retry = safe and retry_timeouts
        else:
            retry = safe or not error.sent
        return self._delay(attempt, None) if retry else None

    def after_status(
        self, status: int, attempt: int, *, safe: bool, retry_after: str | None = None
    ) -> float | None:
        """The wait before attempt ``attempt + 1`` after an answer with ``status``; None:
        the answer stands."""
        if attempt >= self.retries:
            return None
        if status in _RETRY_ALWAYS or (status in _RETRY_IF_SAFE and safe):
            return self._delay(attempt, retry_after)
        return None

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = random.uniform(0, min(self.max_backoff, self.backoff * (2**attempt)))
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER))
        return delay
