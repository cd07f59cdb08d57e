"""What a field's annotation says about its values (text, sequence, mapping, nested model),
and which values never compare (a naive datetime with an aware one).

Pure helpers for :mod:`simperium_orm.orm.lookups`, which checks lookups against field types when a
filter is built, and for ``order_by``.
"""

from __future__ import annotations

import datetime
import functools
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import typing_extensions
from pydantic import BaseModel, TypeAdapter

__all__ = [
    "MAP",
    "MODEL",
    "OTHER",
    "SEQ",
    "STR",
    "UNKNOWN",
    "Kinds",
    "adapter",
    "aware",
    "incomparable",
    "inner_annotation",
    "kinds_of",
]

STR, SEQ, MAP, MODEL, OTHER, UNKNOWN = "str", "seq", "map", "model", "other", "unknown"
_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)


@dataclass
class Kinds:
    """The kinds of value an annotation allows (several for a union), None left out."""

    kinds: set[str] = field(default_factory=set)
    models: list[type[BaseModel]] = field(default_factory=list)
    item: Any = None  # the item type of a sequence, when it has one

    def any_of(self, *kinds: str) -> bool:
        return bool(self.kinds.intersection(kinds))


def kinds_of(tp: Any, out: Kinds | None = None) -> Kinds:
    """Classify an annotation; ``None`` (a type not known) is ``unknown``."""
    out = Kinds() if out is None else out
    origin, args = typing_extensions.get_origin(tp), typing_extensions.get_args(tp)
    base = origin if isinstance(origin, type) else tp
    if tp is None or tp is Any or tp is object or isinstance(tp, (typing.TypeVar, str)):
        out.kinds.add(UNKNOWN)
    elif origin is typing_extensions.Annotated:
        kinds_of(args[0], out)
    elif origin in _UNIONS:
        for arg in args:
            kinds_of(arg, out)
    elif origin is typing_extensions.Literal:
        out.kinds.update(STR if isinstance(v, str) else OTHER for v in args if v is not None)
    elif hasattr(tp, "__supertype__"):  # NewType
        kinds_of(tp.__supertype__, out)
    elif isinstance(tp, typing_extensions.TypeAliasType):
        kinds_of(tp.__value__, out)
    elif typing_extensions.is_typeddict(tp):
        out.kinds.add(MAP)
    elif tp is type(None):
        pass  # None is allowed by Optional; the lookups handle it themselves
    elif not isinstance(base, type):
        out.kinds.add(UNKNOWN)
    elif issubclass(base, BaseModel):
        out.kinds.add(MODEL)
        out.models.append(base)
    elif issubclass(base, str):
        out.kinds.add(STR)
    elif issubclass(base, Mapping):
        out.kinds.add(MAP)
    elif issubclass(base, (list, tuple, set, frozenset, Sequence, AbstractSet)):
        out.kinds.add(SEQ)
        out.item = args[0] if len(args) == 1 or args[1:] == (Ellipsis,) else None
    else:
        out.kinds.add(OTHER)
    return out


def inner_annotation(tp: Any, key: str) -> Any:
    """The annotation of ``key`` inside a mapping annotation; None when not known."""
    origin, args = typing_extensions.get_origin(tp), typing_extensions.get_args(tp)
    if origin is typing_extensions.Annotated:
        return inner_annotation(args[0], key)
    if origin in _UNIONS:
        found = [inner_annotation(a, key) for a in args if a is not type(None)]
        return found[0] if len(found) == 1 else None
    if typing_extensions.is_typeddict(tp):
        return typing_extensions.get_type_hints(tp).get(key)
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return args[1]
    return None


@functools.lru_cache(maxsize=512)
def adapter(tp: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(tp)
    except Exception:  # an annotation pydantic cannot build on its own (unresolved names)
        return None


# -- values that never compare ------------------------------------------------------------------
# Python orders a naive datetime (or time) against an aware one only to raise TypeError, and
# calls them unequal without a word: a filter would silently drop the objects that an order_by
# refuses. The rule, for both: they never compare, and meeting both raises IncomparableValues.


def aware(value: Any) -> bool | None:
    """True for an aware datetime or time, False for a naive one, None for other values."""
    if isinstance(value, (datetime.datetime, datetime.time)):
        return value.utcoffset() is not None
    return None


def incomparable(values: Iterable[Any]) -> str:
    """Why values of one field do not sort together (for the error that names the field)."""
    kinds: set[bool] = set()
    types_seen: dict[str, None] = {}
    for value in values:
        awareness = aware(value)
        if awareness is not None:
            kinds.add(awareness)
        types_seen[type(value).__name__] = None
    if len(kinds) > 1:
        return (
            "it holds both naive and aware datetimes, which never compare "
            "(give every value a timezone, or none)"
        )
    return f"its values do not compare ({', '.join(types_seen)})"
