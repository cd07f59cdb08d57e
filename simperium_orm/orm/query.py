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
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from simperium_orm import errors
from simperium_orm.client import Client, default_client
from simperium_orm.orm import cursor as cursors
from simperium_orm.orm import state, walker, writes
from simperium_orm.orm.fieldtypes import incomparable
from simperium_orm.orm.lookups import MISSING, FieldPath, Predicate, Q, compile_q, resolve_path
from simperium_orm.orm.walk import Walk
from simperium_orm.protocol import check_id

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model
    from simperium_orm.wire.bucket import Bucket

__all__ = ["DEFAULT_PAGE_SIZE", "Page", "QuerySet"]

M = TypeVar("M", bound="Model")

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


class QuerySet(Generic[M]):
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

    def _bucket(self, client: Client) -> Bucket:
        return client.bucket(self.model.bucket_name())

    def _matches(self, size: int | None = None, *, read_ahead: bool = False) -> Iterator[M]:
        """Every matching object once, in index order (newest change first), a page at a time.

        With ``read_ahead`` (for callers that will read to the end) the next page is requested
        while this one is validated; see readahead.py.
        """
        client = self._resolve_client()
        size = size or self._page_size
        return walker.objects(self.model, client, self._where, size=size, read_ahead=read_ahead)

    def _ids(self, size: int) -> Iterator[str]:
        """Every object's id once, from pages without the data (for a queryset without filter)."""
        return walker.ids(self._bucket(self._resolve_client()), size=size)

    def __iter__(self) -> Iterator[M]:
        if self._order:
            return iter(self._ordered()[self._start : self._stop])
        # Read ahead only when the caller takes everything (a slice may stop inside a page).
        matches = self._matches(read_ahead=self._stop is None)
        return itertools.islice(matches, self._start, self._stop)

    def __bool__(self) -> bool:
        return self.exists()

    def iterate(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[M]:
        """Iterate, fetching ``page_size`` objects per index request (at most 1000)."""
        new = self._clone()
        new._page_size = _check_page_size(page_size)
        return iter(new)

    def _ordered(self) -> list[M]:
        items = list(self._matches(read_ahead=True))
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
        if self._where is None:
            total = sum(1 for _ in self._ids(DEFAULT_PAGE_SIZE))
        else:
            total = sum(1 for _ in self._matches(read_ahead=True))
        end = total if self._stop is None else min(total, self._stop)
        return max(0, end - self._start)

    def exists(self) -> bool:
        """Whether any object matches; stops at the first one."""
        if self._stop is not None and self._stop <= self._start:
            return False
        found: Iterator[object]
        if self._where is None:
            found = self._ids(min(self._start + 1, DEFAULT_PAGE_SIZE))
        else:
            found = self._matches()
        return next(itertools.islice(found, self._start, None), None) is not None

    def first(self) -> M | None:
        """The first matching object (in index order, or ``order_by`` order), or None."""
        for obj in self._sliced(0, 1):
            return obj
        return None

    # -- single objects -------------------------------------------------------------------------

    def get(self, *args: Q, **lookups: Any) -> M:
        """The one object matching the lookups (and this queryset's filters).

        ``Model.DoesNotExist`` when none matches, ``MultipleObjectsReturned`` when more than
        one does. With ``id=...`` among the lookups, the object is read by its id (one request)
        and the other lookups are checked on it; otherwise the query walks the index.
        """
        qs = self.filter(*args, **lookups) if args or lookups else self
        wanted = lookups.get("id")
        if isinstance(wanted, str) and not args and not qs._sliced_at():
            found = [obj for obj in qs._fetched([wanted]) if qs._where is None or qs._where(obj)]
        else:
            found = list(itertools.islice(iter(qs), 2))
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

    def _fetch(self, item: str) -> M:
        """The object with this id, read directly (one request, filters not applied);
        ``NotFound`` when there is none."""
        client = self._resolve_client()
        doc = self._bucket(client).fetch(check_id(item))
        return next(
            state.load(self.model, [{"id": doc.id, "v": doc.version, "d": doc.data}], client)
        )

    def _fetched(self, items: Iterable[str]) -> Iterator[M]:
        """The objects with these ids that exist, read one by one."""
        for item in items:
            try:
                obj = self._fetch(item)
            except errors.NotFound:
                continue
            yield obj

    def in_bulk(self, ids: Iterable[str] | None = None) -> dict[str, M]:
        """The matching objects among ``ids`` (all of them when None), by id.

        Up to 25 ids are read one by one (a request each); more by one walk over the index.
        Ids that match nothing are left out.
        """
        self._check_unsliced("in_bulk")
        if ids is None:
            return {obj.id: obj for obj in self if obj.id is not None}
        if isinstance(ids, str):
            raise TypeError("in_bulk() takes an iterable of ids, not a str")
        wanted = list(dict.fromkeys(check_id(item) for item in ids))
        if len(wanted) > IN_BULK_FETCH_MAX:
            return {obj.id: obj for obj in self.filter(id__in=wanted) if obj.id is not None}
        where = self._where
        return {o.id: o for o in self._fetched(wanted) if o.id and (where is None or where(o))}

    # -- rows -----------------------------------------------------------------------------------

    def values(self, *fields: str) -> Iterator[dict[str, Any]]:
        """Dicts of the given field paths (``id``, ``version`` and ``a__b`` allowed) per object.

        Without fields: ``id``, ``version`` and every field.
        """
        paths = self._paths("values", fields)

        def rows() -> Iterator[dict[str, Any]]:
            for obj in self:
                if not paths:
                    yield {"id": obj.id, "version": obj.version, **obj.model_dump()}
                else:
                    yield {p.label: _value_of(p, obj) for p in paths}

        return rows()

    @overload
    def values_list(self, field: str, /, *, flat: Literal[True]) -> Iterator[Any]: ...

    @overload
    def values_list(
        self, *fields: str, flat: Literal[False] = False
    ) -> Iterator[tuple[Any, ...]]: ...

    @overload
    def values_list(self, *fields: str, flat: bool) -> Iterator[Any]: ...

    def values_list(self, *fields: str, flat: bool = False) -> Iterator[Any]:
        """Tuples of the given field paths per object; ``flat=True`` with one field: its values.

        Without fields: ``id``, ``version`` and every field, in declaration order.
        """
        if flat and len(fields) != 1:
            raise TypeError("values_list(flat=True) takes exactly one field")
        paths = self._paths("values_list", fields or ("id", "version", *self.model.model_fields))

        def rows() -> Iterator[Any]:
            for obj in self:
                row = tuple(_value_of(p, obj) for p in paths)
                yield row[0] if flat else row

        return rows()

    def _paths(self, call: str, fields: Iterable[str]) -> list[FieldPath]:
        return [resolve_path(self.model, f.split("__"), f"{call}({f!r})") for f in fields]

    # -- pages ----------------------------------------------------------------------------------

    def page(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """Up to ``limit`` matching objects and a cursor that resumes exactly after them.

        Unordered, the walk reads the index from server marks and carries the ids it returned,
        so no object is repeated or lost while other clients write (see walk.py); with
        ``order_by``, the matches are read and sorted again for each page and the ones already
        returned are left out.
        """
        self._check_unsliced("page")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        resumed = None if cursor is None else cursors.decode(cursor)
        if resumed is not None and (resumed.kind == "ordered") != bool(self._order):
            raise ValueError("this cursor comes from a query with another ordering")
        if self._order:
            seen = set() if resumed is None else resumed.walk.yielded()
            fresh = [obj for obj in self._ordered() if obj.id not in seen]
            if len(fresh) <= limit:
                return Page(fresh, None)
            seen.update(obj.id for obj in fresh[:limit] if obj.id is not None)
            return Page(fresh[:limit], cursors.encode(cursors.Cursor("ordered", Walk(seen=seen))))
        if resumed is None:
            # Unfiltered, a server page per user page keeps each page on one request.
            size = min(limit, DEFAULT_PAGE_SIZE) if self._where is None else self._page_size
            resumed = cursors.Cursor("index", Walk(), size)
        walk, client = resumed.walk, self._resolve_client()
        items = walker.page(self.model, client, self._where, walk, limit=limit, size=resumed.size)
        return Page(items, None if walk.done else cursors.encode(resumed))

    # -- writing (writes.py; none of it is atomic across clients, see docs/querying.md) --------

    def update(self, **fields: Any) -> int:
        """Set ``fields`` on every matching object, saved in batches through ``POST /changes``
        (``pre_save``/``post_save`` per object); returns how many objects matched."""
        self._check_unsliced("update")
        checked = writes.check_fields(self.model, fields, "update()")
        matches = self._matches(read_ahead=True)
        return writes.update(self.model, self._resolve_client(), matches, checked)

    def delete(self) -> int:
        """Delete every matching object in batches through ``POST /changes`` (per-object
        ``pre_delete``/``post_delete``); returns how many this call deleted."""
        self._check_unsliced("delete")
        return writes.delete(self.model, self._resolve_client(), self._matches(read_ahead=True))

    def get_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """``(object, False)`` for the one object matching the lookups, else ``(new object,
        True)``, created from the lookups without ``__`` and ``defaults``."""
        try:
            return self.get(**lookups), False
        except self.model.DoesNotExist:
            return writes.create(self.model, self._client, lookups, defaults), True

    def update_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """Set ``defaults`` on the one object matching the lookups and save it (``(object,
        False)``), else create it from the lookups and ``defaults`` (``(object, True)``)."""
        try:
            obj = self.get(**lookups)
        except self.model.DoesNotExist:
            return writes.create(self.model, self._client, lookups, defaults), True
        writes.assign(obj, defaults, "update_or_create()")
        obj.save(using=self._client)
        return obj, False


def _sort_key(path: FieldPath) -> Callable[[Any], tuple[int, Any]]:
    def key(obj: Any) -> tuple[int, Any]:
        value = path.get(obj)
        return (0, 0) if value is None or value is MISSING else (1, value)

    return key


def _value_of(path: FieldPath, obj: Any) -> Any:
    value = path.get(obj)
    return None if value is MISSING else value
