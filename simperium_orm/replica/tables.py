"""The base of the replica file's table modules (queue, indexing, events)."""

from __future__ import annotations

import contextlib
import sqlite3

__all__ = ["Tables"]


class Tables:
    """What the table modules need of the store: a snapshot to read and a transaction."""

    def reading(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError
