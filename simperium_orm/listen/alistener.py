"""``AsyncListener``: remote changes as an async iterator of events, with the same signals.

``async with AsyncListener(Todo, checkpoint=cp) as events: async for event in events: ...``

It takes :class:`~simperium_orm.listen.listener.Listener`'s arguments and runs the same feeds
(:class:`~simperium_orm.listen.feed.Feed`: decoding, ghosts, reads, coalescing, checkpoints).
Each feed's long-poll is awaited over the client's async pool, so an idle listener is one
pending request and costs nothing; a round's answer is then handed to the feed's own code in a
worker thread (it may read objects its ghosts cannot give, with blocking requests). The feed
delivers each event to this iterator and waits: a version is recorded in the checkpoint only
once the loop body for its event has finished (the iterator is asked for the next one), so a
crash delivers again only the event in hand. The event's signal is sent first (coroutine
receivers awaited, plain ones called); ``listener_error`` goes to plain receivers as the sync
listener sends it. Taking the starting position (each bucket's head) also runs in a thread, and
so does the whole round of a ``transport="stream"`` listener (the websocket channel is sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from simperium_orm.errors import NotFound, SimperiumError
from simperium_orm.listen.feed import BATCH, Feed, RemoteEvent
from simperium_orm.listen.listener import _QUICK_EMPTY, Listener, _backoff, signal_of
from simperium_orm.orm.effects import send_async

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model

__all__ = ["AsyncListener"]


class _Stopped(BaseException):
    """Raised in a feed's worker thread when the iterator stopped before taking its event."""


class _Bridge(Listener):
    """The sync listener's feeds, delivering to the async iterator instead of to receivers."""

    def __init__(self, owner: AsyncListener, *models: type[Model], **kwargs: Any) -> None:
        self._owner = owner
        super().__init__(*models, **kwargs)

    def emit(self, event: RemoteEvent) -> None:
        self._owner._hand_over(event)


class AsyncListener:
    """Remote changes to models' buckets as an async iterator of
    :class:`~simperium_orm.RemoteEvent` (see the module doc); ``Listener``'s arguments."""

    def __init__(self, *models: type[Model], **kwargs: Any) -> None:
        if not models:
            raise TypeError("AsyncListener needs at least one model class")
        self._models = models
        self._kwargs = kwargs
        self._bridge: _Bridge | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[RemoteEvent, threading.Event]] = asyncio.Queue()
        self._in_hand: threading.Event | None = None
        self._stopped = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        names = ", ".join(m.__name__ for m in self._models)
        return f"<AsyncListener {names}>"

    @property
    def listener(self) -> Listener:
        """The sync listener whose feeds this one runs (``cv``, ``cvs``, ``checkpoint``...)."""
        if self._bridge is None:
            raise RuntimeError("enter the AsyncListener first (async with)")
        return self._bridge

    # -- lifetime -------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncListener:
        self._loop = asyncio.get_running_loop()
        self._stopped.clear()
        self._bridge = await asyncio.to_thread(_Bridge, self, *self._models, **self._kwargs)
        self._tasks = [asyncio.ensure_future(self._run(feed)) for feed in self._bridge.feeds]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling; an event handed out and not yet finished is not recorded."""
        self._stopped.set()
        if self._in_hand is not None:
            self._in_hand.set()
            self._in_hand = None
        while not self._queue.empty():
            self._queue.get_nowait()[1].set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if self._bridge is not None:
            for feed in self._bridge.feeds:
                feed.interrupt()
                feed.transport.close()

    # -- iteration ------------------------------------------------------------------------

    def __aiter__(self) -> AsyncListener:
        return self

    async def __anext__(self) -> RemoteEvent:
        if self._in_hand is not None:  # the loop body of the last event has finished
            self._in_hand.set()
            self._in_hand = None
        if self._stopped.is_set():
            raise StopAsyncIteration
        event, done = await self._queue.get()
        signal, kwargs = signal_of(event)
        try:
            await send_async(signal, event.model, **kwargs)
        except Exception as exc:  # a failing receiver is reported, not fatal
            self.listener.report(exc, event.change)
        self._in_hand = done
        return event

    def _hand_over(self, event: RemoteEvent) -> None:
        """In a feed's worker thread: give the event to the iterator and wait until its loop
        body has finished (then the feed records it as delivered)."""
        if self._stopped.is_set():
            raise _Stopped
        done = threading.Event()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (event, done))
        done.wait()
        if self._stopped.is_set():
            raise _Stopped  # handed out but not finished: not recorded

    # -- polling --------------------------------------------------------------------------

    async def _run(self, feed: Feed) -> None:
        bridge = self.listener
        bucket = feed.client.abucket(feed.model.bucket_name())
        failures = quick = 0
        while not self._stopped.is_set():
            since, started = feed.position.cv, time.monotonic()
            try:
                if feed.streaming:  # transport="stream": the websocket channel is sync
                    changes = await asyncio.to_thread(self._round, feed, bridge.poll_timeout)
                elif feed.all_users:
                    changes = await bucket.aall(
                        cv=since, username=True, timeout=bridge.poll_timeout, batch=BATCH
                    )
                else:
                    changes = await bucket.achanges(
                        cv=since, timeout=bridge.poll_timeout, batch=BATCH
                    )
                if not feed.streaming and (changes or feed.position.delivered):
                    await asyncio.to_thread(self._take, feed, since, changes)
            except NotFound:
                if since is None:
                    raise
                await asyncio.to_thread(self._reindex, feed, since)
                continue
            except (SimperiumError, Exception) as exc:
                if self._stopped.is_set():
                    return
                failures += 1
                delay = _backoff(failures, exc)
                bridge._feed_failed(feed, exc, f"polling again in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            failures = 0
            if not changes and time.monotonic() - started < _QUICK_EMPTY:
                quick += 1  # a server answering "nothing" at once: do not spin on it
                await asyncio.sleep(min(1.0, 0.01 * 2 ** min(quick, 7)))
            else:
                quick = 0

    def _round(self, feed: Feed, timeout: float) -> list[Any]:
        with contextlib.suppress(_Stopped):
            return feed.round(timeout)[0]
        return []

    def _take(self, feed: Feed, since: str | None, changes: list[dict[str, Any]]) -> None:
        with contextlib.suppress(_Stopped):
            feed.take(since, changes)

    def _reindex(self, feed: Feed, since: str) -> None:
        with contextlib.suppress(_Stopped):
            feed.reindex(since)
