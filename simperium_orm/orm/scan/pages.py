"""Index pages straight from the server's bytes to model objects, for bucket scans.

A scan validates each page's JSON text in one pass (pydantic parses and builds the objects
without an intermediate dict per object). Each object's snapshot is then a :class:`PageEntry`:
a view of its own entry in the page, parsed only if one of the page's objects is saved, so a
scan that only reads pays nothing for dirty tracking. Pages this fast path cannot take (keys the
model does not declare, data that does not validate, a model whose validation may share
containers with its input) return None, and the caller takes the ordinary dict path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict

from simperium_orm.orm import state
from simperium_orm.orm.scan.gcpause import gc_paused

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model

__all__ = ["PageData", "PageEntry", "TextEntry", "load_one", "load_page"]

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}
_LOCK = threading.Lock()


T = TypeVar("T")
M = TypeVar("M", bound="Model")


class _Entry(TypedDict, Generic[T]):
    id: str
    v: int
    d: T


class _Page(TypedDict, Generic[T]):
    current: NotRequired[Any]
    index: list[_Entry[T]]
    mark: NotRequired[Any]


class PageData:
    """An index page's bytes, parsed at most once, when some object of it needs its data."""

    __slots__ = ("_body", "_datas", "_lock")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._datas: list[Mapping[str, Any]] | None = None
        self._lock = threading.Lock()

    def data(self, n: int) -> Mapping[str, Any]:
        with self._lock:
            if self._datas is None:
                entries = json.loads(self._body)["index"]
                self._datas = [entry.get("d") or {} for entry in entries]
                self._body = b""  # parsed: the bytes are no longer needed
            return self._datas[n]


class PageEntry(Mapping[str, Any]):
    """The server's data of the ``n``-th object of a page, read from the page on first use."""

    __slots__ = ("_n", "_page")

    def __init__(self, page: PageData, n: int) -> None:
        self._page, self._n = page, n

    def __getitem__(self, key: str) -> Any:
        return self._page.data(self._n)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._page.data(self._n))

    def __len__(self) -> int:
        return len(self._page.data(self._n))

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class TextEntry(Mapping[str, Any]):
    """An object's data kept as its JSON text, parsed on first use (a lazy snapshot)."""

    __slots__ = ("_data", "_text")

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._data: Mapping[str, Any] | None = None

    def _parsed(self) -> Mapping[str, Any]:
        if self._data is None:
            assert self._text is not None
            self._data, self._text = json.loads(self._text), None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def load_one(model: type[M], item: str, version: int, text: str, client: Client | None) -> M | None:
    """One object from its data's JSON text, or None when it needs the ordinary path."""
    if not state.keeps_raw_data(model):
        return None
    try:
        obj = model.__pydantic_validator__.validate_json(text)
    except ValidationError:
        return None
    state.bind((obj,), ({"id": item, "v": version},), (TextEntry(text),), None, client)
    return obj  # type: ignore[no-any-return]


def _adapter(model: type[Model]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = TypeAdapter(_Page[model])  # type: ignore[valid-type]
        with _LOCK:
            _ADAPTERS[model] = adapter
    return adapter


def load_page(
    model: type[Model], body: bytes, client: Client | None
) -> tuple[list[Any], str | None] | None:
    """The page's objects and next mark, or None when the page needs the ordinary path."""
    if not state.keeps_raw_data(model):
        return None
    data = PageData(body)
    with gc_paused():  # thousands of acyclic objects: see gcpause.py
        try:
            page = _adapter(model).validate_json(body)
        except ValidationError:
            return None
        entries = page["index"]
        objs = [entry["d"] for entry in entries]
        state.bind(objs, entries, [PageEntry(data, n) for n in range(len(objs))], None, client)
    mark = page.get("mark")
    return objs, mark if isinstance(mark, str) and mark else None
