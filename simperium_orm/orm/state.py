"""The one owner of an object's saved state: id, version, the server's state of it, its client.

Every object built from server data is built here (:func:`load`, and the scan's fast path
through :func:`attach`), and only the functions of this module create or change an object's
:class:`ObjectState`: the model, the bulk path, the listener and the scan call them and never
touch the state themselves.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from simperium_orm import protocol
from simperium_orm.jsondiff import json_equal
from simperium_orm.orm import jsonvalues
from simperium_orm.orm.modelconfig import stored_key

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.wire.bucket import Document

__all__ = [
    "NEW",
    "ObjectState",
    "acknowledge",
    "bind",
    "changed_keys",
    "dump",
    "forget",
    "keeps_raw_data",
    "load",
    "of",
    "require_saved",
    "saved_fields",
    "split",
    "take",
    "takes_extras",
    "titled",
    "wire_keys",
]

M = TypeVar("M", bound=BaseModel)

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

# tuple.__new__ builds a state without the NamedTuple constructor's (or _replace's) Python
# frames: once per object where thousands are bound or acknowledged at a time.
_new = tuple.__new__


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
    """Whether validating server data for ``model`` never shares a container with it, and
    refuses keys the model does not declare (so a page with such keys takes the ordinary path,
    which keeps them aside): then the raw data can serve as an object's snapshot."""
    safe = _RAW_SAFE.get(model)
    if safe is None:
        if model.model_config.get("extra") != "forbid":
            safe = False
        else:
            try:
                safe = _copies_everything(model.__pydantic_core_schema__)
            except Exception:  # a schema not built yet: take the always-correct way
                return False
        _RAW_SAFE[model] = safe
    return safe


def _copies_everything(schema: Any) -> bool:
    for node in jsonvalues.schema_nodes(schema, skip=("metadata", "serialization")):
        kind = node.get("type")
        if not isinstance(kind, str):
            continue
        if kind not in _COPYING:
            return False
        if kind == "model" and (node.get("custom_init") or node.get("post_init")):
            return False
    return True


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


# -- reading and replacing an object's state ---------------------------------------------------
# The state lives in the object's pydantic private dict under a dunder key, which no private
# attribute can be called (pydantic leaves dunder names alone): out of the fields' __dict__,
# so no dump sees it, not even an ``extra="allow"`` model's, which dumps every key there.

_KEY = "__simperium_state__"
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__  # the slot, as pydantic sets it


def of(obj: BaseModel) -> ObjectState:
    """The object's state (:data:`NEW` for an object never saved nor loaded)."""
    private = obj.__pydantic_private__
    return NEW if private is None else private.get(_KEY, NEW)


def _put(obj: BaseModel, state: ObjectState) -> None:
    private = obj.__pydantic_private__
    if private is None:
        _set_private(obj, {_KEY: state})
    else:
        private[_KEY] = state


def require_saved(obj: BaseModel, action: str) -> str:
    """The id of a saved object; a ValueError naming ``action`` for one never saved."""
    saved = of(obj)
    if saved.id is None or saved.version is None:
        name = type(obj).__name__
        raise ValueError(
            f"cannot {action} {name} object: it has not been saved "
            f"(or was loaded some other way); use {name}.objects.get(id)"
        )
    return saved.id


def set_id(obj: BaseModel, item: Any = protocol.MISSING) -> str:
    """Give an unsaved object its id (``item``, checked, or a new one); return it."""
    chosen = protocol.new_id() if item is protocol.MISSING else protocol.check_id(item)
    old = of(obj)
    _put(obj, _new(ObjectState, (chosen, old.version, old.snapshot, old.unknown, old.client)))
    return chosen


def bind(
    objs: Sequence[BaseModel],
    entries: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Snapshot],
    unknowns: Sequence[Mapping[str, Any]] | None,
    client: Client | None,
) -> None:
    """Bind freshly validated objects to their index entries' ids and versions: the one place
    that builds states for objects from server data (a whole page at a time)."""
    new, empty, key, put = _new, NEW.unknown, _KEY, _set_private
    extras = repeat(empty) if unknowns is None else unknowns  # repeat() never ends: not strict
    for obj, entry, snapshot, extra in zip(objs, entries, snapshots, extras, strict=False):
        state = new(ObjectState, (entry["id"], entry["v"], snapshot, extra, client))
        private = obj.__pydantic_private__
        if private is None:
            put(obj, {key: state})
        else:
            private[key] = state


def acknowledge(
    obj: BaseModel, version: int, sent: Mapping[str, Any], client: Client | None
) -> None:
    """The server applied exactly ``sent`` (the full dump) as ``version``: it is the snapshot."""
    old = of(obj)
    _put(obj, _new(ObjectState, (old.id, version, sent, old.unknown, client)))


def forget(obj: BaseModel, client: Client | None) -> None:
    """The object was deleted: it keeps its id, and a later save creates it anew."""
    _put(obj, of(obj)._replace(version=None, snapshot=None, client=client))


# -- building objects from server data ---------------------------------------------------------


def wire_keys(model: type[BaseModel]) -> dict[str, str]:
    """The model's stored keys, each mapped to its field name (an alias, or the name)."""
    keys: dict[str, str] | None = model.__dict__.get("__wire_keys__")
    if keys is None:
        keys = {stored_key(name, info): name for name, info in model.model_fields.items()}
        type.__setattr__(model, "__wire_keys__", keys)
    return keys


def split(
    model: type[BaseModel], data: Mapping[str, Any]
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Server data as (the keys the model declares, the keys it does not)."""
    keys = wire_keys(model)
    if keys.keys() >= data.keys():
        return data, {}
    if takes_extras(model):
        # Undeclared keys become extra attributes, except those that would hide (or be hidden
        # by) a field or an attribute of the class: those are kept aside.
        fields = model.model_fields
        aside = {k for k in data if k not in keys and (k in fields or hasattr(model, k))}
        if not aside:
            return data, {}
        keys = {k: k for k in data if k not in aside}
    known = {k: v for k, v in data.items() if k in keys}
    return known, {k: v for k, v in data.items() if k not in keys}


def takes_extras(model: type[BaseModel]) -> bool:
    """Whether the model keeps undeclared keys as attributes (``extra="allow"``)."""
    return model.model_config.get("extra") == "allow"


def validate(model: type[M], item: str | None, known: Mapping[str, Any]) -> M:
    """The object of ``known`` data; a ValidationError titled with the object's id."""
    try:
        return model.__pydantic_validator__.validate_python(known)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise titled(exc, f"{model.__name__} (id {item!r})") from None


def _page_validator(model: type[M]) -> TypeAdapter[list[M]]:
    adapter: TypeAdapter[list[M]] | None = model.__dict__.get("__page_validator__")
    if adapter is None:
        adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
        type.__setattr__(model, "__page_validator__", adapter)
    return adapter


def load(
    model: type[M],
    entries: Iterable[Mapping[str, Any]],
    client: Client | None,
    owned: bool = True,
) -> Iterator[M]:
    """Objects from index entries (``{"id", "v", "d"}``): how server data becomes objects.

    ``owned``: nobody else holds the entries' data, so it may serve as the snapshot itself.
    Data that does not fit raises pydantic's ``ValidationError`` titled with the object's id,
    when iteration reaches that object.
    """
    keys = wire_keys(model).keys()
    raw = owned and keeps_raw_data(model)  # then the data itself is the snapshot
    empty = NEW.unknown
    entries = entries if isinstance(entries, list) else list(entries)
    datas = [entry.get("d") or empty for entry in entries]
    to_json = model.__pydantic_serializer__.to_json
    if len(datas) > 1 and all(keys >= data.keys() for data in datas):
        # The common page: no unknown keys. One validator call for the whole page; on a
        # failure the objects are validated again one by one to name the one that failed.
        try:
            objs = _page_validator(model).validate_python(datas)
        except ValidationError:
            pass
        else:
            page: Sequence[Snapshot] = datas if raw else [to_json(o, by_alias=True) for o in objs]
            bind(objs, entries, page, None, client)
            yield from objs
            return
    validate_python = model.__pydantic_validator__.validate_python
    for entry, data in zip(entries, datas, strict=True):
        known, unknown = (data, empty) if keys >= data.keys() else split(model, data)
        try:
            obj = validate_python(known)
        except ValidationError as exc:
            raise titled(exc, f"{model.__name__} (id {entry['id']!r})") from None
        snapshot = known if raw else to_json(obj, by_alias=True)
        bind((obj,), (entry,), (snapshot,), (unknown,), client)
        yield obj


def take(obj: BaseModel, doc: Document, client: Client, keep: Iterable[str] = ()) -> None:
    """Make ``obj`` the server's document, keeping its local values of the fields in ``keep``."""
    model = type(obj)
    known, unknown = split(model, doc.data)
    fresh = validate(model, doc.id, known)
    snapshot = fresh.__pydantic_serializer__.to_json(fresh, by_alias=True)
    values = dict(fresh.__dict__)
    fields_set = set(fresh.__pydantic_fields_set__)
    extra, mine = fresh.__pydantic_extra__, obj.__pydantic_extra__
    for name in keep:
        if name in values:
            values[name] = obj.__dict__[name]
            fields_set.add(name)
        elif extra is not None:  # an extra key: kept as it is here, or kept removed
            if mine is not None and name in mine:
                extra[name] = mine[name]
            else:
                extra.pop(name, None)
    obj.__dict__.clear()
    obj.__dict__.update(values)
    object.__setattr__(obj, "__pydantic_fields_set__", fields_set)
    object.__setattr__(obj, "__pydantic_extra__", extra)
    _put(obj, ObjectState(doc.id, doc.version, snapshot, unknown, client))


# -- dirty tracking ----------------------------------------------------------------------------


def dump(obj: BaseModel) -> dict[str, Any]:
    """The fields (and extra keys) as JSON under their stored keys, checked before any send.

    A ValidationError for bad in-place edits: the serializer catches most of them (an ``int``
    appended to a ``list[str]``), not all (``None`` there is dumped as null without a
    warning), so the fields are validated too. :class:`~simperium_orm.errors.InvalidValue`,
    naming the field, for an untyped value JSON cannot store (bytes, NaN, an unknown object).
    """
    jsonvalues.check(obj)
    try:
        result = obj.model_dump(mode="json", by_alias=True, warnings="error")
    except ValueError as exc:  # PydanticSerializationError; UnicodeDecodeError for bytes
        validate(type(obj), of(obj).id, _stored(obj))  # says which typed value is wrong
        raise jsonvalues.unserialisable(obj, exc) from None
    validate(type(obj), of(obj).id, _stored(obj))
    return result


def _stored(obj: BaseModel) -> Mapping[str, Any]:
    """The object's values under their stored keys: validated so whatever the model's
    ``populate_by_name``, as server data is."""
    model, values = type(obj), obj.__dict__
    keys = wire_keys(model)
    renames = _RENAMES.get(model)
    if renames is None:
        renames = _RENAMES[model] = any(k != v for k, v in keys.items())
    if renames or len(values) != len(keys):  # aliases, or cached_property values beside
        data: Mapping[str, Any] = {
            key: values[name] for key, name in keys.items() if name in values
        }
    else:
        data = values  # read only: validation builds its own values
    extra = obj.__pydantic_extra__
    return {**extra, **data} if extra else data


_RENAMES: dict[type, bool] = {}  # whether a model stores a field under another name


def changed_keys(obj: BaseModel, current: Mapping[str, Any]) -> set[str]:
    """The stored keys of ``current`` (a :func:`dump`) that differ from the server's state."""
    saved = saved_fields(type(obj), of(obj))
    if saved is None:
        return set(current)
    changed = {k for k, v in current.items() if k not in saved or not json_equal(saved[k], v)}
    changed.update(k for k in saved if k not in current)  # an extra key removed
    return changed
