"""Remote versions applied and not yet signalled, in the replica's file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simperium_orm.replica.tables import Tables

__all__ = ["Event", "EventTables"]


@dataclass(frozen=True)
class Event:
    """A remote version applied and not yet signalled."""

    seq: int
    bucket: str
    id: str
    version: int | None
    kind: str  # "created", "updated", "deleted"
    fields: list[str] | None
    change: dict[str, Any]
    data: str | None


class EventTables(Tables):
    """The ``events`` table: a signal per version, deleted once sent."""

    def add_event(
        self,
        conn: sqlite3.Connection,
        bucket: str,
        item: str,
        version: int | None,
        kind: str,
        fields: Iterable[str] | None,
        change: Mapping[str, Any],
        data: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (bucket, id, version, kind, fields, change, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                bucket,
                item,
                version,
                kind,
                None if fields is None else json.dumps(sorted(fields)),
                json.dumps(change, separators=(",", ":")),
                data,
            ),
        )

    def events(self, bucket: str, limit: int = 1000) -> list[Event]:
        """A bucket's oldest pending signals, in the order their versions were applied."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT seq, bucket, id, version, kind, fields, change, data FROM events "
                "WHERE bucket = ? ORDER BY seq LIMIT ?",
                (bucket, limit),
            ).fetchall()
        return [
            Event(
                seq,
                bucket,
                item,
                version,
                kind,
                None if f is None else json.loads(f),
                json.loads(change),
                data,
            )
            for seq, bucket, item, version, kind, f, change, data in rows
        ]

    def done(self, seq: int) -> None:
        """The signal of event ``seq`` was sent."""
        with self.writing() as conn:
            conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
