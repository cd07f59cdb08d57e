"""The queue of local changes and the refused ones, in the replica's file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from simperium_orm.replica.tables import Tables

__all__ = ["QueueTables", "Queued"]


@dataclass(frozen=True)
class Queued:
    """A local change waiting for the server's acknowledgement."""

    id: str
    ccid: str
    op: str  # "M" or "-"
    sent: bool
    again: bool = False  # changed again while in flight: send once the server took it


class QueueTables(Tables):
    """The ``queue`` and ``rejected`` tables."""

    def queued(self, conn: sqlite3.Connection, bucket: str, item: str) -> Queued | None:
        row = conn.execute(
            "SELECT id, ccid, op, sent FROM queue WHERE bucket = ? AND id = ?", (bucket, item)
        ).fetchone()
        return None if row is None else Queued(row[0], row[1], row[2], bool(row[3]), row[3] == 2)

    def enqueue(self, conn: sqlite3.Connection, bucket: str, item: str, op: str, ccid: str) -> None:
        """Queue a local change; one not yet sent keeps its ccid (the push sends the latest
        state), one in flight is marked to be sent again after its acknowledgement."""
        found = self.queued(conn, bucket, item)
        if found is None:
            conn.execute(
                "INSERT INTO queue (bucket, id, ccid, op, sent, created) VALUES (?, ?, ?, ?, 0, ?)",
                (bucket, item, ccid, op, time.time()),
            )
        elif found.sent:
            conn.execute(
                "UPDATE queue SET op = ?, sent = 2 WHERE bucket = ? AND id = ?", (op, bucket, item)
            )
        else:
            conn.execute("UPDATE queue SET op = ? WHERE bucket = ? AND id = ?", (op, bucket, item))

    def requeue(self, conn: sqlite3.Connection, bucket: str, item: str, ccid: str) -> None:
        """Send the object's change again, as a new change (``ccid``)."""
        conn.execute(
            "UPDATE queue SET ccid = ?, sent = 0 WHERE bucket = ? AND id = ?", (ccid, bucket, item)
        )

    def dequeue(self, conn: sqlite3.Connection, bucket: str, item: str) -> None:
        conn.execute("DELETE FROM queue WHERE bucket = ? AND id = ?", (bucket, item))

    def mark_sent(self, conn: sqlite3.Connection, bucket: str, items: Iterable[str]) -> None:
        conn.executemany(
            "UPDATE queue SET sent = 1 WHERE bucket = ? AND id = ? AND sent = 0",
            ((bucket, item) for item in items),
        )

    def to_send(
        self, conn: sqlite3.Connection, bucket: str, limit: int, *, in_flight: bool = False
    ) -> list[Queued]:
        """Changes to send: those never sent, and with ``in_flight`` those sent and not yet
        acknowledged (sent again with the same ccid, after a crash or a failure)."""
        states = "(0, 1)" if in_flight else "(0)"
        rows = conn.execute(
            f"SELECT id, ccid, op, sent FROM queue WHERE bucket = ? AND sent IN {states} "
            "ORDER BY created LIMIT ?",
            (bucket, limit),
        ).fetchall()
        return [Queued(i, c, o, bool(s)) for i, c, o, s in rows]

    def pending(self, conn: sqlite3.Connection, bucket: str | None = None) -> list[tuple[str, str]]:
        """(bucket, id) of every object with a local change not yet acknowledged."""
        if bucket is None:
            return conn.execute("SELECT bucket, id FROM queue ORDER BY created").fetchall()
        return conn.execute(
            "SELECT bucket, id FROM queue WHERE bucket = ? ORDER BY created", (bucket,)
        ).fetchall()

    def reject(
        self,
        conn: sqlite3.Connection,
        bucket: str,
        item: str,
        op: str,
        data: str | None,
        status: int | None,
        error: str,
    ) -> None:
        """Keep a refused local change aside and drop it from the queue."""
        conn.execute(
            "INSERT INTO rejected (bucket, id, op, data, status, error, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (bucket, item, op, data, status, error, time.time()),
        )
        self.dequeue(conn, bucket, item)

    def rejected(self) -> list[tuple[str, str, str, str | None, int | None, str, float]]:
        with self.reading() as conn:
            return conn.execute(
                "SELECT bucket, id, op, data, status, error, at FROM rejected ORDER BY seq"
            ).fetchall()
