"""``Model.objects.using(replica)``: the manager and QuerySet API answered from the file.

The same classes as over HTTP, with the places where objects come from replaced: matches are
read from SQLite (the filters SQL can state pushed into it, through the model's ``indexes``
where they apply), validated a page at a time, and checked again by the filters' predicates.
Each query reads one snapshot of the file. Writes (``create``, ``save``, ``bulk_save``,
``update``, ``delete``...) commit locally and are pushed by the replica.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from simperium_orm import errors
from simperium_orm.orm.effects import Emit, Steps
from simperium_orm.orm.manager import Manager
from simperium_orm.orm.query import Page, QuerySet
from simperium_orm.protocol import check_id
from simperium_orm.replica import reads

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.listen.listener import Listener
    from simperium_orm.orm.model import Model
    from simperium_orm.replica.store import Store

__all__ = ["LocalManager", "LocalQuerySet"]

M = TypeVar("M", bound="Model")


class Replica(Protocol):
    """What the querysets need of a replica: its file, its client, what objects remember."""

    store: Store
    client: Client

    @property
    def source(self) -> Any: ...


class LocalQuerySet(QuerySet[M]):
    """A QuerySet over a replica's file."""

    def __init__(self, model: type[M], replica: Replica) -> None:
        super().__init__(model, replica.source)
        self._replica = replica

    @classmethod
    def like(cls, qs: QuerySet[M], replica: Replica) -> LocalQuerySet[M]:
        """``qs`` (its filters, order and slice) answered from ``replica``."""
        new = cls(qs.model, replica)
        kept = {k: v for k, v in qs.__dict__.items() if k not in ("_client", "_replica")}
        new.__dict__.update(kept)
        return new

    def __repr__(self) -> str:
        return super().__repr__().replace("<QuerySet", "<QuerySet (replica)", 1)

    # -- where the objects come from ----------------------------------------------------------

    # Steps without I/O effects (see orm/effects.py): the base class runs them as it runs its
    # own, so every QuerySet call works on a replica; the async twins run them too.

    def _matches(self, size: int | None = None, *, read_ahead: bool = False) -> Steps[None]:
        yield Emit(obj for _, obj in self._rows())

    def _ids(self, size: int) -> Steps[None]:
        found = self._replica.store.query(
            "SELECT id FROM objects WHERE bucket = ? ORDER BY rowid", (self.model.bucket_name(),)
        )
        yield Emit(row[0] for row in found)

    def _fetch(self, item: str) -> Steps[M]:
        obj = reads.get(self._replica.store, self.model, check_id(item), self._replica.source)
        if obj is None:
            raise errors.NotFound(
                f"no object {item!r} in this replica's {self.model.bucket_name()!r}",
                status_code=404,
            )
        return obj
        yield  # a generator: the object is the steps' result

    def _rows(self, after: int = 0) -> Iterator[tuple[int, M]]:
        store, model = self._replica.store, self.model
        source = self._replica.source
        return reads.select(store, model, self._filters, self._where, source, after=after)

    def count(self) -> int:
        """How many objects match (a ``COUNT`` in SQL when nothing is filtered)."""
        if self._where is None:
            total = reads.count(self._replica.store, self.model, (), None)
        else:
            total = sum(1 for _ in self._rows())
        end = total if self._stop is None else min(total, self._stop)
        return max(0, end - self._start)

    def exists(self) -> bool:
        if self._stop is not None and self._stop <= self._start:
            return False
        return next(iter(self._sliced(0, 1)), None) is not None

    def page(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """Up to ``limit`` matches and a cursor that resumes after them.

        Unordered, the cursor is the file position of the last object given: objects keep
        their place when they change, so a walk gives each object at most once, and every
        object that exists throughout exactly once.
        """
        if self._order:
            return super().page(limit, cursor)
        self._check_unsliced("page")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        after = _decode(cursor)
        items: list[M] = []
        last = after
        for rowid, obj in self._rows(after):
            if len(items) == limit:
                return Page(items, _encode(last))
            items.append(obj)
            last = rowid
        return Page(items, None)


def _encode(rowid: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"r": rowid}).encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        if isinstance(value, dict) and set(value) == {"r"} and isinstance(value["r"], int):
            return int(value["r"])
    except (binascii.Error, ValueError):
        pass
    raise ValueError(f"not a cursor of a replica's page(): {cursor!r}")


class LocalManager(Manager[M]):
    """``Model.objects.using(replica)``."""

    def __init__(self, model: type[M], replica: Replica) -> None:
        super().__init__(model, replica.source)
        self._replica = replica

    def __repr__(self) -> str:
        return f"<Manager {self.model.__name__} using {self._replica!r}>"

    def all(self) -> QuerySet[M]:
        return LocalQuerySet(self.model, self._replica)

    def listen(self, **kwargs: Any) -> Listener:
        """A listener of this model through the replica's client (the replica signals too)."""
        from simperium_orm.listen.listener import Listener

        return Listener(self.model, client=self._replica.client, **kwargs)
