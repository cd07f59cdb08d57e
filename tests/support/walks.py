"""What the walk tests share: the model they walk over, and a walk through ``page()`` cursors."""

from __future__ import annotations

from simperium_orm.orm.model import Model
from simperium_orm.orm.query import QuerySet


class P(Model, bucket="p"):
    i: int
    odd: bool
    tag: str = ""


def pages_from(qs: QuerySet[P], cursor: str | None, limit: int) -> list[P]:
    """Every item of the pages from ``cursor`` on (every page when ``cursor`` is "")."""
    found: list[P] = []
    while cursor is not None:
        page = qs.page(limit=limit, cursor=cursor or None)
        assert len(page.items) <= limit
        found += page.items
        cursor = page.cursor
    return found


def pages(qs: QuerySet[P], limit: int) -> list[P]:
    """Every item of a walk through ``page()`` cursors, from the first page."""
    return pages_from(qs, "", limit)
