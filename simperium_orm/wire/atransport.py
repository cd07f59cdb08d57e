"""The async transport: :class:`~simperium_orm.wire.transport.Transport`'s twin for asyncio.

The same arguments, the same :class:`~simperium_orm.wire.retry.RetryPolicy`, the same retry loop
(:func:`~simperium_orm.wire.attempts.attempts`), driven with ``await`` and ``asyncio.sleep``
over an :class:`~simperium_orm.wire.aio.AsyncSender`. It belongs to the event loop that first
uses it: a :class:`~simperium_orm.Client` keeps one per running loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from simperium_orm.wire.attempts import adrive, prepare
from simperium_orm.wire.request import Request, Response
from simperium_orm.wire.retry import RetryPolicy

__all__ = ["AsyncSenderLike", "AsyncTransport"]


class AsyncSenderLike(Protocol):
    """Sends one attempt of a request from asyncio."""

    async def send(self, request: Request) -> Response: ...

    def abort(self) -> None: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


class AsyncTransport:
    """Sends logical requests with retries from one event loop (see the module doc)."""

    def __init__(
        self,
        policy: RetryPolicy,
        timeout: float | None,
        *,
        pool_size: int = 32,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        sender: AsyncSenderLike | None = None,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self._sleep = sleep
        if sender is None:
            from simperium_orm.wire.aio import AsyncSender

            sender = AsyncSender(pool_size)
        self._sender = sender

    def __repr__(self) -> str:
        return f"<AsyncTransport timeout={self.timeout} retries={self.policy.retries}>"

    def abort(self) -> None:
        """Interrupt every request in flight (they raise :class:`TransportError`)."""
        self._sender.abort()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._sender.aclose()

    def close(self) -> None:
        """Drop the pooled connections without awaiting."""
        self._sender.close()

    async def request(self, method: str, url: str, **options: Any) -> Response:
        """:meth:`Transport.request <simperium_orm.wire.transport.Transport.request>`, awaited
        (the same keyword arguments)."""
        request, steps = prepare(self.policy, self.timeout, method, url, **options)
        return await adrive(steps, self._sender.send, self._sleep, request)
