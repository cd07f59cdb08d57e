"""Wake-ups: one asyncio event per watched change log, set when it grows, and standing
subscriptions (websocket channels) called back on every write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import Any


class Wakeups:
    """Lets waiting ``/changes`` and ``/all`` requests sleep until their log grows.

    Keys name logs: ``("user", userid, bucket)`` for one user's bucket, ``("bucket", bucket)``
    for every user's. A writer calls :meth:`notify` with the keys of the logs it appended to;
    everyone waiting on them wakes at once. A websocket channel instead stays subscribed to
    its log (:meth:`subscribe`): its callback runs on every write, however many there are.
    Used only from the event loop's thread.
    """

    def __init__(self) -> None:
        self._events: dict[Hashable, asyncio.Event] = {}
        self._waiting: dict[Hashable, int] = {}
        self._subscribers: dict[Hashable, set[Callable[[], None]]] = {}
        self.closed = False

    def event(self, key: Hashable) -> asyncio.Event:
        """The event the next write to ``key`` sets; take it *before* reading the log."""
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = asyncio.Event()
            if self.closed:
                event.set()
        return event

    async def wait(
        self,
        key: Hashable,
        event: asyncio.Event,
        timeout: float,
        stop: asyncio.Future[object] | None = None,
    ) -> bool:
        """Sleep until ``event`` is set, ``stop`` is done or ``timeout`` passes.

        True only if the event was set (the log grew) and the feed is still open.
        """
        if self.closed:
            return False
        self._waiting[key] = self._waiting.get(key, 0) + 1
        waiter = asyncio.ensure_future(event.wait())
        try:
            watched: set[asyncio.Future[Any]] = {waiter}
            if stop is not None:
                watched.add(stop)
            done, _ = await asyncio.wait(
                watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            left = self._waiting[key] - 1
            if left:
                self._waiting[key] = left
            else:
                del self._waiting[key]
                if self._events.get(key) is event and not event.is_set():
                    del self._events[key]  # nobody is watching this log any more
        return waiter in done and not self.closed

    def subscribe(self, key: Hashable, wake: Callable[[], None]) -> None:
        """Call ``wake()`` after every write to ``key``'s log until :meth:`unsubscribe`."""
        self._subscribers.setdefault(key, set()).add(wake)

    def unsubscribe(self, key: Hashable, wake: Callable[[], None]) -> None:
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(wake)
            if not subscribers:
                del self._subscribers[key]

    def notify(self, keys: Iterable[Hashable]) -> None:
        """Wake every request waiting on one of ``keys`` and call their subscribers."""
        for key in keys:
            event = self._events.pop(key, None)
            if event is not None:
                event.set()
            for wake in tuple(self._subscribers.get(key, ())):
                wake()

    def close(self) -> None:
        """Wake every waiter for good (server shutdown): they answer ``[]`` at once."""
        self.closed = True
        for event in self._events.values():
            event.set()
        self._events.clear()

    @property
    def waiting(self) -> int:
        """How many requests are sleeping now."""
        return sum(self._waiting.values())
