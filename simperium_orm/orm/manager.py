"""``Manager``: a model's entry point to its bucket (``Todo.objects``), typed per model.

``Todo.objects`` is a :class:`ManagerDescriptor` on the class; reading it returns a
``Manager[Todo]``, which type checkers see without a plugin because ``__get__`` binds the
owner class to the manager's type parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, cast, overload

from simperium_orm import errors
from simperium_orm.client import Client, default_client
from simperium_orm.orm import bulk
from simperium_orm.orm.effects import Steps, arun, run
from simperium_orm.orm.lookups import Q
from simperium_orm.orm.query import DEFAULT_PAGE_SIZE, Page, QuerySet
from simperium_orm.protocol import check_id

if TYPE_CHECKING:
    from simperium_orm.listen.listener import Listener
    from simperium_orm.orm.model import Model

__all__ = ["Manager", "ManagerDescriptor"]

M = TypeVar("M", bound="Model")

DEFAULT_BATCH_SIZE = 500


class Manager(Generic[M]):
    """Reads and writes one model's objects through a client (``connect()``'s by default).

    Querying methods (``filter``, ``exclude``, ``order_by``, ``all``...) return a lazy
    :class:`~simperium_orm.query.QuerySet`; filters run client-side over the index pages.
    """

    def __init__(self, model: type[M], client: Client | None = None) -> None:
        self.model = model
        self._client = client

    def __repr__(self) -> str:
        via = "" if self._client is None else f" using {self._client!r}"
        return f"<Manager {self.model.__name__}{via}>"

    @property
    def client(self) -> Client:
        """The client this manager talks through; ``NotConnected`` when there is none."""
        return self._client or default_client()

    def using(self, client: Client | Any) -> Manager[M]:
        """The same manager through another client (another user, app or server), or through
        a :class:`~simperium_orm.Replica` (answered from its file)."""
        if hasattr(client, "manager_for"):
            return client.manager_for(self.model)  # type: ignore[no-any-return]
        return Manager(self.model, client)

    # -- single objects -----------------------------------------------------------------------

    def get(self, *args: str | Q, **lookups: Any) -> M:
        """The object with this id, or the one object matching the lookups.

        ``get("abc")`` reads the object by its id (one request); ``get(title="x")`` walks the
        index (see :meth:`QuerySet.get`). Raises ``Model.DoesNotExist`` when there is none,
        ``MultipleObjectsReturned`` when the lookups match more than one.
        """
        return run(self._get(args, lookups))

    async def aget(self, *args: str | Q, **lookups: Any) -> M:
        """:meth:`get`, awaited."""
        return await arun(self._get(args, lookups))

    def _get(self, args: tuple[str | Q, ...], lookups: dict[str, Any]) -> Steps[M]:
        if not args or isinstance(args[0], Q):
            return (yield from self.all()._get(cast("tuple[Q, ...]", args), lookups))
        item, queries = args[0], cast("tuple[Q, ...]", args[1:])  # Q() refuses a non-Q there
        if queries or lookups:
            return (yield from self.all()._get(queries, {"id": check_id(item), **lookups}))
        try:
            return (yield from self.all()._fetch(item))
        except errors.NotFound as exc:
            raise self.model.DoesNotExist(
                f"{self.model.__name__} {item!r} does not exist in bucket "
                f"{self.model.bucket_name()!r}",
                response=exc.response,
            ) from exc

    def create(self, **fields: Any) -> M:
        """Build an object from ``fields``, save it and return it."""
        obj = self.model(**fields)
        obj.save(using=self._client)
        return obj

    async def acreate(self, **fields: Any) -> M:
        """:meth:`create`, awaited."""
        obj = self.model(**fields)
        await obj.asave(using=self._client)
        return obj

    def get_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """``(object, created)``; see :meth:`QuerySet.get_or_create` (not atomic)."""
        return self.all().get_or_create(defaults, **lookups)

    async def aget_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """:meth:`get_or_create`, awaited."""
        return await self.all().aget_or_create(defaults, **lookups)

    def update_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """``(object, created)``; see :meth:`QuerySet.update_or_create` (not atomic)."""
        return self.all().update_or_create(defaults, **lookups)

    async def aupdate_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """:meth:`update_or_create`, awaited."""
        return await self.all().aupdate_or_create(defaults, **lookups)

    def in_bulk(self, ids: Iterable[str] | None = None) -> dict[str, M]:
        """The objects among ``ids`` (every object when None), by id."""
        return self.all().in_bulk(ids)

    async def ain_bulk(self, ids: Iterable[str] | None = None) -> dict[str, M]:
        """:meth:`in_bulk`, awaited."""
        return await self.all().ain_bulk(ids)

    # -- querysets ----------------------------------------------------------------------------

    def all(self) -> QuerySet[M]:
        """Every object of the bucket (lazy)."""
        return QuerySet(self.model, self._client)

    def filter(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Objects matching the lookups; see :meth:`QuerySet.filter`."""
        return self.all().filter(*args, **lookups)

    def exclude(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Objects not matching the lookups; see :meth:`QuerySet.exclude`."""
        return self.all().exclude(*args, **lookups)

    def order_by(self, *fields: str) -> QuerySet[M]:
        """Every object, sorted (reads them all first); see :meth:`QuerySet.order_by`."""
        return self.all().order_by(*fields)

    def iterate(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[M]:
        """Every object, ``page_size`` per index request; the next page is read ahead."""
        return self.all().iterate(page_size)

    def aiterate(self, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[M]:
        """:meth:`iterate` for ``async for``."""
        return self.all().aiterate(page_size)

    def count(self) -> int:
        """How many objects the bucket holds."""
        return self.all().count()

    async def acount(self) -> int:
        """:meth:`count`, awaited."""
        return await self.all().acount()

    def exists(self) -> bool:
        """Whether the bucket holds any object."""
        return self.all().exists()

    async def aexists(self) -> bool:
        """:meth:`exists`, awaited."""
        return await self.all().aexists()

    def first(self) -> M | None:
        """The most recently changed object, or None."""
        return self.all().first()

    async def afirst(self) -> M | None:
        """:meth:`first`, awaited."""
        return await self.all().afirst()

    def values(self, *fields: str) -> Iterator[dict[str, Any]]:
        """Dicts of the given fields for every object; see :meth:`QuerySet.values`."""
        return self.all().values(*fields)

    def avalues(self, *fields: str) -> AsyncIterator[dict[str, Any]]:
        """:meth:`values` for ``async for``."""
        return self.all().avalues(*fields)

    def values_list(self, *fields: str, flat: bool = False) -> Iterator[Any]:
        """Tuples (or, ``flat``, values) of the given fields; see :meth:`QuerySet.values_list`
        (``Todo.objects.all().values_list(...)`` types its rows more closely)."""
        return self.all().values_list(*fields, flat=flat)

    def avalues_list(self, *fields: str, flat: bool = False) -> AsyncIterator[Any]:
        """:meth:`values_list` for ``async for``."""
        return self.all().avalues_list(*fields, flat=flat)

    def page(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """One page of every object; see :meth:`QuerySet.page`."""
        return self.all().page(limit, cursor)

    async def apage(self, limit: int = 100, cursor: str | None = None) -> Page[M]:
        """:meth:`page`, awaited."""
        return await self.all().apage(limit, cursor)

    # -- bulk ---------------------------------------------------------------------------------

    def bulk_save(self, objs: Iterable[M], batch_size: int = DEFAULT_BATCH_SIZE) -> list[M]:
        """Save many objects through ``POST /changes``, ``batch_size`` changes per request.

        Returns the objects written (unchanged ones are skipped); raises ``BulkError`` after
        every batch was sent if some changes failed.
        """
        return run(bulk.bulk_save(self.model, self.client, objs, batch_size))

    async def abulk_save(self, objs: Iterable[M], batch_size: int = DEFAULT_BATCH_SIZE) -> list[M]:
        """:meth:`bulk_save`, awaited (two batches in flight, as the sync one)."""
        return await arun(bulk.bulk_save(self.model, self.client, objs, batch_size))

    def bulk_delete(self, objs: Iterable[M], batch_size: int = DEFAULT_BATCH_SIZE) -> list[M]:
        """Delete many saved objects through ``POST /changes``; ``BulkError`` on failures."""
        return run(bulk.bulk_delete(self.model, self.client, objs, batch_size))

    async def abulk_delete(
        self, objs: Iterable[M], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[M]:
        """:meth:`bulk_delete`, awaited."""
        return await arun(bulk.bulk_delete(self.model, self.client, objs, batch_size))

    # -- listening ----------------------------------------------------------------------------

    def listen(self, **kwargs: Any) -> Listener:
        """A :class:`~simperium_orm.listener.Listener` of this model, through this client."""
        from simperium_orm.listen.listener import Listener

        return Listener(self.model, client=self.client, **kwargs)


class ManagerDescriptor:
    """Gives each model class its ``objects`` manager; not reachable from instances."""

    @overload
    def __get__(self, instance: None, owner: type[M]) -> Manager[M]: ...

    @overload
    def __get__(self, instance: Model, owner: type[Model]) -> NoReturn: ...

    def __get__(self, instance: Model | None, owner: type[M]) -> Manager[M]:
        if instance is not None:
            raise AttributeError(
                f"the manager is not accessible from {owner.__name__} objects; "
                f"use {owner.__name__}.objects"
            )
        return Manager(owner)
