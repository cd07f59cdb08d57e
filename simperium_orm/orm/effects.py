"""The I/O an ORM operation asks for, and the two shells that perform it.

An operation (a save, a delete, a bulk save, a query page...) is written once, as a generator
that does no I/O: it yields an effect (read this object, write that change, send this signal...)
and is resumed with its result, or has the error thrown back in. :func:`run` performs the
effects with a blocking :class:`~simperium_orm.wire.bucket.Bucket` and ``signal.send``;
:func:`arun` with an :class:`~simperium_orm.wire.abucket.AsyncBucket` and blinker's
``send_async`` (coroutine receivers are awaited, plain ones called). So what a save sends, how it
merges and rebases, what a bulk save settles and how pages are walked exist once for both APIs.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from blinker import Signal

from simperium_orm.orm.background import Background
from simperium_orm.orm.scan.readahead import AsyncPageReader, PageReader

if TYPE_CHECKING:
    from simperium_orm.client import Client

__all__ = [
    "Effect",
    "Emit",
    "Fetch",
    "Index",
    "Post",
    "Pull",
    "Remove",
    "Send",
    "Start",
    "Steps",
    "Wait",
    "WriteDoc",
    "arun",
    "astream",
    "collect",
    "run",
    "stream",
    "tally",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Fetch:
    """``bucket.fetch(item)``: a Document, or NotFound thrown back."""

    client: Any
    bucket: str
    item: str


@dataclass(frozen=True)
class WriteDoc:
    """``bucket.write(item, body, version=, replace=)``: the resulting Document."""

    client: Any
    bucket: str
    item: str
    body: Mapping[str, Any]
    version: int | None
    replace: bool


@dataclass(frozen=True)
class Remove:
    """``bucket.delete(item, version=)``."""

    client: Any
    bucket: str
    item: str
    version: int | None


@dataclass(frozen=True)
class Post:
    """``bucket.bulk_post_encoded(body)``, waited for: the per-change results."""

    client: Any
    bucket: str
    body: bytes


@dataclass(frozen=True)
class Start:
    """Start ``bucket.bulk_post_encoded(body)`` without waiting: a handle for :class:`Wait`."""

    client: Any
    bucket: str
    body: bytes


@dataclass(frozen=True)
class Wait:
    """The results of a request begun by :class:`Start`."""

    handle: Any


@dataclass(frozen=True)
class Index:
    """``bucket.index_raw(data=, mark=, limit=)``: an index page's bytes. With ``ahead`` the
    shell reads the page the answer ends with while the operation works (see readahead.py)."""

    client: Any
    bucket: str
    data: bool
    mark: str | None
    limit: int
    ahead: bool = False
    since: str | None = None


@dataclass(frozen=True)
class Emit:
    """Results of a streaming operation (a scan), handed out before it goes on."""

    items: Iterable[Any]


@dataclass(frozen=True)
class Send:
    """Send a blinker signal (``send_async`` from the async shell)."""

    signal: Signal
    sender: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


Effect = Fetch | WriteDoc | Remove | Post | Start | Wait | Index | Send | Emit
Steps = Generator[Effect, Any, T]


def run(steps: Steps[T]) -> T:
    """Perform the effects with blocking I/O; the operation's result."""
    readers = _Readers()
    try:
        effect = next(steps)
        while True:
            try:
                result = readers.take(effect) if isinstance(effect, Index) else _perform(effect)
            except BaseException as exc:  # back to the operation, which may handle it
                effect = steps.throw(exc)
            else:
                effect = steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        readers.close()


async def arun(steps: Steps[T]) -> T:
    """Perform the effects with awaited I/O; the operation's result."""
    readers = _AsyncReaders()
    try:
        effect = next(steps)
        while True:
            try:
                if isinstance(effect, Index):
                    result = await readers.take(effect)
                else:
                    result = await _aperform(effect)
            except BaseException as exc:  # cancellation too: sent requests are settled
                effect = steps.throw(exc)
            else:
                effect = steps.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        readers.close()


def stream(steps: Steps[None]) -> Iterator[Any]:
    """Perform a streaming operation's effects with blocking I/O, yielding what it emits."""
    readers = _Readers()
    try:
        effect = next(steps)
        while True:
            if isinstance(effect, Emit):
                yield from effect.items
                effect = next(steps)
                continue
            try:
                result = readers.take(effect) if isinstance(effect, Index) else _perform(effect)
            except BaseException as exc:
                effect = steps.throw(exc)
            else:
                effect = steps.send(result)
    except StopIteration:
        return
    finally:
        readers.close()
        steps.close()


async def astream(steps: Steps[None]) -> AsyncIterator[Any]:
    """Perform a streaming operation's effects with awaited I/O, yielding what it emits."""
    readers = _AsyncReaders()
    try:
        effect = next(steps)
        while True:
            if isinstance(effect, Emit):
                for item in effect.items:
                    yield item
                effect = next(steps)
                continue
            try:
                if isinstance(effect, Index):
                    result = await readers.take(effect)
                else:
                    result = await _aperform(effect)
            except BaseException as exc:
                effect = steps.throw(exc)
            else:
                effect = steps.send(result)
    except StopIteration:
        return
    finally:
        readers.close()
        steps.close()


def collect(steps: Steps[None], limit: int | None = None, *, keep: bool = True) -> Steps[Any]:
    """An operation that runs a streaming one and gives what it emitted: a list (the first
    ``limit`` items), or with ``keep=False`` how many items there were."""
    out: list[Any] = []
    count = 0
    try:
        effect = next(steps)
        while True:
            if isinstance(effect, Emit):
                for item in effect.items:
                    count += 1
                    if keep:
                        out.append(item)
                    if limit is not None and count >= limit:
                        return out if keep else count
                effect = next(steps)
                continue
            try:
                result = yield effect
            except BaseException as exc:
                effect = steps.throw(exc)
            else:
                effect = steps.send(result)
    except StopIteration:
        return out if keep else count
    finally:
        steps.close()


def tally(steps: Steps[None], limit: int | None = None) -> Steps[int]:
    """How many items a streaming operation emits (counting stops at ``limit``)."""
    count = yield from collect(steps, limit, keep=False)
    return int(count)


class Pull:
    """A streaming operation read a batch at a time from inside another operation (a scan
    whose objects are written as they come: ``update()``, ``delete()``)."""

    def __init__(self, steps: Steps[None]) -> None:
        self._steps = steps
        self._items: Iterator[Any] = iter(())
        self._done = False

    def batch(self, n: int) -> Steps[list[Any]]:
        """Up to ``n`` more items (fewer only at the end)."""
        out: list[Any] = []
        while len(out) < n:
            item = next(self._items, _END)
            if item is not _END:
                out.append(item)
                continue
            if self._done:
                break
            try:
                effect = next(self._steps)
                while not isinstance(effect, Emit):
                    try:
                        result = yield effect
                    except BaseException as exc:
                        effect = self._steps.throw(exc)
                    else:
                        effect = self._steps.send(result)
            except StopIteration:
                self._done = True
                continue
            self._items = iter(effect.items)
        return out


_END = object()


class _Readers:
    """The page readers of one scan, one per kind of page it asks for."""

    def __init__(self) -> None:
        self._by_kind: dict[Any, PageReader] = {}

    def take(self, effect: Index) -> bytes:
        if not effect.ahead:
            return _perform(effect)  # type: ignore[no-any-return]
        kind = (id(effect.client), effect.bucket, effect.data, effect.limit, effect.since)
        reader = self._by_kind.get(kind)
        if reader is None:
            bucket, data, limit = effect.client.bucket(effect.bucket), effect.data, effect.limit
            since = effect.since

            def fetch(mark: str | None) -> bytes:
                raw = bucket.index_raw(data=data, mark=mark, limit=limit, since=since)
                return raw  # type: ignore[no-any-return]

            reader = self._by_kind[kind] = PageReader(fetch)
        return reader.take(effect.mark)

    def close(self) -> None:
        for reader in self._by_kind.values():
            reader.close()


class _AsyncReaders:
    def __init__(self) -> None:
        self._by_kind: dict[Any, AsyncPageReader] = {}

    async def take(self, effect: Index) -> bytes:
        if not effect.ahead:
            return await _aperform(effect)  # type: ignore[no-any-return]
        kind = (id(effect.client), effect.bucket, effect.data, effect.limit, effect.since)
        reader = self._by_kind.get(kind)
        if reader is None:
            bucket, data, limit = abucket(effect.client, effect.bucket), effect.data, effect.limit
            since = effect.since

            async def fetch(mark: str | None) -> bytes:
                raw = await bucket.aindex_raw(data=data, mark=mark, limit=limit, since=since)
                return raw  # type: ignore[no-any-return]

            reader = self._by_kind[kind] = AsyncPageReader(fetch)
        return await reader.take(effect.mark)

    def close(self) -> None:
        for reader in self._by_kind.values():
            reader.close()


def _perform(effect: Effect) -> Any:
    assert not isinstance(effect, Emit), "a streaming operation runs through stream()"
    if isinstance(effect, Send):
        return effect.signal.send(effect.sender, **effect.kwargs)
    if isinstance(effect, Wait):
        return effect.handle.result()
    bucket = effect.client.bucket(effect.bucket)
    if isinstance(effect, Fetch):
        return bucket.fetch(effect.item)
    if isinstance(effect, WriteDoc):
        return bucket.write(
            effect.item, effect.body, version=effect.version, replace=effect.replace
        )
    if isinstance(effect, Remove):
        return bucket.delete(effect.item, version=effect.version)
    if isinstance(effect, Post):
        return bucket.bulk_post_encoded(effect.body)
    if isinstance(effect, Start):
        body = effect.body
        return Background(lambda: bucket.bulk_post_encoded(body), "simperium-orm-bulk")
    assert isinstance(effect, Index)
    return bucket.index_raw(
        data=effect.data, mark=effect.mark, limit=effect.limit, since=effect.since
    )


async def _aperform(effect: Effect) -> Any:
    assert not isinstance(effect, Emit), "a streaming operation runs through astream()"
    if isinstance(effect, Send):
        return await send_async(effect.signal, effect.sender, **effect.kwargs)
    if isinstance(effect, Wait):
        return await effect.handle
    bucket = abucket(effect.client, effect.bucket)
    if isinstance(effect, Fetch):
        return await bucket.afetch(effect.item)
    if isinstance(effect, WriteDoc):
        return await bucket.awrite(
            effect.item, effect.body, version=effect.version, replace=effect.replace
        )
    if isinstance(effect, Remove):
        return await bucket.adelete(effect.item, version=effect.version)
    if isinstance(effect, Post):
        return await bucket.abulk_post_encoded(effect.body)
    if isinstance(effect, Start):
        return asyncio.ensure_future(bucket.abulk_post_encoded(effect.body))
    assert isinstance(effect, Index)
    return await bucket.aindex_raw(
        data=effect.data, mark=effect.mark, limit=effect.limit, since=effect.since
    )


def abucket(client: Client | Any, name: str) -> Any:
    """The client's async bucket; TypeError for a replica (its async twin is not built)."""
    make = getattr(client, "abucket", None)
    if make is None:
        raise TypeError(
            f"{client!r} has no async API: objects read through a replica are saved with the "
            "sync methods"
        )
    return make(name)


async def send_async(signal: Signal, sender: Any, **kwargs: Any) -> Any:
    """Send ``signal``: coroutine receivers are awaited, plain functions called in turn."""
    if not signal.receivers:
        return []
    return await signal.send_async(sender, _sync_wrapper=_as_coroutine, **kwargs)


def _as_coroutine(receiver: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return receiver(*args, **kwargs)

    return call
