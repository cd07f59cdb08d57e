"""The replica's SQLite file: objects with their ghosts, the feed position, pending signals.

One file holds one app and one user's buckets (recorded in ``meta``; opening it as anyone else
is refused). Tables:

- ``objects``: per bucket and id, the server's version (the ghost's), the local state ``data``
  (JSON text) and the ghost's state ``ghost`` when it differs from ``data`` (NULL while they
  are the same: a mirror stores each object once);
- ``buckets``: each bucket's feed position ``cv`` and when it was indexed and last synced;
- ``events``: remote versions applied but not yet signalled, written in the transaction that
  applied them, deleted once their signal was sent (so no version is signalled twice or lost
  across a crash);
- ``queue``: one row per object with local changes the server has not acknowledged: its
  ccid, whether it is a modification (``M``) or a delete (``-``), and whether it was sent;
  what it changes is always ``diff(ghost, data)``, computed when it is sent;
- ``rejected``: local changes the server refused, kept with its error, never retried.

The file is in WAL mode: any number of readers (threads or processes) read while one writer
commits. Each reader thread has its own connection; writes go through one connection under a
lock. ``":memory:"`` keeps everything in one connection of this process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simperium_orm.errors import ReplicaError, ReplicaMismatch
from simperium_orm.replica.events import Event, EventTables
from simperium_orm.replica.indexing import IndexTables
from simperium_orm.replica.queue import Queued, QueueTables
from simperium_orm.replica.store_json import dumps, json_path

__all__ = ["Event", "ObjectRow", "Queued", "Store", "dumps", "json_path"]

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    cv TEXT,
    indexed_at REAL,
    synced_at REAL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    ghost TEXT,
    UNIQUE (bucket, id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER,
    kind TEXT NOT NULL,
    fields TEXT,
    change TEXT NOT NULL,
    data TEXT
);
CREATE TABLE IF NOT EXISTS queue (
    bucket TEXT NOT NULL,
    id TEXT NOT NULL,
    ccid TEXT NOT NULL,
    op TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    PRIMARY KEY (bucket, id)
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    id TEXT NOT NULL,
    op TEXT NOT NULL,
    data TEXT,
    status INTEGER,
    error TEXT NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class ObjectRow:
    """One stored object: server version, local state, and the ghost when it differs."""

    id: str
    version: int
    data: str
    ghost: str | None = None

    @property
    def ghost_data(self) -> str:
        """The server's state at ``version`` (the ghost)."""
        return self.data if self.ghost is None else self.ghost


class Store(QueueTables, IndexTables, EventTables):
    """The replica's file. Reads run in one snapshot each; writes in one transaction each."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        if not self.memory:
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise ReplicaError(f"cannot open replica {self.path!r}: no folder {parent}")
            self.path = str(Path(self.path).expanduser())
            if not create and not Path(self.path).is_file():
                raise ReplicaError(f"no replica file {self.path!r}")
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        try:
            self._writer = self._connect()
            if create:
                self._writer.executescript(_SCHEMA)
            elif not self._writer.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'meta'"
            ).fetchone():
                self._writer.close()
                raise ReplicaError(f"{self.path!r} is not a replica file")
        except sqlite3.DatabaseError as exc:
            raise ReplicaError(f"cannot open replica {self.path!r}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: a bucket's index pages stay cached
        if not self.memory:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def __repr__(self) -> str:
        return f"<replica Store {self.path!r}>"

    # -- connections --------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        if self.memory:
            return self._writer
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection holding one consistent snapshot of the file for the block."""
        if self._closed:
            raise ReplicaError("the replica is closed")
        if self.memory:
            with self._write_lock:
                yield self._writer
            return
        conn = self._reader()
        if conn.in_transaction:  # nested: already inside a snapshot
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one statement (a statement reads one consistent snapshot by itself)."""
        if self._closed:
            raise ReplicaError("the replica is closed")
        if self.memory:
            with self._write_lock:
                return self._writer.execute(sql, params).fetchall()
        return self._reader().execute(sql, params).fetchall()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it commits, or none."""
        if self._closed:
            raise ReplicaError("the replica is closed")
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def checkpoint(self) -> None:
        """Move the write-ahead log into the file and empty it (e.g. before measuring it)."""
        if not self.memory:
            with self._write_lock:
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        with self._write_lock:
            self._writer.close()

    # -- identity -----------------------------------------------------------------------------

    def claim(self, app_id: str, userid: str) -> None:
        """Record the app and user of a new file; refuse a file made for another one."""
        with self.writing() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema", SCHEMA_VERSION), ("app_id", app_id), ("userid", userid)],
                )
                return
        if meta.get("schema") != SCHEMA_VERSION:
            raise ReplicaError(
                f"replica {self.path!r} has schema {meta.get('schema')!r}; "
                f"this version reads {SCHEMA_VERSION!r}"
            )
        if meta.get("app_id") != app_id or meta.get("userid") != userid:
            raise ReplicaMismatch(
                f"replica {self.path!r} holds another app's or user's data "
                f"(app {meta.get('app_id')!r}); open a file of its own for this one"
            )

    # -- buckets ------------------------------------------------------------------------------

    def bucket_state(
        self, conn: sqlite3.Connection, bucket: str
    ) -> tuple[str | None, float | None]:
        """A bucket's (cv, indexed_at); (None, None) before its first index."""
        row = conn.execute(
            "SELECT cv, indexed_at FROM buckets WHERE name = ?", (bucket,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_cv(
        self, conn: sqlite3.Connection, bucket: str, cv: str, *, indexed: bool = False
    ) -> None:
        now = time.time()
        conn.execute(
            "INSERT INTO buckets (name, cv, indexed_at, synced_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET cv = excluded.cv, synced_at = excluded.synced_at, "
            "indexed_at = COALESCE(?, buckets.indexed_at)",
            (bucket, cv, now if indexed else None, now, now if indexed else None),
        )

    def touch(self, conn: sqlite3.Connection, bucket: str) -> None:
        conn.execute("UPDATE buckets SET synced_at = ? WHERE name = ?", (time.time(), bucket))

    def status(self) -> dict[str, Any]:
        """Per bucket: objects, cv, last sync; and the file's size in bytes."""
        with self.reading() as conn:
            counts = dict(
                conn.execute("SELECT bucket, COUNT(*) FROM objects GROUP BY bucket").fetchall()
            )
            buckets = {
                name: {
                    "objects": counts.get(name, 0),
                    "cv": cv,
                    "indexed_at": indexed_at,
                    "synced_at": synced_at,
                }
                for name, cv, indexed_at, synced_at in conn.execute(
                    "SELECT name, cv, indexed_at, synced_at FROM buckets ORDER BY name"
                )
            }
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            pending = dict(
                conn.execute("SELECT bucket, COUNT(*) FROM queue GROUP BY bucket").fetchall()
            )
            rejected = dict(
                conn.execute("SELECT bucket, COUNT(*) FROM rejected GROUP BY bucket").fetchall()
            )
        size = 0
        if not self.memory:
            for suffix in ("", "-wal"):
                with contextlib.suppress(OSError):
                    size += os.path.getsize(self.path + suffix)
        for name, info in buckets.items():
            info["pending"] = pending.get(name, 0)
            info["rejected"] = rejected.get(name, 0)
        return {"app_id": meta.get("app_id"), "buckets": buckets, "bytes": size}

    # -- objects ------------------------------------------------------------------------------

    def get(self, conn: sqlite3.Connection, bucket: str, item: str) -> ObjectRow | None:
        row = conn.execute(
            "SELECT id, version, data, ghost FROM objects WHERE bucket = ? AND id = ?",
            (bucket, item),
        ).fetchone()
        return None if row is None else ObjectRow(*row)

    def put(
        self, conn: sqlite3.Connection, bucket: str, item: str, version: int, data: str
    ) -> None:
        """Store the server's state of an object as both its ghost and its local state."""
        conn.execute(
            "INSERT INTO objects (bucket, id, version, data, ghost) VALUES (?, ?, ?, ?, NULL) "
            "ON CONFLICT (bucket, id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, ghost = NULL",
            (bucket, item, version, data),
        )

    def put_many(
        self, conn: sqlite3.Connection, bucket: str, rows: Iterable[tuple[str, int, str]]
    ) -> None:
        conn.executemany(
            "INSERT INTO objects (bucket, id, version, data, ghost) VALUES (?, ?, ?, ?, NULL) "
            "ON CONFLICT (bucket, id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, ghost = NULL",
            ((bucket, item, version, data) for item, version, data in rows),
        )

    def put_local(
        self, conn: sqlite3.Connection, bucket: str, item: str, version: int, data: str, ghost: str
    ) -> None:
        """Store a local state that differs from the ghost (``ghost`` at ``version``)."""
        stored_ghost = None if ghost == data else ghost
        conn.execute(
            "INSERT INTO objects (bucket, id, version, data, ghost) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (bucket, id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, ghost = excluded.ghost",
            (bucket, item, version, data, stored_ghost),
        )

    def remove(self, conn: sqlite3.Connection, bucket: str, item: str) -> None:
        conn.execute("DELETE FROM objects WHERE bucket = ? AND id = ?", (bucket, item))

    def ids(self, conn: sqlite3.Connection, bucket: str) -> set[str]:
        return {r[0] for r in conn.execute("SELECT id FROM objects WHERE bucket = ?", (bucket,))}

    def count(self, conn: sqlite3.Connection, bucket: str) -> int:
        row = conn.execute("SELECT COUNT(*) FROM objects WHERE bucket = ?", (bucket,)).fetchone()
        return int(row[0])
