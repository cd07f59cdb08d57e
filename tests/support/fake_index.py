"""A bucket's index as Simperium serves it, in memory, with writes between requests.

Objects are listed most recently changed first; a page says ``current`` (the head cv) and,
while more remain, the ``mark`` of the next page; ``since`` lists only objects changed after a
cv. Two ways to continue from a mark:

* ``pinned``: the mark keeps the index version of the walk's first page, as the local server
  does (objects changed since keep their place, with their current data);
* ``live``: the mark is only a position in the index as it is now, so an object changed since
  has left its place for the front (what a server without snapshots would do).

``after_request`` runs after each request is answered (``hook(n)``, n counting from 1): the
place where a test's "other client" writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

Mode = Literal["pinned", "live"]


def cv(n: int) -> str:
    return f"{n:024x}"


class FakeIndex:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.clock = 0
        # id -> list of (cv, version, data or None for a delete), oldest first
        self.history: dict[str, list[tuple[int, int, dict[str, Any] | None]]] = {}
        self.requests = 0
        self.after_request: Callable[[int], None] | None = None

    # -- writes --------------------------------------------------------------------------------

    def put(self, item: str, data: dict[str, Any]) -> int:
        """Create or change an object; its new version."""
        self.clock += 1
        versions = self.history.setdefault(item, [])
        version = versions[-1][1] + 1 if versions else 1
        versions.append((self.clock, version, dict(data)))
        return version

    def remove(self, item: str) -> None:
        self.clock += 1
        versions = self.history[item]
        versions.append((self.clock, versions[-1][1] + 1, None))

    def alive(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """The objects that exist now: id -> (version, data)."""
        return {
            item: (v[-1][1], v[-1][2]) for item, v in self.history.items() if v[-1][2] is not None
        }

    # -- reads -----------------------------------------------------------------------------------

    def _listing(self, snapshot: int) -> list[tuple[int, str]]:
        """(position, id) of the objects alive now and at ``snapshot``, newest first, each at
        its position as of ``snapshot``."""
        rows = []
        for item, versions in self.history.items():
            if versions[-1][2] is None:
                continue
            before = [v for v in versions if v[0] <= snapshot]
            if before and before[-1][2] is not None:
                rows.append((before[-1][0], item))
        return sorted(rows, reverse=True)

    def index(
        self,
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> dict[str, Any]:
        limit = limit or 100
        head = self.clock
        if mark is None:
            snapshot, upto = head, head
        else:
            position, _, pinned = mark.partition(":")
            upto = int(position, 16)
            snapshot = int(pinned, 16) if pinned else head
        low = int(since, 16) if since else 0
        rows = [(p, i) for p, i in self._listing(snapshot) if low < p <= upto]
        alive = self.alive()
        body: dict[str, Any] = {"current": cv(snapshot), "index": []}
        for _, item in rows[:limit]:
            version, current = alive[item]
            body["index"].append({"id": item, "v": version, **({"d": current} if data else {})})
        if len(rows) > limit:
            following = cv(rows[limit][0])
            body["mark"] = f"{following}:{cv(snapshot)}" if self.mode == "pinned" else following
        self.requests += 1
        if self.after_request is not None:
            self.after_request(self.requests)
        return body

    def index_raw(self, **kwargs: Any) -> bytes:
        return json.dumps(self.index(**kwargs)).encode()

    def bulk_post(self, changes: list[dict[str, Any]], wait: bool = True) -> list[Any]:
        raise AssertionError("this fake only reads")


class FakeClient:
    """What a QuerySet asks of a client: its buckets (all the one fake index)."""

    def __init__(self, index: FakeIndex) -> None:
        self.index = index

    def bucket(self, name: str) -> FakeIndex:
        return self.index
