"""Reading objects from the replica's file: by id, and by filter in one snapshot.

Rows come out in the order they were first stored (an object keeps its place when it changes,
a new one comes last), so a walk in pages of that order sees every object once. Each read runs
in one SQLite read transaction: a query sees one consistent state of the file.
Rows are validated a page at a time from their JSON text by the scan's fast path (one
validator pass, lazy snapshots), and checked again by the filter's own predicate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm.orm import state
from simperium_orm.orm.lookups import Predicate, Q
from simperium_orm.orm.scan import load_one, load_page
from simperium_orm.replica.sql import index_paths, where_of
from simperium_orm.replica.store import json_path

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model
    from simperium_orm.replica.store import Store

__all__ = ["count", "get", "select"]

M = TypeVar("M", bound="Model")

_CHUNK = 1000


def get(store: Store, model: type[M], item: str, client: Client | None) -> M | None:
    """The object with this id, or None."""
    found = store.query(
        "SELECT rowid, id, version, data FROM objects WHERE bucket = ? AND id = ?",
        (model.bucket_name(), item),
    )
    if not found:
        return None
    _, found_id, version, data = found[0]
    fast = load_one(model, found_id, version, data, client)
    return fast if fast is not None else build(model, found, client)[0]


def select_sql(
    model: type[Model], qs: Sequence[Q], *, after: int = 0, limit: int | None = None
) -> tuple[str, list[Any]]:
    """The statement that reads (rowid, id, version, data) of the rows SQL keeps for ``qs``
    stored after position ``after``, in stored order, and its parameters."""
    where, params = where_of(model, qs)
    # Without a condition an index serves, reading the bucket's rows in file order beats
    # finding them through an index and sorting them ("+" keeps SQLite off the indexes).
    bucket = "bucket" if any(path in where for path in indexed_paths(model)) else "+bucket"
    sql = f"SELECT rowid, id, version, data FROM objects WHERE {bucket} = ? AND ({where})"
    args: list[Any] = [model.bucket_name(), *params]
    if after:  # only for a page walk: a range on the rowid would tempt the planner otherwise
        sql += " AND rowid > ?"
        args.append(after)
    sql += " ORDER BY rowid"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


def indexed_paths(model: type[Model]) -> list[str]:
    """The JSON paths of the fields the model's ``indexes`` names, as SQL conditions spell them."""
    found = []
    for steps in index_paths(model):
        path = json_path(steps)
        if path is not None:
            found.append(f"'{path}'")
    return found


def rows(
    store: Store, model: type[Model], qs: Sequence[Q], *, after: int = 0, limit: int | None = None
) -> list[tuple[int, str, int, str]]:
    """(rowid, id, version, data) of the rows SQL keeps for ``qs``, from one snapshot."""
    return store.query(*select_sql(model, qs, after=after, limit=limit))


def build(
    model: type[M], chunk: Sequence[tuple[int, str, int, str]], client: Client | None
) -> list[M]:
    """Validated objects of stored rows, a page at a time. (Ids need no JSON escaping: the
    protocol's id pattern has no quote, backslash or control character.)"""
    body = (
        '{"index":[' + ",".join(f'{{"id":"{i}","v":{v},"d":{d}}}' for _, i, v, d in chunk) + "]}"
    ).encode()
    fast = load_page(model, body, client)
    if fast is not None:
        return fast[0]
    entries = [{"id": i, "v": v, "d": json.loads(d)} for _, i, v, d in chunk]
    return list(state.load(model, entries, client))


def select(
    store: Store,
    model: type[M],
    qs: Sequence[Q],
    where: Predicate | None,
    client: Client | None,
    *,
    after: int = 0,
) -> Iterator[tuple[int, M]]:
    """(rowid, object) of every object matching ``qs`` (and ``where``) stored after the
    position ``after``, in stored order."""
    found = rows(store, model, qs, after=after)
    for start in range(0, len(found), _CHUNK):
        chunk = found[start : start + _CHUNK]
        for (rowid, *_), obj in zip(chunk, build(model, chunk, client), strict=True):
            if where is None or where(obj):
                yield rowid, obj


def count(store: Store, model: type[Model], qs: Sequence[Q], where: Predicate | None) -> int:
    """How many objects match; a bare ``COUNT`` when there is no filter."""
    if not qs and where is None:
        found = store.query("SELECT COUNT(*) FROM objects WHERE bucket = ?", (model.bucket_name(),))
        return int(found[0][0])
    return sum(1 for _ in select(store, model, qs, where, None))
