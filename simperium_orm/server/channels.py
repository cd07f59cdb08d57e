"""One websocket channel: who opened it, on which bucket, and what it has been sent.

A channel receives every change of its user's bucket exactly once, in cv order, from the
moment it is *synced*: after its first ``cv:`` answer (from that cv) or after the last page
of an index walk (from the walk's snapshot). Index pages list objects with their current
data, so a change after the snapshot that a page already showed is skipped (``known``): a
client that re-applied it would apply it twice (node-simperium 1.1.4 then duplicates text).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simperium_orm.server import stream_protocol as sp
from simperium_orm.server.changes import change_object
from simperium_orm.server.index_pages import IndexPage
from simperium_orm.server.store import Store

__all__ = ["Channel"]

#: Log entries read per push round; more are pushed in the next round.
PUSH_ROWS = 500


@dataclass(eq=False)
class Channel:
    number: int
    userid: str
    bucket: str
    clientid: str
    library: str | None
    synced: bool = False
    #: the cv of the last change pushed (or the position the channel was synced at)
    cursor: str = ""
    #: versions the index pages listed, until the pushes pass ``known_until``
    known: dict[str, int] = field(default_factory=dict)
    known_until: str | None = None
    #: a ``cv:`` request waits for its ``c:`` answer (sent even when empty)
    answer_due: bool = False

    def __repr__(self) -> str:
        return f"<Channel {self.number} {self.bucket!r} synced={self.synced}>"

    def listed(self, page: IndexPage, head: str) -> None:
        """An index page went out; its last page syncs the channel at the walk's snapshot."""
        self.known.update(page.listed)
        if page.mark is None:
            # Never go back: what was pushed before this walk is not pushed again.
            self.cursor = max(self.cursor, page.snapshot) if self.synced else page.snapshot
            self.synced = True
            self.known_until = head

    def catch_up(self, cv: str, head: str) -> None:
        """A ``cv:`` request: answer with the changes after ``cv`` (after the cursor, if
        the channel already had them) and stay synced."""
        self.cursor = max(self.cursor, cv) if self.synced else cv
        self.synced = True
        self.answer_due = True
        if self.known and self.known_until is None:  # a walk left unfinished
            self.known_until = head

    def pushes(self, store: Store) -> tuple[list[str], bool]:
        """The ``c:`` messages now due, and whether more changes wait for another round."""
        if not self.synced:
            return [], False
        rows = store.changes_after(self.bucket, self.userid, self.cursor, PUSH_ROWS)
        changes: list[str] = []
        for row in rows:
            self.cursor = row.cv
            if self.known and self.known.get(row.id, 0) >= row.ev:
                continue  # the index already gave the client this version
            changes.append(sp.encode_change(change_object(row)))
        if self.known_until is not None and self.cursor >= self.known_until:
            self.known, self.known_until = {}, None
        if not changes and not self.answer_due:
            return [], len(rows) == PUSH_ROWS
        self.answer_due = False
        return list(sp.change_messages(self.number, changes)), len(rows) == PUSH_ROWS
