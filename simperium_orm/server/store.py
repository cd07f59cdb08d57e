"""SQLite storage of the local server: users, tokens, objects, retained versions, change log.

One connection, used only from the server's event-loop thread; each request (or each chunk of
changes of a bulk request, where a refused change writes nothing) is one ``BEGIN IMMEDIATE``
transaction, so nothing is ever half-written. Object
data is stored as compact ASCII JSON text and handed back to clients without re-encoding.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

from simperium_orm.protocol import ZERO_CV

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    userid TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    userid TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_userid ON tokens (userid);
CREATE TABLE IF NOT EXISTS objects (
    userid TEXT NOT NULL, bucket TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL,
    cv TEXT NOT NULL,
    data TEXT,  -- NULL: deleted (the row keeps the version counter)
    PRIMARY KEY (userid, bucket, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_cv ON objects (userid, bucket, cv);
CREATE TABLE IF NOT EXISTS versions (
    userid TEXT NOT NULL, bucket TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (userid, bucket, id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    cv TEXT PRIMARY KEY,
    userid TEXT NOT NULL, bucket TEXT NOT NULL, id TEXT NOT NULL,
    o TEXT NOT NULL, sv INTEGER, ev INTEGER NOT NULL,
    diff TEXT,
    ccid TEXT NOT NULL,
    clientid TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_user ON changes (userid, bucket, cv);
CREATE INDEX IF NOT EXISTS changes_bucket ON changes (bucket, cv);
CREATE INDEX IF NOT EXISTS changes_object ON changes (userid, bucket, id, cv);
CREATE UNIQUE INDEX IF NOT EXISTS changes_ccid ON changes (userid, bucket, ccid);
"""


class CvClock:
    """Issues change versions: 8 hex digits of Unix seconds + a 16-hex-digit counter.

    Strictly increasing, so string order is log order; seeded from the newest stored cv so the
    order survives restarts (and a clock that goes backwards).
    """

    def __init__(self, last: str | None = None) -> None:
        self.seconds, self.counter = (int(last[:8], 16), int(last[8:], 16)) if last else (0, 0)

    def next(self) -> str:
        now = int(time.time())
        if now > self.seconds:
            self.seconds, self.counter = now, 0
        else:
            self.counter += 1
        return f"{self.seconds:08x}{self.counter:016x}"


@dataclass(frozen=True)
class User:
    userid: str
    username: str
    password: str


@dataclass(frozen=True)
class ObjectRow:
    id: str
    version: int
    cv: str
    data: str | None  # None when deleted


@dataclass(frozen=True)
class ChangeRow:
    cv: str
    userid: str
    id: str
    o: str
    sv: int | None
    ev: int
    diff: str | None
    ccid: str
    clientid: str | None


IndexEntry = tuple[str, str, int, str]
"""An index row: position (cv), id, version, data."""

_CHANGE_COLUMNS = "cv, userid, id, o, sv, ev, diff, ccid, clientid"


class Store:
    """All persistent state of one app."""

    def __init__(self, path: str, *, version_max: int = 60, version10_max: int = 100) -> None:
        self.path = path
        self.version_max = version_max
        self.version10_max = version10_max
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        last = self.conn.execute("SELECT max(cv) FROM changes").fetchone()[0]
        self.clock = CvClock(last)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self, *, savepoint: bool = True) -> Iterator[None]:
        """One atomic unit of work: committed on success, rolled back on any exception.

        Nested inside another transaction it is a savepoint: a failure undoes only its own
        work, and the outer transaction (one commit for a whole bulk request) goes on.
        ``savepoint=False`` joins the outer transaction as is, for work that writes nothing
        before it can fail.
        """
        if self.conn.in_transaction and not savepoint:
            yield
            return
        if self.conn.in_transaction:
            self.conn.execute("SAVEPOINT nested")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK TO nested")
                self.conn.execute("RELEASE nested")
                raise
            self.conn.execute("RELEASE nested")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- users and tokens -------------------------------------------------------------------

    def add_user(self, userid: str, username: str, password: str) -> bool:
        """Insert a user; False when the username is taken (case-insensitively)."""
        try:
            self.conn.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)", (userid, username, password, time.time())
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def user_by_name(self, username: str) -> User | None:
        row = self.conn.execute(
            "SELECT userid, username, password FROM users WHERE username = ?", (username,)
        ).fetchone()
        return User(*row) if row else None

    def user_by_id(self, userid: str) -> User | None:
        row = self.conn.execute(
            "SELECT userid, username, password FROM users WHERE userid = ?", (userid,)
        ).fetchone()
        return User(*row) if row else None

    def update_user(self, userid: str, *, username: str, password: str) -> bool:
        """Change name and password hash; False when the new name belongs to someone else."""
        try:
            self.conn.execute(
                "UPDATE users SET username = ?, password = ? WHERE userid = ?",
                (username, password, userid),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def delete_user(self, userid: str) -> None:
        """Remove a user, its tokens and all of its data."""
        for table in ("users", "tokens", "objects", "versions", "changes"):
            self.conn.execute(f"DELETE FROM {table} WHERE userid = ?", (userid,))

    def add_token(self, digest: str, userid: str) -> None:
        self.conn.execute("INSERT INTO tokens VALUES (?, ?, ?)", (digest, userid, time.time()))

    def userid_for_token(self, digest: str) -> str | None:
        row = self.conn.execute("SELECT userid FROM tokens WHERE digest = ?", (digest,)).fetchone()
        return str(row[0]) if row else None

    # -- objects ----------------------------------------------------------------------------

    def get_object(self, userid: str, bucket: str, item: str) -> ObjectRow | None:
        row = self.conn.execute(
            "SELECT id, version, cv, data FROM objects WHERE userid = ? AND bucket = ? AND id = ?",
            (userid, bucket, item),
        ).fetchone()
        return ObjectRow(*row) if row else None

    def get_version(self, userid: str, bucket: str, item: str, version: int) -> str | None:
        row = self.conn.execute(
            "SELECT data FROM versions WHERE userid = ? AND bucket = ? AND id = ? AND version = ?",
            (userid, bucket, item, version),
        ).fetchone()
        return str(row[0]) if row else None

    def versions_from(
        self, userid: str, bucket: str, item: str, version: int
    ) -> list[tuple[int, str]]:
        """The retained versions ``>= version``, oldest first, as ``(version, data)``."""
        return self.conn.execute(
            "SELECT version, data FROM versions"
            " WHERE userid = ? AND bucket = ? AND id = ? AND version >= ? ORDER BY version",
            (userid, bucket, item, version),
        ).fetchall()

    def ccid_seen(self, userid: str, bucket: str, ccid: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM changes WHERE userid = ? AND bucket = ? AND ccid = ?",
            (userid, bucket, ccid),
        ).fetchone()
        return row is not None

    def record(
        self,
        userid: str,
        bucket: str,
        item: str,
        *,
        o: str,
        sv: int | None,
        ev: int,
        diff: str | None,
        data: str | None,
        ccid: str,
        clientid: str | None,
    ) -> str:
        """Write one change: log entry, new head (``data=None`` deletes) and version; its cv."""
        cv = self.clock.next()
        key = (userid, bucket, item)
        self.conn.execute(
            f"INSERT INTO changes ({_CHANGE_COLUMNS}, bucket) VALUES ({', '.join('?' * 10)})",
            (cv, userid, item, o, sv, ev, diff, ccid, clientid, bucket),
        )
        self.conn.execute(
            "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)", (*key, ev, cv, data)
        )
        if data is None:
            self.conn.execute(
                "DELETE FROM versions WHERE userid = ? AND bucket = ? AND id = ?", key
            )
            return cv
        self.conn.execute(
            "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?)", (*key, ev, data)
        )
        threshold = ev - self.version_max  # versions above it are kept contiguously
        if threshold >= 1:
            # Below it only every 10th version survives, and only the newest version10_max.
            floor10 = 10 * (threshold // 10 - self.version10_max)
            self.conn.execute(
                "DELETE FROM versions WHERE userid = ? AND bucket = ? AND id = ?"
                " AND version <= ? AND (version % 10 != 0 OR version <= ?)",
                (*key, threshold, floor10),
            )
        return cv

    # -- reading the log --------------------------------------------------------------------

    def head_cv(self, userid: str, bucket: str) -> str:
        row = self.conn.execute(
            "SELECT max(cv) FROM changes WHERE userid = ? AND bucket = ?", (userid, bucket)
        ).fetchone()
        return str(row[0]) if row[0] else ZERO_CV

    def knows_cv(self, cv: str, bucket: str, userid: str | None) -> bool:
        """Whether ``cv`` is a position of this bucket's log (of one user, or of all)."""
        if cv == ZERO_CV:
            return True
        sql = "SELECT 1 FROM changes WHERE cv = ? AND bucket = ? AND (? IS NULL OR userid = ?)"
        return self.conn.execute(sql, (cv, bucket, userid, userid)).fetchone() is not None

    def changes_after(
        self, bucket: str, userid: str | None, cv: str, limit: int
    ) -> list[ChangeRow]:
        """Up to ``limit`` log entries after ``cv``, oldest first (one user's, or everyone's)."""
        if userid is None:
            where, args = "bucket = ? AND cv > ?", [bucket, cv, limit]
        else:
            where, args = "userid = ? AND bucket = ? AND cv > ?", [userid, bucket, cv, limit]
        rows = self.conn.execute(
            f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE {where} ORDER BY cv LIMIT ?", args
        ).fetchall()
        return [ChangeRow(*row) for row in rows]

    def current_data(self, userid: str, bucket: str, item: str) -> str | None:
        row = self.get_object(userid, bucket, item)
        return row.data if row else None

    def username_of(self, userid: str) -> str | None:
        user = self.user_by_id(userid)
        return user.username if user else None

    # -- index ------------------------------------------------------------------------------

    def index_page(
        self,
        userid: str,
        bucket: str,
        *,
        snapshot: str,
        upto: str | None,
        since: str | None,
        limit: int,
    ) -> list[IndexEntry]:
        """Up to ``limit + 1`` live objects, newest first, as ``(position, id, version, data)``.

        An object's position is the cv of its last change as of ``snapshot`` (the bucket head
        when paging began), so objects changed while a client pages keep their place and each
        object is listed once. Only positions ``<= upto`` and ``> since`` are listed.
        """
        top = snapshot if upto is None else min(upto, snapshot)
        low = since or ""
        page: list[IndexEntry] = self.conn.execute(
            "SELECT cv, id, version, data FROM objects WHERE userid = ? AND bucket = ?"
            " AND data IS NOT NULL AND cv <= ? AND cv > ? ORDER BY cv DESC LIMIT ?",
            (userid, bucket, top, low, limit + 1),
        ).fetchall()
        moved = self.conn.execute(
            "SELECT id, version, data FROM objects WHERE userid = ? AND bucket = ?"
            " AND data IS NOT NULL AND cv > ?",
            (userid, bucket, snapshot),
        ).fetchall()
        if not moved:
            return page
        for item, version, data in moved:
            before = self.conn.execute(
                "SELECT cv, o FROM changes WHERE userid = ? AND bucket = ? AND id = ?"
                " AND cv <= ? ORDER BY cv DESC LIMIT 1",
                (userid, bucket, item, snapshot),
            ).fetchone()
            if before and before[1] != "-" and low < before[0] <= top:
                page.append((before[0], item, version, data))
        page.sort(reverse=True)
        return page[: limit + 1]
