"""The QuerySet calls that give rows, and their async twins (``values``, ``values_list``):
a base class of :class:`~simperium_orm.QuerySet`. A row is made from each object the queryset
gives, by one function for both loops."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from simperium_orm.orm.lookups import MISSING, FieldPath, resolve_path

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model

__all__ = ["QueryRows"]

M = TypeVar("M", bound="Model")
T = TypeVar("T")


class QueryRows(Generic[M]):
    """The row calls of a queryset (see the module doc)."""

    model: type[M]

    if TYPE_CHECKING:

        def __iter__(self) -> Iterator[M]: ...

        def __aiter__(self) -> AsyncIterator[M]: ...

    def values(self, *fields: str) -> Iterator[dict[str, Any]]:
        """Dicts of the given field paths (``id``, ``version`` and ``a__b`` allowed) per object.

        Without fields: ``id``, ``version`` and every field.
        """
        return map(self._dict_row(fields), self)

    def avalues(self, *fields: str) -> AsyncIterator[dict[str, Any]]:
        """:meth:`values` for ``async for``."""
        return _amap(self._dict_row(fields), self)

    def _dict_row(self, fields: tuple[str, ...]) -> Callable[[M], dict[str, Any]]:
        paths = self._paths("values", fields)

        def row(obj: M) -> dict[str, Any]:
            if not paths:
                return {"id": obj.id, "version": obj.version, **obj.model_dump()}
            return {p.label: _value_of(p, obj) for p in paths}

        return row

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
        return map(self._tuple_row(fields, flat), self)

    def avalues_list(self, *fields: str, flat: bool = False) -> AsyncIterator[Any]:
        """:meth:`values_list` for ``async for``."""
        return _amap(self._tuple_row(fields, flat), self)

    def _tuple_row(self, fields: tuple[str, ...], flat: bool) -> Callable[[M], Any]:
        if flat and len(fields) != 1:
            raise TypeError("values_list(flat=True) takes exactly one field")
        paths = self._paths("values_list", fields or ("id", "version", *self.model.model_fields))

        def row(obj: M) -> Any:
            values = tuple(_value_of(p, obj) for p in paths)
            return values[0] if flat else values

        return row

    def _paths(self, call: str, fields: Iterable[str]) -> list[FieldPath]:
        return [resolve_path(self.model, f.split("__"), f"{call}({f!r})") for f in fields]


async def _amap(row: Callable[[Any], T], objs: AsyncIterable[Any]) -> AsyncIterator[T]:
    async for obj in objs:
        yield row(obj)


def _value_of(path: FieldPath, obj: Any) -> Any:
    value = path.get(obj)
    return None if value is MISSING else value
