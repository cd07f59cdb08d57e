"""What a model object keeps beside its fields: id, version, and the server's state of it.

The *snapshot* is the server's state of the object's fields as of the last load or save, in
the form ``model_dump(mode="json", by_alias=True)`` gives; saves compare the current dump with
it. It is stored as JSON bytes, or, for objects listed by a query, as the server's raw data
itself, normalised only when a save or ``changed_fields()`` needs it: iterating a bucket then
costs one validation per object and nothing more. The raw form is used only for models whose
validation builds every container anew (no ``Any`` values, no validator functions), so no
change made to the object can reach the raw data.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from simperium_orm.client import Client

__all__ = ["ObjectState", "keeps_raw_data", "saved_fields", "titled"]

Snapshot = bytes | Mapping[str, Any]


class ObjectState(NamedTuple):
    """An object's id, version, snapshot, unknown keys and client; replaced, never changed."""

    id: str | None = None
    version: int | None = None
    snapshot: Snapshot | None = None  # None: never saved (or deleted)
    unknown: Mapping[str, Any] = {}  # server keys the model does not declare (never mutated)
    client: Client | None = None  # the client it was loaded or saved with

    def __deepcopy__(self, memo: dict[int, Any]) -> ObjectState:
        # A deep copy of an object shares its client (connections are not copied).
        return self._replace(unknown=copy.deepcopy(dict(self.unknown), memo))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles travel without the client (its connection pool cannot be pickled).
        snapshot = self.snapshot
        if snapshot is not None and not isinstance(snapshot, bytes):
            snapshot = dict(snapshot)  # raw server data stays raw (it is plain JSON)
        return (ObjectState, (self.id, self.version, snapshot, dict(self.unknown), None))


NEW = ObjectState()


def saved_fields(model: type[BaseModel], state: ObjectState) -> dict[str, Any] | None:
    """The server's state of the fields as a JSON dump; None for an object never saved."""
    snapshot = state.snapshot
    if snapshot is None:
        return None
    if not isinstance(snapshot, bytes):
        # Raw server data: validated again to get exactly the dump form (defaults filled in).
        # A page entry (see pages.py) is read from its page here, on first need.
        raw = snapshot if isinstance(snapshot, dict) else dict(snapshot)
        normal = model.__pydantic_validator__.validate_python(raw)
        snapshot = model.__pydantic_serializer__.to_json(normal, by_alias=True)
    result: dict[str, Any] = json.loads(snapshot)
    return result


# Core schema nodes whose validation returns immutable values or containers built anew.
_COPYING = frozenset(
    {
        *("bool", "bytes", "date", "datetime", "decimal", "default", "definition-ref"),
        *("definitions", "dict", "enum", "float", "frozenset", "int", "list", "literal"),
        *("model", "model-field", "model-fields", "multi-host-url", "none", "nullable", "set"),
        *("str", "tagged-union", "time", "timedelta", "tuple", "typed-dict", "typed-dict-field"),
        *("union", "url", "uuid"),
    }
)
_RAW_SAFE: dict[type, bool] = {}


def keeps_raw_data(model: type[BaseModel]) -> bool:
    """Whether validating server data for ``model`` never shares a container with it."""
    safe = _RAW_SAFE.get(model)
    if safe is None:
        try:
            safe = _copies_everything(model.__pydantic_core_schema__)
        except Exception:  # a schema not built yet: take the always-correct way
            return False
        _RAW_SAFE[model] = safe
    return safe


def _copies_everything(node: Any) -> bool:
    if isinstance(node, list):
        return all(_copies_everything(n) for n in node)
    if not isinstance(node, dict):
        return True
    kind = node.get("type")
    if isinstance(kind, str):
        if kind not in _COPYING:
            return False
        if kind == "model" and (node.get("custom_init") or node.get("post_init")):
            return False
    return all(
        _copies_everything(v) for k, v in node.items() if k not in ("metadata", "serialization")
    )


def titled(exc: ValidationError, title: str) -> ValidationError:
    """The same validation errors under a title that names the object."""
    details: list[Any] = []
    for error in exc.errors(include_url=False):
        entry: dict[str, Any] = {"type": error["type"], "loc": error["loc"]}
        entry["input"] = error["input"]
        if "ctx" in error:
            entry["ctx"] = error["ctx"]
        details.append(entry)
    try:
        return ValidationError.from_exception_data(title, details)
    except (TypeError, KeyError, ValueError):  # a custom error type that cannot be rebuilt
        return exc
