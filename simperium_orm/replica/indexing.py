"""Storing index pages and keeping a bucket's expression indexes, in the replica's file."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

from simperium_orm.replica.store_json import json_path
from simperium_orm.replica.tables import Tables

__all__ = ["IndexTables"]


class IndexTables(Tables):
    """Index pages in, and the expression indexes of the ``indexes`` class keyword."""

    def put_page(self, conn: sqlite3.Connection, bucket: str, page: str) -> list[str]:
        """Store the objects of an index page's JSON text as ghosts and local states, parsed by
        SQLite itself (``json_each``); objects with local changes are left alone. The ids
        stored."""
        stored = conn.execute(
            "INSERT INTO objects (bucket, id, version, data, ghost) "
            "SELECT ?, json_extract(value, '$.id'), json_extract(value, '$.v'), "
            "COALESCE(json_extract(value, '$.d'), '{}'), NULL "
            "FROM json_each(?, '$.index') WHERE true "
            "ON CONFLICT (bucket, id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, ghost = NULL "
            "WHERE objects.id NOT IN (SELECT id FROM queue WHERE bucket = objects.bucket) "
            "RETURNING id",
            (bucket, page),
        )
        return [str(row[0]) for row in stored]

    def clear_stage(self, conn: sqlite3.Connection) -> None:
        """Forget what an index that failed midway kept aside."""
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage (id TEXT NOT NULL, v INTEGER, d TEXT NOT NULL)"
        )
        conn.execute("DELETE FROM temp.stage")

    def stage_page(self, conn: sqlite3.Connection, page: str) -> list[str]:
        """Keep an index page's objects aside (a temporary table, in arrival order) until
        :meth:`unstage`: a B-tree takes them far faster sorted by id than as they come."""
        stored = conn.execute(
            "INSERT INTO temp.stage (id, v, d) SELECT json_extract(value, '$.id'), "
            "json_extract(value, '$.v'), COALESCE(json_extract(value, '$.d'), '{}') "
            "FROM json_each(?, '$.index') RETURNING id",
            (page,),
        )
        return [str(row[0]) for row in stored]

    def unstage(self, conn: sqlite3.Connection, bucket: str) -> None:
        """Store the staged objects in id order (the newest version of an id seen twice);
        objects with local changes are left to the caller."""
        conn.execute(
            "INSERT INTO objects (bucket, id, version, data, ghost) "
            "SELECT ?, id, v, d, NULL FROM temp.stage "
            "WHERE id NOT IN (SELECT id FROM queue WHERE bucket = ?) ORDER BY id, v "
            "ON CONFLICT (bucket, id) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, ghost = NULL WHERE excluded.version > objects.version",
            (bucket, bucket),
        )
        conn.execute("DELETE FROM temp.stage")

    def forget_unsent(self, conn: sqlite3.Connection, bucket: str) -> None:
        """Drop a bucket's objects that have no local change (before indexing it anew)."""
        conn.execute(
            "DELETE FROM objects WHERE bucket = ? AND id NOT IN "
            "(SELECT id FROM queue WHERE bucket = ?)",
            (bucket, bucket),
        )

    def ensure_index(self, bucket: str, steps: Sequence[str]) -> str | None:
        """An expression index on the value at ``steps`` in ``bucket``'s objects; its name."""
        path = json_path(steps)
        if path is None:
            return None
        name = "ix_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{bucket}__{'__'.join(steps)}")
        with self.writing() as conn:
            conn.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON objects '
                f"(bucket, json_extract(data, '{path}'))"
            )
        return name

    def drop_indexes(self, conn: sqlite3.Connection, bucket: str) -> list[str]:
        """Drop the bucket's expression indexes; the statements that make them again."""
        prefix = "ix_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{bucket}__")
        found = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'objects' "
            "AND substr(name, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchall()
        for name, _ in found:
            conn.execute(f'DROP INDEX "{name}"')
        return [sql for _, sql in found]
