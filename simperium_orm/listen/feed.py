"""One bucket's change feed: where it stands, what it delivered, and one round of work.

A round: long-poll ``/changes`` (or ``/all``) after the saved cv; drop the versions already
delivered; fold the rest per object (:mod:`simperium_orm.listen.decode`); read the changed objects'
data once (one paged ``index(since=cv, data=1)``; ``/all`` carries the data itself); deliver
one event per object; then save the new cv. Each delivered version is recorded as it goes,
so a crash delivers again only the event whose receivers were running.

An object that changed again between the long-poll and the index read has data newer than the
round. The round is then cut before that object's first change, and the next round (which
starts there at once) sees its later changes too, so ``changed_fields`` stays exact. Only when
the very first change of a round is in that case (a backlog longer than one batch) is the
newer data delivered, with every field of the object counted as changed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simperium_orm.errors import BadRequest, NotFound
from simperium_orm.listen.checkpoint import Checkpoint, Position
from simperium_orm.listen.decode import (
    Kind,
    RemoteChange,
    consistent_end,
    decode_round,
    end_version,
    split_id,
)
from simperium_orm.orm import state
from simperium_orm.protocol import ZERO_CV

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model
    from simperium_orm.wire.bucket import Bucket
    from simperium_orm.wire.transport import Transport

__all__ = ["Feed", "RemoteEvent"]

#: The position before any change: where a feed with an empty log starts.
_PAGE = 1000
_MAX_USER_CLIENTS = 10_000


@dataclass(frozen=True)
class RemoteEvent:
    """A remote change as delivered: the signal's kind and its keyword arguments."""

    kind: Kind
    model: type[Model]
    id: str
    version: int | None
    instance: Model | None = None
    changed_fields: frozenset[str] = frozenset()
    change: dict[str, Any] = field(default_factory=dict)
    userid: str | None = None


class Feed:
    """One model's change feed over its own transport (so it can be interrupted alone)."""

    def __init__(
        self,
        model: type[Model],
        *,
        client: Client,
        transport: Transport,
        all_users: bool,
        checkpoint: Checkpoint,
        cv: str | None,
        emit: Callable[[RemoteEvent], None],
        report: Callable[[BaseException, dict[str, Any] | None], None],
    ) -> None:
        self.model = model
        self.client = client
        self.transport = transport
        self.all_users = all_users
        self.bucket: Bucket = client.with_transport(transport).bucket(model.bucket_name())
        suffix = "/all" if all_users else ""
        self.key = f"{client.app_id}/{self.bucket.name.lower()}{suffix}"
        self.checkpoint = checkpoint
        self.position = checkpoint.load(self.key) if cv is None else Position(cv)
        self._emit = emit
        self._report = report
        self._user_clients: dict[str, Client] = {}
        #: monotonic time the current long-poll began (None between polls): for the watchdog
        self.busy_since: float | None = None
        #: how many changes the last long-poll answered (0: the feed is idle)
        self.last_fetched = 0

    def __repr__(self) -> str:
        return f"<Feed {self.key} cv={self.position.cv!r}>"

    @property
    def cv(self) -> str | None:
        return self.position.cv

    # -- network --------------------------------------------------------------------------

    def begin(self) -> None:
        """Without a saved position, start at the feed's current head (only new changes)."""
        if self.position.cv is None:
            self.position = Position(self.head() or ZERO_CV, self.position.delivered)
            self.checkpoint.save(self.key, self.position)

    def head(self) -> str | None:
        """The feed's current head cv."""
        return self.bucket.head(all_users=self.all_users, timeout=self.client.timeout)

    def fetch(self, cv: str | None, timeout: float | None) -> list[dict[str, Any]]:
        """One long-poll; ``timeout=None``: the pending changes only, without waiting."""
        wait = timeout is not None
        if timeout is None:
            timeout = self.client.timeout
        self.busy_since = time.monotonic()
        try:
            if self.all_users:
                return self.bucket.all(
                    cv=cv,
                    data=True,
                    username=True,
                    timeout=timeout,
                    skip_clientids=[self.client.clientid],
                    wait=wait,
                )
            return self.bucket.changes(cv=cv, timeout=timeout, wait=wait)
        finally:
            self.busy_since = None

    def _index(self, since: str | None) -> Iterator[dict[str, Any]]:
        """Index pages with data of the objects changed after ``since``, newest first."""
        mark: str | None = None
        while True:
            page = self.bucket.index(data=True, since=since, mark=mark, limit=_PAGE)
            yield page
            mark = page.get("mark")
            if not mark:
                return

    # -- one round ------------------------------------------------------------------------

    def round(self, timeout: float | None) -> tuple[list[RemoteEvent], bool]:
        """Fetch, decode and deliver one round: the events, and whether more are pending."""
        since = self.position.cv
        try:
            changes = self.fetch(since, timeout)
        except NotFound:
            if since is None:
                raise
            return self._reindex(since), True
        self.last_fetched = len(changes)
        if not changes:
            if self.position.delivered:  # caught up: no delivered version lies ahead any more
                self.position = Position(since)
                self.checkpoint.save(self.key, self.position)
            return [], False
        decoded = self._decode(changes)
        data: dict[str, tuple[int, dict[str, Any]]] = {}
        end = len(changes)
        if not self.all_users:
            data = self._data_for(decoded, since)
            end = consistent_end(changes, {i: v for i, (v, _) in data.items()}) or end
            if end < len(changes):
                decoded = self._decode(changes[:end])
        events = [e for e in (self._deliver(item, data) for item in decoded) if e is not None]
        self._advance(changes[:end])
        return events, end < len(changes)

    def _decode(self, changes: list[dict[str, Any]]) -> list[RemoteChange]:
        delivered = self.position.delivered
        fresh = [
            c
            for c in changes
            if (ev := end_version(c)) is None or delivered.get(str(c.get("id")), 0) < ev
        ]
        own = None if self.all_users else self.client.clientid
        return decode_round(fresh, own_clientid=own, namespaced=self.all_users)

    def _data_for(
        self, decoded: list[RemoteChange], since: str | None
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        """Current version and data of the changed objects, from one paged index walk."""
        wanted = {c.id for c in decoded if c.kind != "deleted"}
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        if not wanted:
            return found
        for page in self._index(since):
            for entry in page["index"]:
                if entry.get("id") in wanted:
                    found[entry["id"]] = (int(entry["v"]), dict(entry.get("d") or {}))
            if len(found) == len(wanted):
                break
        return found

    def _advance(self, covered: list[dict[str, Any]]) -> None:
        """Move past ``covered``; forget delivered versions the feed has now passed."""
        delivered = dict(self.position.delivered)
        for change in covered:
            raw_id, ev = str(change.get("id")), end_version(change)
            if ev is not None and raw_id in delivered and delivered[raw_id] <= ev:
                del delivered[raw_id]
        cvs = [c["cv"] for c in covered if isinstance(c.get("cv"), str)]
        self.position = Position(cvs[-1] if cvs else self.position.cv, delivered)
        self.checkpoint.save(self.key, self.position)

    def _deliver(
        self, item: RemoteChange, data: dict[str, tuple[int, dict[str, Any]]]
    ) -> RemoteEvent | None:
        name = item.id if item.userid is None else f"{item.userid}/{item.id}"
        version, fields, moved_on = item.version, None, False
        if item.kind == "deleted":
            pass
        elif item.has_data:  # /all with data=1
            if item.data is None:
                return None  # deleted since: its delete is a later change
            fields = dict(item.data)
        elif item.id in data:
            version, fields = data[item.id]
            moved_on = item.version is not None and version > item.version
        else:
            return None  # gone from the index: deleted since, its delete is a later change
        if version is not None and self.position.delivered.get(name, 0) >= version:
            return None
        changed = item.changed_fields | set(fields or ()) if moved_on else item.changed_fields
        change = dict(item.change)
        instance: Model | None = None
        if fields is not None:
            try:
                instance = self.model.from_document(
                    item.id, version or 0, fields, client=self._client_for(item.userid)
                )
            except Exception as exc:  # data that does not fit the model
                self._report(exc, change)
                self._remember(name, version)
                return None
        event = RemoteEvent(
            item.kind,
            self.model,
            item.id,
            version,
            instance,
            self._field_names(changed),
            change,
            item.userid,
        )
        self._emit(event)
        self._remember(name, version)
        return event

    def _field_names(self, keys: frozenset[str] | set[str]) -> frozenset[str]:
        """Stored keys as field names (an aliased field's name); undeclared keys as they are."""
        wire = state.wire_keys(self.model)
        return frozenset(wire.get(key, key) for key in keys)

    def _remember(self, name: str, version: int | None) -> None:
        if version is None:
            return
        self.position.delivered[name] = version
        self.checkpoint.record(self.key, name, version)

    def _client_for(self, userid: str | None) -> Client:
        """The client instances are bound to: the listener's, or (``/all``) the owner's."""
        if userid is None:
            return self.client
        client = self._user_clients.get(userid)
        if client is None:
            if len(self._user_clients) >= _MAX_USER_CLIENTS:
                self._user_clients.clear()
            client = self.client.as_user(userid)
            # The listener's clientid: a receiver's save is not heard back as a remote change.
            client.clientid = self.client.clientid
            self._user_clients[userid] = client
        return client

    # -- the server forgot our cv ---------------------------------------------------------

    def _reindex(self, since: str) -> list[RemoteEvent]:
        """Deliver every object changed after ``since`` from the index, then go on from there.

        The index cannot list deletions. ``/all`` has no index: an all-users feed replays the
        retained log from its start (versions recorded as delivered are still skipped).
        """
        if self.all_users:
            self.position = Position(ZERO_CV, self.position.delivered)
            self.checkpoint.save(self.key, self.position)
            return []
        pages = self._index(since)
        try:
            first = next(pages)
        except BadRequest:  # not even a cv this server can compare: take every object
            pages = self._index(None)
            first = next(pages)
        current = first.get("current")
        events: list[RemoteEvent] = []
        for page in itertools.chain([first], pages):
            for entry in page["index"]:
                version, fields = int(entry["v"]), dict(entry.get("d") or {})
                _, key = split_id(str(entry["id"]), namespaced=False)
                item = RemoteChange(
                    "created" if version == 1 else "updated",
                    key,
                    None,
                    version,
                    frozenset(fields),
                    {"id": key, "o": "M", "ev": version},
                    fields,
                    True,
                )
                event = self._deliver(item, {})
                if event is not None:
                    events.append(event)
        cv = current if isinstance(current, str) and current else ZERO_CV
        self.position = Position(cv, self.position.delivered)
        self.checkpoint.save(self.key, self.position)
        return events
