"""The QuerySet calls that write, and their async twins (``update``, ``delete``,
``get_or_create``, ``update_or_create``): a base class of :class:`~simperium_orm.QuerySet`.

Each is written once as steps (see effects.py) over writes.py; none of it is atomic across
clients (see docs/querying.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from simperium_orm.orm import writes
from simperium_orm.orm.effects import Steps, arun, run

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.lookups import Q
    from simperium_orm.orm.model import Model

__all__ = ["QueryWrites"]

M = TypeVar("M", bound="Model")


class QueryWrites(Generic[M]):
    """The writing calls of a queryset (see the module doc)."""

    model: type[M]
    _client: Client | None

    if TYPE_CHECKING:

        def _check_unsliced(self, action: str) -> None: ...

        def _matches(self, size: int | None = None, *, read_ahead: bool = False) -> Steps[None]: ...

        def _resolve_client(self) -> Client: ...

        def _get(self, args: tuple[Q, ...], lookups: dict[str, Any]) -> Steps[M]: ...

    def update(self, **fields: Any) -> int:
        """Set ``fields`` on every matching object, saved in batches through ``POST /changes``
        (``pre_save``/``post_save`` per object); returns how many objects matched."""
        return run(self._update(fields))

    async def aupdate(self, **fields: Any) -> int:
        """:meth:`update`, awaited."""
        return await arun(self._update(fields))

    def _update(self, fields: dict[str, Any]) -> Steps[int]:
        self._check_unsliced("update")
        checked = writes.check_fields(self.model, fields, "update()")
        matches = self._matches(read_ahead=True)
        return (yield from writes.update(self.model, self._resolve_client(), matches, checked))

    def delete(self) -> int:
        """Delete every matching object in batches through ``POST /changes`` (per-object
        ``pre_delete``/``post_delete``); returns how many this call deleted."""
        return run(self._delete())

    async def adelete(self) -> int:
        """:meth:`delete`, awaited."""
        return await arun(self._delete())

    def _delete(self) -> Steps[int]:
        self._check_unsliced("delete")
        matches = self._matches(read_ahead=True)
        return (yield from writes.delete(self.model, self._resolve_client(), matches))

    def get_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """``(object, False)`` for the one object matching the lookups, else ``(new object,
        True)``, created from the lookups without ``__`` and ``defaults``."""
        return run(self._get_or_create(defaults, lookups))

    async def aget_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """:meth:`get_or_create`, awaited."""
        return await arun(self._get_or_create(defaults, lookups))

    def _get_or_create(
        self, defaults: dict[str, Any] | None, lookups: dict[str, Any]
    ) -> Steps[tuple[M, bool]]:
        try:
            return (yield from self._get((), lookups)), False
        except self.model.DoesNotExist:
            created = yield from writes.create(self.model, self._client, lookups, defaults)
            return created, True

    def update_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """Set ``defaults`` on the one object matching the lookups and save it (``(object,
        False)``), else create it from the lookups and ``defaults`` (``(object, True)``)."""
        return run(self._update_or_create(defaults, lookups))

    async def aupdate_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[M, bool]:
        """:meth:`update_or_create`, awaited."""
        return await arun(self._update_or_create(defaults, lookups))

    def _update_or_create(
        self, defaults: dict[str, Any] | None, lookups: dict[str, Any]
    ) -> Steps[tuple[M, bool]]:
        try:
            obj = yield from self._get((), lookups)
        except self.model.DoesNotExist:
            created = yield from writes.create(self.model, self._client, lookups, defaults)
            return created, True
        writes.assign(obj, defaults, "update_or_create()")
        yield from obj._save(False, None, self._client)
        return obj, False
