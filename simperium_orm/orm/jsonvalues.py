"""Which values a model can store: untyped values must be JSON data (pure).

A typed field's values are checked by pydantic. An untyped one (``Any``, ``object``,
``dict[str, Any]``..., and the extra keys of an ``extra="allow"`` model) takes whatever it is
given, and pydantic's JSON dump turns some of it into something else: ``bytes`` into text (or a
failure, for bytes that are not UTF-8), an object it does not know into an error that does not
say which field holds it. Before a save dumps anything, :func:`check` walks the untyped values
and raises :class:`~simperium_orm.errors.InvalidValue` naming the field for bytes, NaN and
infinity; :func:`unserialisable` names the field of a value the dump could not serialise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from simperium_orm.errors import InvalidValue

__all__ = ["check", "check_all", "schema_nodes", "unserialisable", "untyped_fields"]

_UNTYPED: dict[type, tuple[str, ...]] = {}
_BYTES = (bytes, bytearray, memoryview)
_HINT = (
    "store JSON data (dict, list, str, int, float, bool, None), or declare the field with a "
    "type that says how to store the value (a `bytes` field is stored as text)"
)


def untyped_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of the fields whose schema takes any value somewhere (outside nested models)."""
    names = _UNTYPED.get(model)
    if names is None:
        names = tuple(
            name
            for name, node in _field_schemas(model.__pydantic_core_schema__).items()
            if _takes_anything(node)
        )
        _UNTYPED[model] = names
    return names


def _field_schemas(schema: Any) -> Mapping[str, Any]:
    while isinstance(schema, Mapping) and schema.get("type") in ("definitions", "model"):
        schema = schema["schema"]
    fields = schema.get("fields") if isinstance(schema, Mapping) else None
    return fields if isinstance(fields, Mapping) else {}


def _takes_anything(node: Any) -> bool:
    # A nested model's values are its own; a custom serializer is the user's.
    def stop(n: Mapping[str, Any]) -> bool:
        return n.get("type") in ("model", "definition-ref") or "serialization" in n

    return any(n.get("type") == "any" for n in schema_nodes(node, stop=stop))


def schema_nodes(
    node: Any,
    *,
    skip: Collection[str] = ("metadata",),
    stop: Callable[[Mapping[str, Any]], bool] = lambda n: False,
) -> Iterator[Mapping[str, Any]]:
    """Every node of a pydantic core schema, depth first; below a ``stop`` node nothing, and
    nothing under the keys in ``skip``."""
    if isinstance(node, list):
        for item in node:
            yield from schema_nodes(item, skip=skip, stop=stop)
    elif isinstance(node, Mapping):
        yield node
        if not stop(node):
            for key, value in node.items():
                if key not in skip:
                    yield from schema_nodes(value, skip=skip, stop=stop)


def check(obj: BaseModel) -> None:
    """Raise :class:`InvalidValue` if an untyped value of ``obj`` holds bytes, NaN or infinity."""
    model = type(obj)
    values = obj.__dict__
    for name in untyped_fields(model):
        _check_value(model, name, values.get(name))
    for name, value in (obj.__pydantic_extra__ or {}).items():
        _check_value(model, name, value)


def check_all(objs: Iterable[BaseModel]) -> None:
    """:func:`check` each object and dump its untyped values: what a bulk write does before its
    first request, so a bad value in a later batch stops it before anything is sent."""
    items = objs if isinstance(objs, list) else list(objs)
    kinds = {type(obj) for obj in items}
    if not any(untyped_fields(kind) or kind.model_config.get("extra") == "allow" for kind in kinds):
        return
    for obj in items:
        check(obj)
        names = {*untyped_fields(type(obj)), *(obj.__pydantic_extra__ or {})}
        if names:
            try:
                obj.model_dump(mode="json", include=names, warnings="error")
            except ValueError as exc:
                raise unserialisable(obj, exc) from None


def _check_value(model: type[BaseModel], name: str, value: Any) -> None:
    problem = _problem(value, 0)
    if problem is not None:
        raise InvalidValue(
            f"{model.__name__}.{name} holds {problem}, which JSON cannot store; {_HINT}",
            field=name,
        )


def _problem(value: Any, depth: int) -> str | None:
    if isinstance(value, (str, int, type(None))):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"the float {value!r}"
    if isinstance(value, _BYTES):
        return f"a {type(value).__name__} value"
    if depth > 1000:  # pydantic's dump refuses a structure this deep (or circular) by itself
        return None
    items: Iterable[Any]
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return None  # a model, datetime, UUID...: pydantic's dump says whether it can store it
    for item in items:
        problem = _problem(item, depth + 1)
        if problem is not None:
            return problem
    return None


def unserialisable(obj: BaseModel, exc: ValueError) -> InvalidValue:
    """The :class:`InvalidValue` for a dump that failed with ``exc``, naming the field."""
    model = type(obj)
    names = [*type(obj).model_fields, *(obj.__pydantic_extra__ or {})]
    for name in names:
        try:
            obj.model_dump(mode="json", include={name}, warnings="error")
        except ValueError as field_exc:  # PydanticSerializationError, UnicodeDecodeError
            return InvalidValue(
                f"{model.__name__}.{name}: {_reason(field_exc)}; {_HINT}", field=name
            )
    return InvalidValue(f"{model.__name__}: {_reason(exc)}; {_HINT}", field=None)


def _reason(exc: ValueError) -> str:
    return str(exc).split("\n", 1)[0].rstrip(".")
