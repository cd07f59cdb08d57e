"""Pulling one bucket into the replica: a first index, then the change feed, version by version.

The first sync walks the bucket's index with data (1,000 objects a request) and stores each
page as it comes; the cv it then follows is the index's ``current``, and the changes made
during the walk are read from there, so nothing written meanwhile is missed. After that only
``/changes`` since the stored cv is read: each change's diff is applied to the object's ghost
when the change's ``sv`` is the ghost's version (no read per change); a ghost at another version
is replaced by the object read at the change's end version (never guessed). A cv the server no
longer knows (404) re-indexes the bucket and signals what changed since.

Each batch of changes commits in one transaction with the cv it reaches and one pending signal
per version (the store's ``events``); signals are sent after the commit, and each event row is
deleted once its signal went out. A crash therefore neither loses a version's signal nor sends
it twice, except the one whose receivers were running.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simperium_orm import jsondiff
from simperium_orm.errors import InvalidDiff, NotFound, ProtocolError
from simperium_orm.orm.scan import PageReader, tail_mark
from simperium_orm.protocol import ZERO_CV, new_ccid
from simperium_orm.replica.store import ObjectRow, Queued, dumps
from simperium_orm.wire.bucket import parse_index

if TYPE_CHECKING:
    import sqlite3

    from simperium_orm.orm.model import Model
    from simperium_orm.replica.store import Store
    from simperium_orm.wire.bucket import Bucket

__all__ = ["BucketSync", "Progress"]

log = logging.getLogger("simperium_orm.replica")

_PAGE = 1000
_BATCH = 1000
_STORE_EVERY = 5000  # index rows stored per transaction
DELETED_REMOTELY = "deleted on the server while it had local changes"

#: ``progress(bucket, objects stored so far, done)`` during an index walk.
Progress = Callable[[str, int, bool], None]
#: ``feed(cv, timeout)``: the changes after ``cv``, waiting up to ``timeout`` (None: no wait).
Feed = Callable[[str, float | None], list[dict[str, Any]]]


@dataclass
class Round:
    """What one round did: changes read, versions applied, and whether more are pending."""

    read: int = 0
    applied: int = 0
    more: bool = False
    indexed: bool = False


class BucketSync:
    """Keeps one model's bucket in the store current with the server."""

    def __init__(
        self,
        store: Store,
        model: type[Model],
        bucket: Bucket,
        *,
        timeout: float | None = None,
        progress: Progress | None = None,
        feed: Feed | None = None,
    ) -> None:
        self.timeout = timeout  # for requests that do not wait (None: as long as needed)
        self.feed = feed or self._poll
        self.store = store
        self.model = model
        self.name = model.bucket_name()
        self.bucket = bucket
        self.progress = progress

    def __repr__(self) -> str:
        return f"<BucketSync {self.name}>"

    @property
    def cv(self) -> str | None:
        with self.store.reading() as conn:
            return self.store.bucket_state(conn, self.name)[0]

    def _poll(self, cv: str, timeout: float | None) -> list[dict[str, Any]]:
        """The changes after ``cv`` by long-poll (``timeout`` None: only those pending)."""
        wait = timeout is not None
        return self.bucket.changes(
            cv=cv, timeout=timeout if wait else self.timeout, wait=wait, batch=_BATCH
        )

    # -- one round ----------------------------------------------------------------------------

    def round(self, timeout: float | None) -> Round:
        """Index if never indexed, else read the changes after the cv (waiting up to
        ``timeout`` seconds for one; ``None``: only those already pending) and apply them."""
        cv = self.cv
        if cv is None:
            self.index(reindex=False)
            return Round(indexed=True, more=True)
        try:
            changes = self.feed(cv, timeout)
        except NotFound:
            log.warning("%s: the server no longer knows cv %s; indexing again", self.name, cv)
            self.index(reindex=True)
            return Round(indexed=True, more=True)
        if not changes:
            with self.store.writing() as conn:
                self.store.touch(conn, self.name)
            return Round()
        applied = self.apply(changes)
        return Round(read=len(changes), applied=applied, more=len(changes) >= _BATCH)

    # -- the index ----------------------------------------------------------------------------

    def index(self, *, reindex: bool) -> None:
        """Walk the whole index with data; store every object; keep the walk's ``current``.

        Objects kept from before that the walk did not find are removed. On a re-index, each
        object that is new, changed or gone gets its signal, as a change would have given it.
        Objects with local changes keep them, rebased onto what the index says.
        """
        if not reindex:
            self._first_index()
            return
        found = self.store.query("SELECT id, version FROM objects WHERE bucket = ?", (self.name,))
        before = {item: version for item, version in found}
        seen: set[str] = set()
        current: str | None = None
        for head, body in self._walk():
            current = current or head
            rows = [(str(e["id"]), int(e["v"]), dumps(e.get("d") or {})) for e in body["index"]]
            seen.update(item for item, _, _ in rows)
            self._store(rows, before)
            if self.progress is not None:
                self.progress(self.name, len(seen), False)
        self._finish(current, seen, reindex=True)

    def _first_index(self) -> None:
        """The first index (or one a crash interrupted): pages stored as SQLite parses them."""
        with self.store.writing() as conn:
            self.store.forget_unsent(conn, self.name)  # what an interrupted index left
            # An empty bucket's indexes are built once at the end: far cheaper than keeping
            # them up to date object by object (they come back even if this index fails).
            empty = not self.store.count(conn, self.name)
            rebuild = self.store.drop_indexes(conn, self.name) if empty else []
            self.store.clear_stage(conn)
        try:
            current, seen = self._walk_first(staged=empty)
        finally:
            if rebuild:
                with self.store.writing() as conn:
                    for sql in rebuild:
                        conn.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        self._finish(current, seen, reindex=False)

    def _walk_first(self, *, staged: bool) -> tuple[str | None, set[str]]:
        """The walk of a first index; ``staged``: the bucket is empty, so the pages are kept
        aside and stored in id order at the end (in one transaction with nothing else)."""
        seen: set[str] = set()
        current: str | None = None
        for head, raw in self._walk(parsed=False):
            current = current or head
            with self.store.writing() as conn:
                local = {i for _, i in self.store.pending(conn, self.name)}
                if staged:
                    seen.update(self.store.stage_page(conn, raw))
                else:
                    seen.update(self.store.put_page(conn, self.name, raw))
                for entry in _entries_of(raw, local):
                    seen.add(entry[0])
                    self._keep_local(conn, *entry)
            if self.progress is not None:
                self.progress(self.name, len(seen), False)
        if staged:
            with self.store.writing() as conn:
                self.store.unstage(conn, self.name)
        return current, seen

    def _finish(self, current: str | None, seen: set[str], *, reindex: bool) -> None:
        with self.store.writing() as conn:
            self._drop_unseen(conn, seen, reindex)
            self.store.set_cv(conn, self.name, current or ZERO_CV, indexed=True)
        if self.progress is not None:
            self.progress(self.name, len(seen), True)

    def _walk(self, *, parsed: bool = True) -> Iterator[tuple[str | None, Any]]:
        """Each index page's ``current`` and the page (parsed, or its JSON text), the next page
        requested while this one is stored (see orm/scan/readahead.py)."""
        bucket, mark = self.bucket, None
        reader = PageReader(lambda at: bucket.index_raw(data=True, mark=at, limit=_PAGE))
        try:
            first = True
            while True:
                raw = reader.take(mark)
                following = None if parsed else tail_mark(raw)
                page: dict[str, Any] | None = None
                if following is None or first:  # JSON parsed here only when it must be
                    page = parse_index(raw)
                    following = page.get("mark") or None
                head = None if page is None else page.get("current")
                yield (
                    (head if isinstance(head, str) and head else None),
                    (page if parsed else raw.decode("utf-8")),
                )
                if following is None or (page is not None and not page["index"]):
                    return
                mark, first = following, False
        finally:
            reader.close()

    def _store(self, rows: list[tuple[str, int, str]], before: dict[str, int] | None) -> None:
        """Store index rows in one transaction; with ``before`` (a re-index), queue the signals
        of what changed since."""
        if not rows:
            return
        with self.store.writing() as conn:
            local = {i for _, i in self.store.pending(conn, self.name)}
            self.store.put_many(conn, self.name, [r for r in rows if r[0] not in local])
            for item, version, data in rows:
                if item in local:
                    self._keep_local(conn, item, version, data)
                old = None if before is None else before.get(item)
                if before is not None and (old is None or old < version):
                    kind = "created" if old is None else "updated"
                    change = {"id": item, "o": "M", "ev": version, "reindex": True}
                    fields = None if old is None else list(json.loads(data))
                    self.store.add_event(conn, self.name, item, version, kind, fields, change, data)

    def _drop_unseen(self, conn: sqlite3.Connection, seen: set[str], reindex: bool) -> None:
        """Remove what the index no longer has; an object edited here is reported, not lost."""
        for item in self.store.ids(conn, self.name) - seen:
            row = self.store.get(conn, self.name, item)
            queued = self.store.queued(conn, self.name, item)
            if row is not None and row.version == 0 and queued is not None:
                continue  # made here and not sent yet: the server cannot know it
            self.store.remove(conn, self.name, item)
            if row is not None and queued is not None:  # deleted there, edited here
                self.store.reject(conn, self.name, item, "M", row.data, None, DELETED_REMOTELY)
                change = {"id": item, "o": "-", "reindex": True, "error": DELETED_REMOTELY}
                self.store.add_event(
                    conn, self.name, item, None, "rejected", None, change, row.data
                )
            if reindex:
                change = {"id": item, "o": "-", "reindex": True}
                self.store.add_event(conn, self.name, item, None, "deleted", None, change, None)

    def _keep_local(self, conn: sqlite3.Connection, item: str, version: int, data: str) -> None:
        """Store the server's state of an object with local changes: they are rebased onto it
        (a local delete stays a delete); never is the server's state taken for a local edit."""
        queued = self.store.queued(conn, self.name, item)
        row = self.store.get(conn, self.name, item)
        if queued is None or queued.op == "-" or row is None:
            return
        if row.version >= version and row.ghost is not None:
            return  # nothing newer than the ghost we have
        local = data if row.ghost is None else self._rebase(row, row.ghost_data, data)
        self.store.put_local(conn, self.name, item, version, local, data)
        self._settle(conn, item, version, local, data, ours=False)

    # -- changes ------------------------------------------------------------------------------

    def apply(self, changes: list[dict[str, Any]]) -> int:
        """Apply a batch of feed changes and move the cv past them, in one transaction."""
        with self.store.reading() as conn:
            ghosts = {
                item: self.store.get(conn, self.name, item)
                for item in {str(c.get("id")) for c in changes}
            }
        fetched = self._fetch_mismatched(changes, ghosts)
        applied = 0
        with self.store.writing() as conn:
            for change in changes:
                applied += self._apply_one(conn, change, fetched)
            last = changes[-1].get("cv")
            if not isinstance(last, str):
                raise ProtocolError("a change in the feed has no cv")
            self.store.set_cv(conn, self.name, last)
        return applied

    def _fetch_mismatched(
        self, changes: Iterable[dict[str, Any]], ghosts: dict[str, Any]
    ) -> dict[tuple[str, int], str | None]:
        """Read the objects whose ghost will not fit a change's ``sv``, at that change's ``ev``."""
        versions = {
            item: (row.version if row is not None else None) for item, row in ghosts.items()
        }
        fetched: dict[tuple[str, int], str | None] = {}
        for change in changes:
            item, ev = str(change.get("id")), change.get("ev")
            if change.get("o") == "-" or not isinstance(ev, int):
                versions[item] = None if change.get("o") == "-" else versions.get(item)
                continue
            have = versions.get(item)
            if have is not None and have >= ev:
                continue
            sv = change.get("sv")
            if have == sv or (not have and sv is None):  # 0: made here, not yet on the server
                versions[item] = ev
                continue
            fetched[item, ev] = self._read(item, ev)
            versions[item] = ev
        return fetched

    def _read(self, item: str, version: int) -> str | None:
        try:
            doc = self.bucket.fetch(item, version=version)
        except NotFound:
            try:  # that version is no longer kept: the current one covers it
                doc = self.bucket.fetch(item)
            except NotFound:
                return None  # gone: its delete is a later change of the feed
        return dumps(doc.data)

    def _apply_one(
        self,
        conn: sqlite3.Connection,
        change: dict[str, Any],
        fetched: dict[tuple[str, int], str | None],
    ) -> int:
        item = str(change.get("id"))
        row = self.store.get(conn, self.name, item)
        queued = self.store.queued(conn, self.name, item)
        ours = queued is not None and queued.ccid in (change.get("ccids") or ())
        mine = ours or change.get("clientid") == self.bucket.clientid
        if change.get("o") == "-":
            return self._deleted(conn, change, item, row, queued, ours, mine)
        ev = change.get("ev")
        if change.get("o") != "M" or not isinstance(ev, int):
            return 0  # nothing a mirror keeps (e.g. a bucket-wide EMPTY is followed by deletes)
        if row is not None and row.version >= ev:
            return 0  # already here (read by the index or by a fetch)
        if row is None and queued is not None and queued.op == "-":
            return 0  # deleted here: the delete is on its way and wins
        diff = change.get("v") if isinstance(change.get("v"), dict) else {}
        assert isinstance(diff, dict)
        ghost = row.ghost_data if row is not None else "{}"
        data: str | None
        if (item, ev) in fetched:
            data = fetched[item, ev]
        else:
            try:
                data = dumps(jsondiff.apply(json.loads(ghost), diff))
            except InvalidDiff:
                data = self._read(item, ev)
        if data is None:
            return 0
        if row is None or queued is None or row.ghost is None:
            self.store.put(conn, self.name, item, ev, data)  # nothing local to keep
            if queued is not None:
                self._settle(conn, item, ev, data, data, ours)
        elif ours:
            self.store.put_local(conn, self.name, item, ev, row.data, data)
            self._settle(conn, item, ev, row.data, data, ours)
        else:  # a remote change under local edits: rebase the edits over it
            self.store.put_local(conn, self.name, item, ev, self._rebase(row, ghost, data), data)
        if mine:
            return 0  # this client's own write: no remote signal
        kind = "created" if row is None else "updated"
        self.store.add_event(
            conn, self.name, item, ev, kind, None if row is None else list(diff), change, data
        )
        return 1

    def _rebase(self, row: ObjectRow, ghost: str, data: str) -> str:
        """The local state with its edits (``ghost`` -> local) moved onto ``data``."""
        old, new, local = json.loads(ghost), json.loads(data), json.loads(row.data)
        try:
            mine = jsondiff.diff(old, local)
            return dumps(
                jsondiff.apply(new, jsondiff.transform(mine, jsondiff.diff(old, new), old))
            )
        except InvalidDiff:  # cannot merge: the local edits win key by key, as a save would
            return dumps({**new, **{k: local[k] for k in jsondiff.diff(old, local) if k in local}})

    def _settle(
        self, conn: sqlite3.Connection, item: str, version: int, local: str, ghost: str, ours: bool
    ) -> None:
        """After the server took our change (``ours``), or a change that leaves nothing to send:
        drop the queue row when local equals the ghost, else send what is left as a new change."""
        if json.loads(local) == json.loads(ghost):
            self.store.dequeue(conn, self.name, item)
            self.store.put(conn, self.name, item, version, ghost)
        elif ours:
            self.store.requeue(conn, self.name, item, new_ccid())

    def _deleted(
        self,
        conn: sqlite3.Connection,
        change: dict[str, Any],
        item: str,
        row: ObjectRow | None,
        queued: Queued | None,
        ours: bool,
        mine: bool,
    ) -> int:
        if ours or (queued is not None and queued.op == "-"):
            self.store.dequeue(conn, self.name, item)  # our delete (or the same wish) is done
            self.store.remove(conn, self.name, item)
            return 0
        if row is None:
            return 0
        self.store.remove(conn, self.name, item)
        if queued is not None:  # deleted on the server while edited here: keep the edits aside
            self.store.reject(conn, self.name, item, "M", row.data, None, DELETED_REMOTELY)
            rejected = {**change, "error": DELETED_REMOTELY}
            self.store.add_event(conn, self.name, item, None, "rejected", None, rejected, row.data)
        if mine:
            return 0
        self.store.add_event(conn, self.name, item, None, "deleted", None, change, None)
        return 1


def _entries_of(raw: str, wanted: set[str]) -> list[tuple[str, int, str]]:
    """(id, version, data text) of the page's entries whose id is in ``wanted``."""
    if not wanted:
        return []
    page = json.loads(raw)
    return [
        (str(e["id"]), int(e["v"]), dumps(e.get("d") or {}))
        for e in page["index"]
        if str(e["id"]) in wanted
    ]
