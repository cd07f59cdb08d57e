"""``QuerySet``: a lazy, immutable, chainable query over a model's bucket, and ``Page``.

Simperium has no server-side query. A QuerySet walks the bucket's index with ``data=1``, one
server page at a time, builds each object and keeps those its filters match, so memory holds
one server page however large the bucket is; nothing is cached, and each evaluation reads the
index again. Only ``order_by`` reads every match before yielding the first. A walk yields each
object once even while other clients write (see walk.py). The calls that write (``update``,
``delete``, ``get_or_create``, ``update_or_create``) live in writes.py.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from simperium_orm import errors
from simperium_orm.client import Client, default_client
from simperium_orm.orm import cursor as cursors
from simperium_orm.orm import state, walker
from simperium_orm.orm.effects import (
    Emit,
    Fetch,
    Pull,
    Steps,
    arun,
    astream,
    collect,
    run,
    stream,
    tally,
)
from simperium_orm.orm.fieldtypes import incomparable
from simperium_orm.orm.lookups import MISSING, FieldPath, Predicate, Q, compile_q, resolve_path
from simperium_orm.orm.queryrows import QueryRows
from simperium_orm.orm.querywrites import QueryWrites
from simperium_orm.orm.walk import Walk
from simperium_orm.protocol import check_id

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model

__all__ = ["DEFAULT_PAGE_SIZE", "Page", "QuerySet"]

M = TypeVar("M", bound="Model")
T = TypeVar("T")

DEFAULT_PAGE_SIZE = 1000  # the most objects one index request returns
IN_BULK_FETCH_MAX = 25  # in_bulk() reads this many ids one by one; more by one walk


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of results: ``items``, and the ``cursor`` that resumes after them.

    ``cursor`` is an opaque string (None when the walk is over); pass it to the same query's
    ``page()``. With filters, or when objects moved while you paged, a page may hold fewer
    items than asked (the last one may be empty).
    """

    items: list[M]
    cursor: str | None

    def __iter__(self) -> Iterator[M]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _check_page_size(page_size: int) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise ValueError(f"page_size must be an integer from 1 to 1000, got {page_size!r}")
    return page_size


class QuerySet(QueryRows[M], QueryWrites[M]):
    """The objects of a model's bucket that match some filters (client-side; see module doc).

    ``filter``/``exclude``/``order_by``/``using`` and slicing return new querysets; iterating,
    ``count()``, ``first()``, ``exists()``, ``get()``, ``values()``, ``page()``... run it.
    """

    def __init__(self, model: type[M], client: Client | None = None) -> None:
        self.model = model
        self._client = client
        self._where: Predicate | None = None
        self._filters: tuple[Q, ...] = ()  # what _where was compiled from
        self._order: tuple[tuple[FieldPath, bool], ...] = ()
        self._start = 0
        self._stop: int | None = None
        self._page_size = DEFAULT_PAGE_SIZE

    def __repr__(self) -> str:
        parts = [self.model.__name__]
        if self._where is not None:
            parts.append("filtered")
        if self._order:
            parts.append(
                "ordered by " + ", ".join(("-" if d else "") + p.label for p, d in self._order)
            )
        if self._sliced_at():
            parts.append(f"[{self._start}:{'' if self._stop is None else self._stop}]")
        return f"<QuerySet {' '.join(parts)}>"

    # -- building (each returns a new QuerySet) -----------------------------------------------

    def _clone(self) -> QuerySet[M]:
        return copy.copy(self)

    def _sliced_at(self) -> bool:
        return bool(self._start) or self._stop is not None

    def _check_unsliced(self, action: str) -> None:
        if self._sliced_at():
            raise TypeError(f"cannot {action} a queryset once it has been sliced")

    def all(self) -> QuerySet[M]:
        """A copy of this queryset."""
        return self._clone()

    def filter(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Keep the objects matching every lookup (``title__startswith="m"``) and ``Q``.

        Lookups are checked now: an unknown field or lookup raises ``InvalidLookup``.
        Filtering runs in the client over the index pages (Simperium has no query API).
        """
        q = Q(*args, **lookups)
        return self._and(compile_q(self.model, q), "filter", q)

    def exclude(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Drop the objects matching all of the lookups (``NOT (a AND b)``)."""
        q = ~Q(*args, **lookups)
        return self._and(compile_q(self.model, q), "exclude", q)

    def _and(self, pred: Predicate, action: str, q: Q) -> QuerySet[M]:
        self._check_unsliced(action)
        new = self._clone()
        old = self._where
        new._where = pred if old is None else (lambda obj: old(obj) and pred(obj))
        new._filters = (*self._filters, q)
        return new

    def order_by(self, *fields: str) -> QuerySet[M]:
        """Sort by field paths (``"-title"`` descending); ``order_by()`` removes the order.

        Sorting reads every matching object into memory first. None (or a missing key) sorts
        before every value ascending, after every value descending.
        """
        self._check_unsliced("order")
        order = []
        for name in fields:
            desc = name.startswith("-")
            path = name[1:] if desc else name
            order.append((resolve_path(self.model, path.split("__"), f"order_by({name!r})"), desc))
        new = self._clone()
        new._order = tuple(order)
        return new

    def using(self, client: Client | Any) -> QuerySet[M]:
        """The same query through another client (another user or app), or a replica."""
        if hasattr(client, "queryset_for"):
            return client.queryset_for(self)  # type: ignore[no-any-return]
        new: QuerySet[M] = QuerySet(self.model, client)
        new.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in ("_client", "_replica")}
        )
        return new

    @overload
    def __getitem__(self, k: int) -> M: ...

    @overload
    def __getitem__(self, k: slice) -> QuerySet[M]: ...

    def __getitem__(self, k: int | slice) -> M | QuerySet[M]:
        """``qs[i]`` runs the query up to the i-th object; ``qs[a:b]`` is a new queryset."""
        if isinstance(k, slice):
            if k.step not in (None, 1):
                raise ValueError("querysets cannot be sliced with a step")
            start, stop = k.start or 0, k.stop
            if start < 0 or (stop is not None and stop < 0):
                raise ValueError("querysets do not support negative indexes (they stream)")
            return self._sliced(start, stop)
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"queryset indexes are integers or slices, not {type(k).__name__}")
        if k < 0:
            raise ValueError("querysets do not support negative indexes (they stream)")
        for obj in self._sliced(k, k + 1):
            return obj
        raise IndexError(f"{self.model.__name__} queryset index {k} out of range")

    def _sliced(self, start: int, stop: int | None) -> QuerySet[M]:
        new = self._clone()
        new._start = self._start + start
        ends = [
            e for e in (self._stop, None if stop is None else self._start + stop) if e is not None
        ]
        new._stop = min(ends) if ends else None
        if new._stop is not None:
            new._start = min(new._start, new._stop)
        return new

    # -- running --------------------------------------------------------------------------------

    def _resolve_client(self) -> Client:
        return self._client or default_client()

    # Every call that reads is written once, as steps (see effects.py): ``count()`` runs
    # ``self._count()`` with blocking I/O, ``acount()`` the same steps awaited.

    def _matches(self, size: int | None = None, *, read_ahead: bool = False) -> Steps[None]:
        """Emits every matching object once, in index order (newest change first), a page at a
        time. With ``read_ahead`` (for callers that will read to the end) the next page is
        requested while this one is validated; see readahead.py.
        """
        client = self._resolve_client()
        size = size or self._page_size
        return walker.objects(self.model, client, self._where, size=size, read_ahead=read_ahead)

    def _ids(self, size: int) -> Steps[None]:
        """Emits every object's id once, from pages without the data (for a queryset without
        filter)."""
        return walker.ids(self._resolve_client(), self.model.bucket_name(), size=size)

    def _selected(self) -> Steps[None]:
        """Emits the queryset's objects: ordered, sliced."""
        if self._order:
            everything = yield from self._ordered()
            yield Emit(everything[self._start : self._stop])
            return
        start, stop = self._start, self._stop
        if stop is not None and stop <= start:
            return
        # Read ahead only when the caller takes everything (a slice may stop inside a page).
        matches = self._matches(read_ahead=stop is None)
        if not start and stop is None:
            yield from matches
            return
        if stop is None:
            skipped = Pull(matches)
            yield from skipped.batch(start)
            while True:
                more = yield from skipped.batch(DEFAULT_PAGE_SIZE)
                if not more:
                    return
                yield Emit(more)
        got = yield from collect(matches, stop)
        yield Emit(got[start:])

    def __iter__(self) -> Iterator[M]:
        return stream(self._selected())

    async def __aiter__(self) -> AsyncIterator[M]:
        """``async for obj in qs``: the objects, as iterating gives them."""
        async for obj in astream(self._selected()):
            yield obj

    def __bool__(self) -> bool:
        return self.exists()

    def iterate(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[M]:
        """Iterate, fetching ``page_size`` objects per index request (at most 1000)."""
        return iter(self._with_page_size(page_size))

    def aiterate(self, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[M]:
        """:meth:`iterate` for ``async for``."""
        return self._with_page_size(page_size).__aiter__()

    def _with_page_size(self, page_size: int) -> QuerySet[M]:
        new = self._clone()
        new._page_size = _check_page_size(page_size)
        return new

    def _ordered(self) -> Steps[list[M]]:
        items: list[M] = yield from collect(self._matches(read_ahead=True))
        for path, desc in reversed(self._order):  # stable sorts, last key first
            key = _sort_key(path)
            try:
                items.sort(key=key, reverse=desc)
            except TypeError:
                why = incomparable(v for v in map(path.get, items) if v not in (None, MISSING))
                raise errors.IncomparableValues(
                    f"cannot order {self.model.__name__} by {path.label!r}: {why}"
                ) from None
        return items

    def count(self) -> int:
        """How many objects match (reads the index; without filters, without the data)."""
        return run(self._count())

    async def acount(self) -> int:
        """:meth:`count`, awaited."""
        return await arun(self._count())

    def _count(self) -> Steps[int]:
        if self._where is None:
            total = yield from tally(self._ids(DEFAULT_PAGE_SIZE))
        else:
            total = yield from tally(self._matches(read_ahead=True))
        end = total if self._stop is None else min(total, self._stop)
        return max(0, end - self._start)

    def exists(self) -> bool:
        """Whether any object matches; stops at the first one."""
        return run(self._exists())

    async def aexists(self) -> bool:
        """:meth:`exists`, awaited."""
        return await arun(self._exists())

    def _exists(self) -> Steps[bool]:
        if self._stop is not None and self._stop <= self._start:
            return False
        want = self._start + 1
        found = self._ids(min(want, DEFAULT_PAGE_SIZE)) if self._where is None else self._matches()
        got = yield from tally(found, want)
        return got >= want

    def first(self) -> M | None:
        """The first matching object (in index order, or ``order_by`` order), or None."""
        return run(self._first())

    async def afirst(self) -> M | None:
        """:meth:`first`, awaited."""
        return await arun(self._first())

    def _first(self) -> Steps[M | None]:
        found = yield from collect(self._sliced(0, 1)._selected(), 1)
        return found[0] if found else None

    # -- single objects -------------------------------------------------------------------------

    def get(self, *args: Q, **lookups: Any) -> M:
        """The one object matching the lookups (and this queryset's filters).

        ``Model.DoesNotExist`` when none matches, ``MultipleObjectsReturned`` when more than
        one does. With ``id=...`` among the lookups, the object is read by its id (one request)
        and the other lookups are checked on it; otherwise the query walks the index.
        """
        return run(self._get(args, lookups))

    async def aget(self, *args: Q, **lookups: Any) -> M:
        """:meth:`get`, awaited."""
        return await arun(self._get(args, lookups))

    def _get(self, args: tuple[Q, ...], lookups: dict[str, Any]) -> Steps[M]:
        qs = self.filter(*args, **lookups) if args or lookups else self
        wanted = lookups.get("id")
        if isinstance(wanted, str) and not args and not qs._sliced_at():
            fetched = yield from qs._fetched([wanted])
            found = [obj for obj in fetched if qs._where is None or qs._where(obj)]
        else:
            found = yield from collect(qs._selected(), 2)
        described = ", ".join(sorted(lookups)) or "no lookups"
        if not found:
            raise self.model.DoesNotExist(
                f"no {self.model.__name__} matches the query ({described})"
            )
        if len(found) > 1:
            raise errors.MultipleObjectsReturned(
                f"get() found more than one {self.model.__name__} matching the query ({described})"
            )
        return found[0]

    def _fetch(self, item: str) -> Steps[M]:
        """The object with this id, read directly (one request, filters not applied);
        ``NotFound`` when there is none."""
        client = self._resolve_client()
        doc = yield Fetch(client, self.model.bucket_name(), check_id(item))
        return next(
            state.load(self.model, [{"id": doc.id, "v": doc.version, "d": doc.data}], client)
        )

    def _fetched(self, items: Iterable[str]) -> Steps[list[M]]:
        """The objects with these ids that exist, read one by one."""
        found = []
        for item in items:
            try:
                obj = yield from self._fetch(item)
            except errors.NotFound:
                continue
            found.append(obj)
        return found

    def in_bulk(self, ids: Iterable[str] | None = None) -> dict[str, M]:
        """The matching objects among ``ids`` (all of them when None), by id.

        Up to 25 ids are read one by one (a request each); more by one walk over the index.
        Ids that match nothing are left out.
        """
        return run(self._in_bulk(ids))

    async def ain_bulk(self, ids: Iterable[str] | None = None) -> dict[str, M]:
        """:meth:`in_bulk`, awaited."""
        return await arun(self._in_bulk(ids))

    def _in_bulk(self, ids: Iterable[str] | None) -> Steps[dict[str, M]]:
        self._check_unsliced("in_bulk")
        if ids is None:
            everything: list[M] = yield from collect(self._selected())
            return {obj.id: obj for obj in everything if obj.id is not None}
        if isinstance(ids, str):
            raise TypeError("in_bulk() takes an iterable of ids, not a str")
        wanted = list(dict.fromkeys(check_id(item) for item in ids))
        if len(wanted) > IN_BULK_FETCH_MAX:
            found: list[M] = yield from collect(self.filter(id__in=wanted)._selected())
            return {obj.id: obj for obj in found if obj.id is not None}
        where = self._where
        fetched = yield from self._fetched(wanted)
        return {o.id: o for o in fetched if o.id and (where is None or where(o))}

    # -- pages ----------------------------------------------------------------------------------

    def page(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """Up to ``limit`` matching objects and a cursor that resumes exactly after them.

        Unordered, the walk reads the index from server marks and carries the ids it returned,
        so no object is repeated or lost while other clients write (see walk.py); with
        ``order_by``, the matches are read and sorted again for each page and the ones already
        returned are left out.
        """
        return run(self._page(limit, cursor))

    async def apage(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """:meth:`page`, awaited."""
        return await arun(self._page(limit, cursor))

    def _page(self, limit: int, cursor: str | None) -> Steps[Page[M]]:
        self._check_unsliced("page")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        resumed = None if cursor is None else cursors.decode(cursor)
        if resumed is not None and (resumed.kind == "ordered") != bool(self._order):
            raise ValueError("this cursor comes from a query with another ordering")
        if self._order:
            seen = set() if resumed is None else resumed.walk.yielded()
            everything = yield from self._ordered()
            fresh = [obj for obj in everything if obj.id not in seen]
            if len(fresh) <= limit:
                return Page(fresh, None)
            seen.update(obj.id for obj in fresh[:limit] if obj.id is not None)
            return Page(fresh[:limit], cursors.encode(cursors.Cursor("ordered", Walk(seen=seen))))
        if resumed is None:
            # Unfiltered, a server page per user page keeps each page on one request.
            size = min(limit, DEFAULT_PAGE_SIZE) if self._where is None else self._page_size
            resumed = cursors.Cursor("index", Walk(), size)
        walk, client = resumed.walk, self._resolve_client()
        items = yield from walker.page(
            self.model, client, self._where, walk, limit=limit, size=resumed.size
        )
        return Page(items, None if walk.done else cursors.encode(resumed))


def _sort_key(path: FieldPath) -> Callable[[Any], tuple[int, Any]]:
    def key(obj: Any) -> tuple[int, Any]:
        value = path.get(obj)
        return (0, 0) if value is None or value is MISSING else (1, value)

    return key
