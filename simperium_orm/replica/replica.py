"""``Replica``: a SQLite mirror of some models' buckets, kept current from the change feed.

``replica.sync()`` brings it up to date by hand; ``start()``/``stop()``/``join()`` (or ``with``)
follow the feed in background threads, one per bucket, as a :class:`~simperium_orm.Listener`
does. Queries through ``Model.objects.using(replica)`` are answered from the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm.client import Client, default_client
from simperium_orm.errors import (
    BadRequest,
    NotFound,
    ReplicaError,
    TransportError,
    UnsyncedChanges,
)
from simperium_orm.orm import state
from simperium_orm.replica.local import LocalBucket
from simperium_orm.replica.lock import SyncLock
from simperium_orm.replica.push import Push
from simperium_orm.replica.queryset import LocalManager, LocalQuerySet
from simperium_orm.replica.signalling import emit, report
from simperium_orm.replica.sql import index_paths
from simperium_orm.replica.store import Event, Store
from simperium_orm.replica.sync import BucketSync, Progress

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model
    from simperium_orm.orm.query import QuerySet

M = TypeVar("M", bound="Model")

__all__ = ["Replica"]

log = logging.getLogger("simperium_orm.replica")

_MAX_BACKOFF = 30.0
_POLL_TIMEOUT = 25.0


@dataclass(frozen=True)
class Pending:
    """An object with a local change the server has not acknowledged yet."""

    model: type[Model]
    id: str
    deleted: bool  # a delete, not a save
    instance: Model | None  # the object as saved locally (None for a delete)


@dataclass(frozen=True)
class Rejected:
    """A local change the server refused (or an object deleted there while edited here)."""

    model: type[Model] | None
    id: str
    deleted: bool
    instance: Model | None  # the object as it was saved locally
    status: int | None  # the server's error status, when it answered one
    error: str
    at: float  # when it was refused (seconds since the epoch)


def _identity(client: Client) -> str:
    """Who the client acts as: its userid, as the server names it."""
    if client.userid:
        return client.userid
    try:
        return client.bucket("spuser").user()
    except (NotFound, BadRequest):
        # A server without GET /1/{app}/user: the token names the user (a digest, not it).
        token = client.bucket("spuser").auth_token
        return "token-" + hashlib.sha256(token.encode()).hexdigest()[:32]


class Replica:
    """One SQLite file mirroring ``models``' buckets for one app and one user.

    ``path`` is a file (created when missing; WAL mode) or ``":memory:"``. ``client`` defaults
    to the ``connect()`` default. ``transport="stream"`` follows the feed over Simperium's
    websocket protocol instead of long-polls (needs the ``websockets`` package).
    ``progress(bucket, objects, done)`` is called while a bucket is indexed. Opening a file made
    for another app or user raises :class:`~simperium_orm.ReplicaMismatch`.
    """

    def __init__(
        self,
        path: str,
        *models: type[Model],
        client: Client | None = None,
        progress: Progress | None = None,
        poll_timeout: float = _POLL_TIMEOUT,
        transport: str = "poll",
    ) -> None:
        from simperium_orm.orm.model import Model

        if not models:
            raise TypeError("Replica needs at least one model: Replica(path, Note, ...)")
        by_bucket: dict[str, type[Model]] = {}
        for model in models:
            if not (isinstance(model, type) and issubclass(model, Model)) or model is Model:
                raise TypeError(f"Replica takes Model subclasses, not {model!r}")
            name = model.bucket_name()
            if by_bucket.setdefault(name, model) is not model:
                raise TypeError(f"{model.__name__} and {by_bucket[name].__name__} share {name!r}")
        if transport not in ("poll", "stream"):
            raise ValueError(f"transport is 'poll' or 'stream', not {transport!r}")
        self.client = client or default_client()
        self.transport = transport
        self.models: dict[str, type[Model]] = by_bucket
        self._streams: dict[str, Any] = {}
        self.poll_timeout = poll_timeout
        self.store = Store(path)
        try:
            self._claimed = False
            self._claim(offline_ok=True)
            for model in models:
                for steps in index_paths(model):
                    self.store.ensure_index(model.bucket_name(), steps)
        except BaseException:
            self.store.close()
            raise
        self._lock = SyncLock(self.store.path)
        self._syncs = {
            name: BucketSync(
                self.store,
                model,
                self.client.bucket(name),
                timeout=self.client.timeout,
                progress=progress,
                feed=self._stream_feed(name) if transport == "stream" else None,
            )
            for name, model in by_bucket.items()
        }
        self._pushes = {
            name: Push(self.store, name, self.client.bucket(name)) for name in by_bucket
        }
        self._locals = {
            name: LocalBucket(self, name, self.client.bucket(name)) for name in by_bucket
        }
        self._deliver_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        names = ", ".join(m.__name__ for m in self.models.values())
        return f"<Replica {self.store.path!r} ({names})>"

    def _stream_feed(self, name: str) -> Any:
        """The feed of bucket ``name`` over the websocket streaming protocol."""

        def feed(cv: str, timeout: float | None) -> list[dict[str, Any]]:
            stream = self._streams.get(name)
            if stream is None:
                from simperium_orm.listen.stream import StreamChannel

                stream = self._streams[name] = StreamChannel(self.client, name, cv=cv)
            return stream.changes(cv=cv, timeout=timeout, batch=1000)

        return feed

    def _claim(self, *, offline_ok: bool = False) -> None:
        """Record (or check) the file's app and user. Offline, a file may be opened and written
        locally; nothing is sent or read from the server before the check has passed."""
        if self._claimed:
            return
        try:
            userid = _identity(self.client)
        except TransportError:
            if offline_ok:
                return
            raise
        self.store.claim(self.client.app_id, userid)
        self._claimed = True

    # -- syncing ------------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring every bucket up to date with the server, then return.

        The first time a bucket is indexed (with data, a page of 1,000 at a time); after that
        only the changes since the stored cv are read. Signals of the versions applied are sent
        before this returns. :class:`~simperium_orm.ReplicaLocked` if another process syncs
        this file.
        """
        self._lock.acquire()
        self._claim()
        for sync in self._syncs.values():
            self._pull(sync)
            if self._pushes[sync.name].send():
                self._pull(sync)  # the acknowledgements of what was sent
            self._deliver(sync.name)  # refusals

    def _pull(self, sync: BucketSync) -> None:
        while sync.round(None).more:
            self._deliver(sync.name)
        self._deliver(sync.name)

    @property
    def cv(self) -> dict[str, str | None]:
        """Each bucket's feed position (None before its first sync)."""
        return {name: sync.cv for name, sync in self._syncs.items()}

    def status(self) -> dict[str, Any]:
        """Objects, cv and last sync per bucket, and the file's size in bytes."""
        return self.store.status()

    def start(self) -> Replica:
        """Follow every bucket's feed in background threads; returns at once."""
        if self._threads:
            raise RuntimeError("this replica is already running")
        self._lock.acquire()
        self._stop.clear()
        for sync in self._syncs.values():
            for target, what in ((self._run, "pull"), (self._run_push, "push")):
                thread = threading.Thread(
                    target=target,
                    args=(sync,),
                    name=f"simperium-replica-{what}-{sync.name}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
        return self

    def ready(self, timeout: float | None = None) -> bool:
        """Wait until every bucket was indexed at least once (True), or ``timeout`` passes.

        A background replica indexes a new bucket before it follows the feed, and the index is
        silent: changes made before it ends arrive as its data, not as signals.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while any(sync.cv is None for sync in self._syncs.values()):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not self.running:
                return False
            time.sleep(0.01)
        return True

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        """Ask the background threads to stop (a long-poll in flight is interrupted)."""
        self._stop.set()
        self.client.transport.abort()
        for stream in list(self._streams.values()):
            stream.close()
        self._streams.clear()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background threads to end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        self._threads = [t for t in self._threads if t.is_alive()]

    def close(self, discard: bool = False) -> None:
        """Stop syncing and close the file (objects already read stay usable).

        Raises :class:`~simperium_orm.UnsyncedChanges` while local changes are pending
        (call :meth:`flush` first); ``discard=True`` closes all the same: a file keeps them and
        sends them when it next syncs, a replica in memory loses them.
        """
        if not self.store.closed and not discard:
            pending = self.pending()
            if pending:
                raise UnsyncedChanges(
                    f"{len(pending)} local change(s) not yet acknowledged by the server; "
                    "flush() first, or close(discard=True)",
                    pending,
                )
        if self._threads:
            self.stop()
            self.join()
        self._lock.release()
        self.store.close()

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    # -- local writes -------------------------------------------------------------------------

    def bucket(self, name: str) -> LocalBucket:
        """The bucket ``name`` read and written locally (what saved objects write through)."""
        try:
            return self._locals[name.lower()]
        except KeyError:
            raise ReplicaError(f"this replica does not mirror a bucket {name!r}") from None

    @property
    def timeout(self) -> float | None:
        return self.client.timeout

    def wake(self) -> None:
        """Tell the background push there is something to send."""
        self._wake.set()

    def has_pending(self, model: type[Model], item: str | None) -> bool:
        """Whether the object has a local change the server has not acknowledged."""
        if item is None:
            return False
        with self.store.reading() as conn:
            return self.store.queued(conn, model.bucket_name(), item) is not None

    def _anything_pending(self) -> bool:
        """Whether any mirrored bucket has a queued change (one cheap query, no objects)."""
        names = list(self.models)
        marks = ", ".join("?" * len(names))
        found = self.store.query(f"SELECT 1 FROM queue WHERE bucket IN ({marks}) LIMIT 1", names)
        return bool(found)

    def pending(self) -> list[Pending]:
        """The objects with local changes not yet acknowledged, oldest first."""
        out = []
        with self.store.reading() as conn:
            for bucket, item in self.store.pending(conn):
                model = self.models.get(bucket)
                if model is None:
                    continue
                row = self.store.get(conn, bucket, item)
                instance = None if row is None else self.load(model, item, row.version, row.data)
                out.append(Pending(model, item, row is None, instance))
        return out

    def rejected(self) -> list[Rejected]:
        """The local changes the server refused (kept, never sent again), oldest first."""
        out = []
        for bucket, item, op, data, status, error, at in self.store.rejected():
            model = self.models.get(bucket)
            instance = None
            if model is not None and data is not None:
                with contextlib.suppress(Exception):
                    instance = self.load(model, item, 0, data)
            out.append(Rejected(model, item, op == "-", instance, status, error, at))
        return out

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is pending and wait until the server acknowledged all of it (True), or
        ``timeout`` seconds passed (False). Without background threads, it syncs by itself."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self.running:
                try:
                    self.sync()
                except TransportError:
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
            else:
                self.wake()
            if not self._anything_pending():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01 if self.running else 0.1)

    # -- the async twin (the work runs in a worker thread: SQLite and the sync client block) --

    async def async_(self) -> None:
        """:meth:`sync` from a coroutine (``async`` is a keyword: PEP 8's trailing underscore)."""
        await asyncio.to_thread(self.sync)

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` from a coroutine."""
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, discard: bool = False) -> None:
        """:meth:`close` from a coroutine."""
        await asyncio.to_thread(self.close, discard)

    def _run_push(self, sync: BucketSync) -> None:
        push, failures = self._pushes[sync.name], 0
        while not self._stop.is_set():
            self._wake.wait(0.25)  # other processes' writes are found by looking
            self._wake.clear()
            if self._stop.is_set() or sync.cv is None or not self._claimed:
                continue
            try:
                push.send()
                self._deliver(sync.name)
            except Exception as exc:
                failures += 1
                self._report(exc)
                self._stop.wait(min(_MAX_BACKOFF, 0.1 * 2 ** min(failures, 9)))
                continue
            failures = 0

    def _run(self, sync: BucketSync) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._claim()
                self._deliver(sync.name)
                done = sync.round(None if sync.cv is None else self.poll_timeout)
                self._deliver(sync.name)
            except Exception as exc:
                if self._stop.is_set():
                    break
                failures += 1
                self._report(exc)
                self._stop.wait(min(_MAX_BACKOFF, 0.1 * 2 ** min(failures, 9)))
                continue
            failures = 0
            if not done.read and not done.indexed and not done.more:
                self._stop.wait(0.01)  # a quiet answer: do not spin if the server answers at once

    # -- signals ------------------------------------------------------------------------------

    def _deliver(self, bucket: str) -> None:
        """Send the signals of the versions applied and not yet signalled, oldest first."""
        with self._deliver_lock:
            while True:
                events = self.store.events(bucket)
                if not events:
                    return
                for event in events:
                    self._emit(event)
                    self.store.done(event.seq)

    def _emit(self, event: Event) -> None:
        model = self.models.get(event.bucket)
        if model is not None:
            emit(self, model, event)

    def _report(self, error: BaseException, change: dict[str, Any] | None = None) -> None:
        report(self, error, change)

    # -- objects ------------------------------------------------------------------------------

    def load(self, model: type[Model], item: str, version: int, data: str | None) -> Any:
        """An object of ``model`` from its stored JSON, bound to this replica: its saves,
        deletes and refreshes go through the replica."""
        entry = {"id": item, "v": version, "d": json.loads(data or "{}")}
        return next(state.load(model, [entry], self.source))

    def manager_for(self, model: type[M]) -> LocalManager[M]:
        """``model.objects.using(replica)``: its manager, answered from the file."""
        self.model_for(model)
        return LocalManager(model, self)

    def queryset_for(self, qs: QuerySet[M]) -> LocalQuerySet[M]:
        """``qs.using(replica)``: the same query, answered from the file."""
        self.model_for(qs.model)
        return LocalQuerySet.like(qs, self)

    @property
    def source(self) -> Any:
        """What objects read from this replica remember as their client: the replica."""
        return self

    def model_for(self, model: type[Model]) -> type[Model]:
        name = model.bucket_name()
        if name not in self.models:
            raise ReplicaError(f"this replica does not mirror {model.__name__}'s bucket {name!r}")
        return self.models[name]
