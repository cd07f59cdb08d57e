"""The transport: one logical request sent with retries, over a pooled HTTP sender.

:meth:`Transport.request` builds a :class:`~simperium_orm.wire.request.Request` once, hands it
to the :class:`~simperium_orm.wire.http.Sender` for each attempt, and asks the
:class:`~simperium_orm.wire.retry.RetryPolicy` after each failure whether to go again. Error
statuses become the typed exception chosen by :func:`~simperium_orm.errors.error_for_status`.
A sender is anything with ``send(request) -> Response``, ``abort()`` and ``close()``: tests and
an async transport plug in there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from simperium_orm.wire.attempts import drive, log, prepare
from simperium_orm.wire.request import Request, Response, encode_json, error_message
from simperium_orm.wire.retry import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_RETRIES,
    RetryPolicy,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Response",
    "Sender",
    "Transport",
    "encode_json",
    "error_message",
]

DEFAULT_TIMEOUT = 30.0

__all__ += ["log"]


class Sender(Protocol):
    """Sends one attempt of a request (see :class:`simperium_orm.wire.http.Sender`)."""

    def send(self, request: Request) -> Response: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


class Transport:
    """A thread-safe HTTP client with connection pooling, timeouts and jittered retries.

    ``retries`` is how many extra attempts a failed request gets (connection errors, 429, 5xx).
    ``timeout`` is the per-attempt read timeout in seconds for ordinary calls; long-polls pass
    their own. ``sleep`` is injectable so tests can run the backoff without waiting; so is the
    ``sender`` that makes each attempt.
    """

    def __init__(
        self,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        pool_size: int = 32,
        sleep: Callable[[float], None] = time.sleep,
        sender: Sender | None = None,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive or None")
        self.policy = RetryPolicy(retries, backoff, max_backoff)
        self.timeout = timeout
        self._sleep = sleep
        if sender is None:
            from simperium_orm.wire.http import Sender as HTTPSender

            sender = HTTPSender(pool_size)
        self._sender = sender
        self._closed = threading.Event()

    @property
    def retries(self) -> int:
        return self.policy.retries

    @property
    def backoff(self) -> float:
        return self.policy.backoff

    @property
    def max_backoff(self) -> float:
        return self.policy.max_backoff

    def __repr__(self) -> str:
        return f"<Transport timeout={self.timeout} retries={self.retries}>"

    def close(self) -> None:
        """Close pooled connections; the transport is unusable afterwards."""
        self._closed.set()
        self._sender.close()

    def abort(self) -> None:
        """Interrupt every request in flight (they raise :class:`TransportError`).

        Used to stop a long-poll at once instead of waiting for its timeout.
        """
        self._sender.abort()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        json_text: bytes | None = None,
        form: Mapping[str, str] | None = None,
        timeout: float | str | None = "default",
        safe_to_retry: bool = True,
        raise_for_status: bool = True,
        retry_timeouts: bool = True,
    ) -> Response:
        """Send one logical request, retrying as the policy allows; return or raise.

        ``safe_to_retry`` says whether repeating the request cannot apply it twice (reads, and
        writes that carry a ccid). Unsafe requests are retried only when the connection could
        not be made at all. ``retry_timeouts=False`` gives up at the first timeout (a quiet
        long-poll is an answer, not a failure). ``timeout="default"`` uses the transport's
        timeout; ``None`` waits for as long as the server holds the request (long-polls).
        ``json_text`` is a JSON body already encoded (see :func:`encode_json`).
        """
        request, steps = prepare(
            self.policy,
            self.timeout,
            method,
            url,
            params=params,
            headers=headers,
            json_body=json_body,
            json_text=json_text,
            form=form,
            timeout=timeout,
            safe_to_retry=safe_to_retry,
            raise_for_status=raise_for_status,
            retry_timeouts=retry_timeouts,
        )
        return drive(steps, self._sender.send, self._sleep, request)
