"""Index pages, for the HTTP ``GET index`` and the websocket ``i:`` command alike.

A mark is the position of the next object, then the bucket's head when paging began (its
snapshot): 48 hex digits with no ``:``, so it also fits the websocket's ``:``-separated
arguments. Every page of one walk reports that same snapshot as ``current``, and a ``mark``
only while a non-empty page follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from simperium_orm.protocol import CV_PATTERN
from simperium_orm.server.store import Store

__all__ = ["IndexPage", "InvalidMark", "read_page"]


class InvalidMark(ValueError):
    """A mark this server did not give out."""


@dataclass(frozen=True)
class IndexPage:
    """One page as JSON text, the ``(id, version)`` it lists, the walk's snapshot and the
    mark of the next page (None: the walk ends here)."""

    text: str
    listed: list[tuple[str, int]]
    snapshot: str
    mark: str | None


def _bounds(mark: str | None, head: str) -> tuple[str | None, str]:
    """``(upto, snapshot)`` of a mark; a plain 24-digit cv is the objects changed up to it."""
    if mark is None:
        return None, head
    if not (
        CV_PATTERN.fullmatch(mark[:24]) and (len(mark) == 24 or CV_PATTERN.fullmatch(mark[24:]))
    ):
        raise InvalidMark("invalid mark")
    return mark[:24], (mark[24:] or head)


def read_page(
    store: Store,
    userid: str,
    bucket: str,
    *,
    data: bool,
    mark: str | None,
    since: str | None,
    limit: int,
    max_bytes: int | None = None,
) -> IndexPage:
    """Up to ``limit`` live objects after ``mark``, newest first.

    With ``max_bytes`` a page stops early once its entries would pass that many bytes (a
    websocket client may cap message sizes); it always lists at least one entry.
    :class:`InvalidMark` for a mark this server did not give out.
    """
    upto, snapshot = _bounds(mark, store.head_cv(userid, bucket))
    rows = store.index_page(userid, bucket, snapshot=snapshot, upto=upto, since=since, limit=limit)
    # Ids are plain ASCII (checked on write) and data is stored as JSON: splice, not encode.
    entries: list[str] = []
    size = 0
    for _, item, version, text in rows[:limit]:
        entry = (
            f'{{"id":"{item}","v":{version},"d":{text}}}'
            if data
            else (f'{{"id":"{item}","v":{version}}}')
        )
        size += len(entry) + 1
        if max_bytes is not None and entries and size > max_bytes:
            break
        entries.append(entry)
    listed = [(item, version) for _, item, version, _ in rows[: len(entries)]]
    text = f'{{"current":"{snapshot}","index":[{",".join(entries)}]'
    next_mark = None
    if len(rows) > len(entries):
        next_mark = f"{rows[len(entries)][0]}{snapshot}"
        text += f',"mark":"{next_mark}"'
    return IndexPage(text + "}", listed, snapshot, next_mark)
