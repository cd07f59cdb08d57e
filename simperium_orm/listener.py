"""Listen to a bucket's change feed and send remote changes as model-level blinker signals.

Each model's bucket gets a :class:`Feed` that long-polls ``/changes`` (a user token) or ``/all``
(an admin key, ``all_users=True``). One round: fetch pending changes, fold them per object,
fetch the data of the changed objects once (one paged ``index(since=cv, data=1)``; ``/all``
carries the data itself), send ``remote_created`` / ``remote_updated`` / ``remote_deleted``,
and only then save the new cv to the checkpoint.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simperium_orm import signals
from simperium_orm.checkpoint import Checkpoint, MemoryCheckpoint, Position
from simperium_orm.client import Client, default_client
from simperium_orm.errors import NotFound, SimperiumError
from simperium_orm.remote import Kind, RemoteChange, decode_round, split_id
from simperium_orm.transport import Transport

if TYPE_CHECKING:
    from simperium_orm.model import Model

__all__ = ["Listener", "RemoteEvent"]

_SEEN_LIMIT = 100_000
_MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class RemoteEvent:
    """A remote change as delivered: the signal's name and its keyword arguments."""

    kind: str
    model: type[Model]
    id: str
    version: int | None
    instance: Model | None = None
    changed_fields: frozenset[str] = frozenset()
    change: dict[str, Any] = field(default_factory=dict)
    userid: str | None = None


class Feed:
    """One model's change feed: its position, its dedupe memory and one round of work."""

    def __init__(self, listener: Listener, model: type[Model], cv: str | None) -> None:
        self.listener = listener
        self.model = model
        self.bucket = listener.feed_client.bucket(model.bucket_name())
        suffix = "/all" if listener.all_users else ""
        self.key = f"{listener.client.app_id}/{self.bucket.name.lower()}{suffix}"
        self.position = listener.checkpoint.load(self.key)
        if cv is not None:
            self.position = Position(cv)
        self._started = self.position.cv is not None
        self._seen: OrderedDict[tuple[str | None, str], int] = OrderedDict()
        self.generation = 0
        self.busy_since: float | None = None

    @property
    def cv(self) -> str | None:
        return self.position.cv

    def head(self) -> str | None:
        """The feed's current head cv, so a fresh listener hears only new changes."""
        if not self.listener.all_users:
            current = self.bucket.index(limit=1).get("current")
            return current if isinstance(current, str) and current else None
        cv: str | None = None
        while True:
            batch = self.bucket.all(cv=cv, batch=1000, wait=False)
            if not batch:
                return cv
            cv = str(batch[-1]["cv"])

    def fetch(self, cv: str | None, timeout: float | None) -> list[dict[str, Any]]:
        """One long-poll (``timeout=None``: pending changes only, no waiting)."""
        wait = timeout is not None
        if self.listener.all_users:
            return self.bucket.all(
                cv=cv,
                data=True,
                username=True,
                timeout=timeout,
                skip_clientids=[self.listener.client.clientid],
                wait=wait,
            )
        return self.bucket.changes(cv=cv, timeout=timeout, wait=wait)

    def round(self, timeout: float | None, generation: int | None = None) -> list[RemoteEvent]:
        """Fetch, decode and deliver one round; return the delivered events."""
        if not self._started:
            self.position = Position(self.head())
            self.listener.checkpoint.save(self.key, self.position)
            self._started = True
        self.busy_since = time.monotonic()
        try:
            changes = self.fetch(self.position.cv, timeout)
        except NotFound:
            return self._reindex()
        finally:
            self.busy_since = None
        if generation is not None and generation != self.generation:
            return []  # the watchdog replaced this worker while it was stuck
        if not changes:
            return []
        decoded = decode_round(
            changes,
            own_clientid=None if self.listener.all_users else self.listener.client.clientid,
            namespaced=self.listener.all_users,
        )
        data = self._data_for(decoded, self.position.cv)
        events = [self._deliver(item, data) for item in decoded]
        self.position = Position(str(changes[-1]["cv"]))
        self.listener.checkpoint.save(self.key, self.position)
        return [e for e in events if e is not None]

    def _data_for(
        self, decoded: list[RemoteChange], since: str | None
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        """Current data of the changed objects, from one paged index walk (user feeds)."""
        wanted = {c.id for c in decoded if c.kind != "deleted" and not c.has_data}
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        mark: str | None = None
        while wanted - found.keys():
            page = self.bucket.index(data=True, since=since, mark=mark, limit=1000)
            for entry in page["index"]:
                if entry.get("id") in wanted:
                    found[entry["id"]] = (int(entry["v"]), dict(entry.get("d") or {}))
            mark = page.get("mark")
            if not mark:
                break
        return found

    def _deliver(
        self, item: RemoteChange, data: dict[str, tuple[int, dict[str, Any]]]
    ) -> RemoteEvent | None:
        seen_key = (item.userid, item.id)
        version = item.version
        fields: dict[str, Any] | None = None
        if item.kind == "deleted":
            pass
        elif item.has_data:
            if item.data is None:
                return None  # removed later on; its delete comes in a later change
            fields = dict(item.data)
        elif item.id in data:
            version, fields = data[item.id]
        else:
            return None  # gone from the index: deleted since, a delete change follows
        if version is not None and self._already_delivered(seen_key, version):
            return None
        change = dict(item.change)
        instance: Model | None = None
        if fields is not None:
            try:
                instance = self.model.from_document(
                    item.id, version or 0, fields, client=self.listener.client
                )
            except Exception as exc:  # data that does not fit the model
                self.listener.report(exc, change)
                self._remember(seen_key, version)
                return None
        event = RemoteEvent(
            item.kind,
            self.model,
            item.id,
            version,
            instance,
            item.changed_fields,
            change,
            item.userid,
        )
        self.listener.emit(event)
        self._remember(seen_key, version)
        return event

    def _already_delivered(self, key: tuple[str | None, str], version: int) -> bool:
        last = self._seen.get(key)
        if last is None and key[0] is None:
            last = self.position.delivered.get(key[1])
        elif last is None:
            last = self.position.delivered.get(f"{key[0]}/{key[1]}")
        return last is not None and version <= last

    def _remember(self, key: tuple[str | None, str], version: int | None) -> None:
        if version is None:
            return
        self._seen[key] = version
        self._seen.move_to_end(key)
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        # Recorded before the round's cv is saved, so a crash does not deliver it again.
        name = key[1] if key[0] is None else f"{key[0]}/{key[1]}"
        self.position.delivered[name] = version
        self.listener.checkpoint.save(self.key, self.position)

    def _reindex(self) -> list[RemoteEvent]:
        """The server forgot our cv: replay every object changed since it from the index.

        ``/all`` has no cross-user index, so an all-users feed replays the retained log from
        its start instead; versions already delivered in this process are skipped.
        """
        if self.listener.all_users:
            self.position = Position(None)
            self.listener.checkpoint.save(self.key, self.position)
            return []
        since = self.position.cv
        events: list[RemoteEvent] = []
        mark: str | None = None
        current: str | None = None
        while True:
            page = self.bucket.index(data=True, since=since, mark=mark, limit=1000)
            current = current or page.get("current")
            for entry in page["index"]:
                userid, key = split_id(str(entry["id"]), namespaced=self.listener.all_users)
                version = int(entry["v"])
                kind: Kind = "created" if version == 1 else "updated"
                item = RemoteChange(
                    kind,
                    key,
                    userid,
                    version,
                    frozenset((entry.get("d") or {}).keys()),
                    {"id": entry["id"], "o": "M", "ev": version},
                    entry.get("d") or {},
                    True,
                )
                event = self._deliver(item, {})
                if event is not None:
                    events.append(event)
            mark = page.get("mark")
            if not mark:
                break
        self.position = Position(current if isinstance(current, str) else None)
        self.listener.checkpoint.save(self.key, self.position)
        return events


class Listener:
    """Turns remote changes to models' buckets into blinker signals.

    ``start()`` runs one background thread per bucket; ``poll()`` runs one round by hand.
    Without ``cv`` or a checkpoint position it starts at each bucket's current head.
    """

    def __init__(
        self,
        *models: type[Model],
        client: Client | None = None,
        all_users: bool = False,
        cv: str | None = None,
        checkpoint: Checkpoint | None = None,
        poll_timeout: float = 20.0,
        stall_timeout: float | None = None,
    ) -> None:
        if not models:
            raise TypeError("Listener needs at least one model class")
        if cv is not None and len(models) > 1:
            raise TypeError("cv= names one feed's position; pass it with a single model")
        self.client = client or default_client()
        # Feeds poll over their own pool, so stop() can abort a long-poll without touching
        # the caller's connections; the clientid stays the same to recognise own writes.
        self._transport = Transport(timeout=self.client.timeout, retries=self.client.retries)
        self.feed_client = self.client.with_transport(self._transport)
        self.all_users = all_users
        self.checkpoint: Checkpoint = checkpoint if checkpoint is not None else MemoryCheckpoint()
        self.poll_timeout = poll_timeout
        self.stall_timeout = stall_timeout or poll_timeout + 15.0
        self.feeds = [Feed(self, model, cv) for model in models]
        self._stop = threading.Event()
        self._threads: dict[Feed, threading.Thread] = {}
        self._watchdog: threading.Thread | None = None

    def __repr__(self) -> str:
        names = ", ".join(f.model.__name__ for f in self.feeds)
        state = "running" if self.running else "stopped"
        return f"<Listener {names} {state}>"

    @property
    def cv(self) -> str | None:
        """The last cv whose signals were all delivered (of the first model's feed)."""
        return self.feeds[0].cv

    @property
    def cvs(self) -> dict[str, str | None]:
        """Each feed's last fully delivered cv, by bucket name."""
        return {f.bucket.name: f.cv for f in self.feeds}

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads.values())

    def poll(self, timeout: float | None = None) -> list[RemoteEvent]:
        """One round by hand over every feed; waits up to ``timeout`` s for a change.

        Feed failures raise; receiver failures go to ``listener_error``.
        """
        events: list[RemoteEvent] = []
        for feed in self.feeds:
            events.extend(feed.round(timeout))
        return events

    def start(self) -> Listener:
        """Start a background thread per feed (and a watchdog); returns at once."""
        if self.running:
            return self
        self._stop.clear()
        for feed in self.feeds:
            self._spawn(feed)
        self._watchdog = threading.Thread(
            target=self._watch, name="simperium-listener-watchdog", daemon=True
        )
        self._watchdog.start()
        return self

    def stop(self) -> None:
        """Stop the threads: waiting long-polls are interrupted, a round in progress ends."""
        self._stop.set()
        self._transport.abort()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads to finish (call :meth:`stop` first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        threads = [*self._threads.values(), *([self._watchdog] if self._watchdog else [])]
        for thread in threads:
            while thread.is_alive():
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if self._stop.is_set():
                    self._transport.abort()  # a poll that began after stop() was called
                thread.join(0.05)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    # -- delivery -------------------------------------------------------------------------

    def emit(self, event: RemoteEvent) -> None:
        """Send an event's signal to each receiver; a failing receiver is reported, not fatal."""
        kwargs: dict[str, Any]
        if event.kind == "deleted":
            signal, kwargs = signals.remote_deleted, {"id": event.id}
        else:
            signal = signals.remote_created if event.kind == "created" else signals.remote_updated
            kwargs = {"instance": event.instance}
            if event.kind == "updated":
                kwargs["changed_fields"] = set(event.changed_fields)
        kwargs.update(change=event.change, userid=event.userid)
        for receiver in list(signal.receivers_for(event.model)):
            try:
                receiver(event.model, **kwargs)
            except Exception as exc:
                self.report(exc, event.change)

    def report(self, error: BaseException, change: dict[str, Any] | None) -> None:
        """Send ``listener_error``; a failing error receiver cannot stop the listener."""
        for receiver in list(signals.listener_error.receivers_for(self)):
            with contextlib.suppress(Exception):
                receiver(self, error=error, change=change)

    # -- threads --------------------------------------------------------------------------

    def _spawn(self, feed: Feed) -> None:
        feed.generation += 1
        thread = threading.Thread(
            target=self._run,
            args=(feed, feed.generation),
            name=f"simperium-listener-{feed.bucket.name}",
            daemon=True,
        )
        self._threads[feed] = thread
        thread.start()

    def _run(self, feed: Feed, generation: int) -> None:
        failures = 0
        while not self._stop.is_set() and generation == feed.generation:
            try:
                feed.round(self.poll_timeout, generation)
                failures = 0
            except SimperiumError as exc:
                if self._stop.is_set():
                    break  # the aborted long-poll of stop()
                self.report(exc, None)
                failures += 1
                delay = random.uniform(0, min(_MAX_BACKOFF, 0.25 * 2**failures))
                self._stop.wait(delay)
            except Exception as exc:  # a bug must not kill the feed silently
                self.report(exc, None)
                self._stop.wait(1.0)

    def _watch(self) -> None:
        while not self._stop.wait(min(5.0, self.stall_timeout / 2)):
            for feed in self.feeds:
                since = feed.busy_since
                if since is not None and time.monotonic() - since > self.stall_timeout:
                    self.report(
                        SimperiumError(f"{feed.bucket.name} feed stalled; restarting its poll"),
                        None,
                    )
                    feed.busy_since = None
                    self._spawn(feed)
