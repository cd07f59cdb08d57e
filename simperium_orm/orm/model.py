"""``Model``: a Pydantic v2 model bound to a Simperium bucket, with dirty tracking.

An object's ``id`` and ``version`` live outside the user's schema. At every load and save the
model keeps a snapshot of the server's state (the JSON dump of its fields), so ``save()`` can
send only the top-level fields whose dump differs from it; in-place changes such as
``todo.tags.append("x")`` are found the same way, by comparing dumps, never by intercepting
list or dict mutation. Keys the server holds that the model does not declare are kept aside
and written back untouched.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError
from typing_extensions import Self

from simperium_orm import errors, signals
from simperium_orm.client import Client, default_client
from simperium_orm.jsondiff import json_equal
from simperium_orm.orm.manager import ManagerDescriptor
from simperium_orm.orm.state import NEW, ObjectState, keeps_raw_data, saved_fields, titled
from simperium_orm.protocol import check_bucket_name, check_id, new_id
from simperium_orm.wire.bucket import Document

if TYPE_CHECKING:
    from simperium_orm.wire.bucket import Bucket

__all__ = ["Model"]

# Attributes of Model itself: a field of one of these names would hide it.
_RESERVED = frozenset(
    {
        *("id", "version", "objects", "DoesNotExist", "save", "delete", "refresh"),
        *("from_document", "bucket_name", "changed_fields", "unknown_data"),
    }
)


def _own_annotations(cls: type) -> Mapping[str, Any]:
    if sys.version_info >= (3, 14):  # pragma: no cover - lazily evaluated annotations
        import annotationlib

        return annotationlib.get_annotations(cls, format=annotationlib.Format.FORWARDREF)
    return inspect.get_annotations(cls)


class Model(BaseModel):
    """Base class of the models stored in a Simperium bucket.

    ``class Todo(Model, bucket="todo")``; the bucket defaults to the lower-cased class name.
    Fields are validated on construction and assignment. A data key named ``id`` or
    ``version`` is declared with an alias: ``id_: str = Field(alias="id")``.
    """

    # JSON has no NaN or Infinity: float fields refuse them, and a NaN held in an untyped
    # (``Any``) value is dumped as is (the request then refuses it), not quietly made null.
    model_config = ConfigDict(
        validate_assignment=True,
        extra="forbid",
        populate_by_name=True,
        allow_inf_nan=False,
        ser_json_inf_nan="constants",
    )

    objects: ClassVar[ManagerDescriptor] = ManagerDescriptor()
    DoesNotExist: ClassVar[type[errors.DoesNotExist]] = errors.DoesNotExist
    __bucket__: ClassVar[str] = ""
    __wire_keys__: ClassVar[dict[str, str] | None] = None  # wire key -> field name
    __page_validator__: ClassVar[TypeAdapter[Any] | None] = None  # list[cls], built on first use

    def __init_subclass__(cls, *, bucket: str | None = None, **kwargs: Any) -> None:
        """Check the field names and the bucket name; give the class its own DoesNotExist."""
        super().__init_subclass__(**kwargs)
        for name in _own_annotations(cls):
            if name in _RESERVED:
                hint = (
                    f'declare it as `{name}_: ... = Field(alias="{name}")`'
                    if name in ("id", "version")
                    else f'rename it and keep the stored key with `Field(alias="{name}")`'
                )
                raise TypeError(
                    f"{cls.__name__}: a field cannot be called {name!r}, which is "
                    f"Model.{name}; to store a key named {name!r}, {hint}"
                )
        if bucket is None and "[" in cls.__name__:  # a parametrized generic model
            bucket = cls.__bucket__
        name = cls.__name__.lower() if bucket is None else bucket
        try:
            cls.__bucket__ = check_bucket_name(name)
        except errors.InvalidIdentifier:
            raise errors.InvalidIdentifier(
                f"{cls.__name__}: {name!r} is not a valid bucket name (1-64 characters from "
                f'a-z A-Z 0-9 . _ - %); choose one with `class {cls.__name__}(Model, bucket="...")`'
            ) from None
        cls.__wire_keys__ = None
        if "DoesNotExist" not in cls.__dict__:
            bases = tuple(b.DoesNotExist for b in cls.__bases__ if issubclass(b, Model)) or (
                errors.DoesNotExist,
            )
            cls.DoesNotExist = type(
                "DoesNotExist",
                bases,
                {
                    "__module__": cls.__module__,
                    "__qualname__": f"{cls.__qualname__}.DoesNotExist",
                    "__doc__": f"No {cls.__name__} object has the requested id.",
                },
            )

    # -- identity -----------------------------------------------------------------------------

    @classmethod
    def bucket_name(cls) -> str:
        """The bucket this model's objects are stored in."""
        if not cls.__bucket__:
            raise TypeError("Model is the base class; subclass it to bind a bucket")
        return cls.__bucket__

    # The state lives in the instance __dict__ beside the fields (pydantic ignores underscore
    # keys there, as for cached properties): cheaper to build than a private attribute.
    @property
    def _state(self) -> ObjectState:
        return self.__dict__.get("_state", NEW)  # type: ignore[no-any-return]

    @_state.setter
    def _state(self, value: ObjectState) -> None:
        self.__dict__["_state"] = value

    @property
    def id(self) -> str | None:
        """The object's id: None until saved, unless you set one before the first save."""
        return self._state.id

    @id.setter
    def id(self, value: str) -> None:
        if self._state.version is not None:
            raise AttributeError(
                f"{type(self).__name__}.id cannot change once the object is saved "
                f"(it is {self._state.id!r})"
            )
        self._state = self._state._replace(id=check_id(value))

    @property
    def version(self) -> int | None:
        """The server's version of this object (read-only): None until saved."""
        return self._state.version

    @version.setter
    def version(self, value: int) -> None:
        raise AttributeError(f"{type(self).__name__}.version is read-only: the server sets it")

    @property
    def unknown_data(self) -> dict[str, Any]:
        """A copy of the keys the server holds that the model does not declare."""
        return json.loads(json.dumps(self._state.unknown))  # type: ignore[no-any-return]

    # -- construction from the server ---------------------------------------------------------

    @classmethod
    def from_document(
        cls, id: str, version: int, data: Mapping[str, Any], *, client: Client | None = None
    ) -> Self:
        """Build an object from the server's state of it (semi-public: used by the listener).

        Keys the model does not declare are kept aside and written back on save. Raises
        pydantic's ``ValidationError``, titled with the object's id, when the data does not fit.
        """
        return cls._load(id, version, data, client, owned=False)

    @classmethod
    def _load(
        cls, id: str, version: int, data: Mapping[str, Any], client: Client | None, owned: bool
    ) -> Self:
        """``from_document``; ``owned``: nobody else holds ``data``, it may be the snapshot."""
        return next(cls._load_entries([{"id": id, "v": version, "d": data}], client, owned))

    @classmethod
    def _load_entries(
        cls, entries: Iterable[Mapping[str, Any]], client: Client | None, owned: bool = True
    ) -> Iterator[Self]:
        """Objects from index entries (``{"id", "v", "d"}``); the loop a bucket scan runs."""
        keys = cls._wire_keys().keys()
        validate = cls.__pydantic_validator__.validate_python
        to_json = cls.__pydantic_serializer__.to_json
        raw = owned and keeps_raw_data(cls)  # then the data itself is the snapshot
        empty, new = NEW.unknown, tuple.__new__
        entries = entries if isinstance(entries, list) else list(entries)
        datas = [entry.get("d") or empty for entry in entries]
        objs: list[Self] | None = None
        if len(datas) > 1 and all(keys >= data.keys() for data in datas):
            # The common page: no unknown keys. One validator call for the whole page; on a
            # failure the loop below validates again one by one to name the object.
            with contextlib.suppress(ValidationError):
                objs = cls._page_validator().validate_python(datas)
        for n, entry in enumerate(entries):
            data = datas[n]
            if objs is not None:
                obj, known, unknown = objs[n], data, empty
            else:
                known, unknown = (data, empty) if keys >= data.keys() else cls._split(data)
                try:
                    obj = validate(known)
                except ValidationError as exc:
                    raise titled(exc, f"{cls.__name__} (id {entry['id']!r})") from None
            snapshot = known if raw else to_json(obj, by_alias=True)
            # tuple.__new__ skips the NamedTuple constructor's Python frame (once per object).
            state = new(ObjectState, (entry["id"], entry["v"], snapshot, unknown, client))
            obj.__dict__["_state"] = state
            yield obj

    @classmethod
    def _page_validator(cls) -> TypeAdapter[list[Self]]:
        adapter = cls.__dict__.get("__page_validator__")
        if adapter is None:
            adapter = TypeAdapter(list[cls])  # type: ignore[valid-type]
            cls.__page_validator__ = adapter
        return adapter

    @classmethod
    def _wire_keys(cls) -> dict[str, str]:
        keys = cls.__wire_keys__
        if keys is None:
            keys = {(info.alias or name): name for name, info in cls.model_fields.items()}
            cls.__wire_keys__ = keys
        return keys

    @classmethod
    def _split(cls, data: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
        keys = cls._wire_keys()
        if keys.keys() >= data.keys():
            return data, {}
        known = {k: v for k, v in data.items() if k in keys}
        return known, {k: v for k, v in data.items() if k not in keys}

    @classmethod
    def _validate_known(cls, id: str | None, known: Mapping[str, Any]) -> Self:
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            raise titled(exc, f"{cls.__name__} (id {id!r})") from None

    def _snapshot_json(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self, by_alias=True)

    # -- dirty tracking -----------------------------------------------------------------------

    def _dump(self) -> dict[str, Any]:
        """The fields as JSON under their stored keys; a ValidationError for bad in-place edits.

        The serializer catches most of them (an ``int`` appended to a ``list[str]``), not all
        (``None`` there is dumped as null without a warning), so the fields are validated too.
        """
        try:
            dump = self.model_dump(mode="json", by_alias=True, warnings="error")
        except PydanticSerializationError:
            type(self)._validate_known(self.id, self._fields())  # says which value is wrong
            raise
        type(self)._validate_known(self.id, self._fields())
        return dump

    def _changed_keys(self, current: Mapping[str, Any]) -> set[str]:
        saved = saved_fields(type(self), self._state)
        if saved is None:
            return set(current)
        return {k for k, v in current.items() if k not in saved or not json_equal(saved[k], v)}

    def changed_fields(self) -> set[str]:
        """Names of the fields that differ from the server's state (all of them when new)."""
        keys = self._wire_keys()
        return {keys[k] for k in self._changed_keys(self._dump()) if k in keys}

    def _take(self, doc: Document, client: Client, keep: Iterable[str] = ()) -> None:
        """Become the server's document, keeping the local values of the fields in ``keep``."""
        known, unknown = self._split(doc.data)
        fresh = self._validate_known(doc.id, known)
        values = dict(fresh.__dict__)
        fields_set = set(fresh.__pydantic_fields_set__)
        for name in keep:
            values[name] = self.__dict__[name]
            fields_set.add(name)
        self.__dict__.clear()
        self.__dict__.update(values)
        object.__setattr__(self, "__pydantic_fields_set__", fields_set)
        object.__setattr__(self, "__pydantic_extra__", fresh.__pydantic_extra__)
        self._state = ObjectState(doc.id, doc.version, fresh._snapshot_json(), unknown, client)

    # -- persistence --------------------------------------------------------------------------

    def _client(self, using: Client | None) -> Client:
        return using or self._state.client or default_client()

    def _bucket(self, client: Client) -> Bucket:
        return client.bucket(self.bucket_name())

    def _field_keys(self, names: Iterable[str]) -> set[str]:
        by_name = {name: key for key, name in self._wire_keys().items()}
        keys = set()
        for name in [names] if isinstance(names, str) else names:
            key = by_name.get(name, name if name in self._wire_keys() else None)
            if key is None:
                raise ValueError(
                    f"update_fields: {type(self).__name__} has no field {name!r} "
                    f"(fields: {', '.join(sorted(by_name))})"
                )
            keys.add(key)
        return keys

    def save(
        self,
        *,
        replace: bool = False,
        update_fields: Iterable[str] | None = None,
        using: Client | None = None,
    ) -> None:
        """Write the object: a new one whole, a saved one as its changed fields only.

        A saved object POSTs only the top-level fields that differ from the server's state to
        ``i/{id}/v/{version}``; the server merges them with concurrent edits and this object
        takes the merged state and new version back. Nothing changed: no request, no signal.
        ``replace=True`` overwrites the stored object with exactly this object's fields plus
        the unknown keys it was loaded with. ``update_fields`` narrows the fields sent (other
        local changes stay unsaved). ``using`` picks the client (default: the one the object
        came from, then the ``connect()`` default).
        """
        cls = type(self)
        created = self._state.version is None
        narrow = None if update_fields is None else self._field_keys(update_fields)
        if created and narrow is not None:
            raise ValueError("update_fields applies to saved objects; save the new one whole")
        if not created and not replace and not self._sent_keys(self._dump(), narrow):
            return
        client = self._client(using)
        if self._state.id is None:
            self._state = self._state._replace(id=new_id())
        item = self._state.id
        assert item is not None
        signals.pre_save.send(cls, instance=self, created=created)
        current = self._dump()  # again: pre_save receivers may have changed the object
        if created or replace:
            sent, body = set(current), {**self._state.unknown, **current}
            version = None  # replace: what we send becomes the object, whatever came between
        else:
            sent = self._sent_keys(current, narrow)
            if not sent:
                return
            body, version = {k: current[k] for k in sent}, self._state.version
        try:
            doc = self._bucket(client).write(item, body, version=version, replace=replace)
        except errors.NotFound as exc:
            raise self._missing(item, exc) from exc
        keys = self._wire_keys()
        dirty = self._changed_keys(current) - sent
        self._take(doc, client, keep=[keys[k] for k in dirty if k in keys])
        changed = {keys[k] for k in sent if k in keys}
        signals.post_save.send(cls, instance=self, created=created, changed_fields=changed)

    def _sent_keys(self, current: Mapping[str, Any], narrow: set[str] | None) -> set[str]:
        changed = self._changed_keys(current)
        return changed if narrow is None else changed & narrow

    def refresh(self, *, using: Client | None = None) -> None:
        """Reload the object from the server, discarding local changes."""
        item = self._require_saved("refresh")
        client = self._client(using)
        try:
            doc = self._bucket(client).fetch(item)
        except errors.NotFound as exc:
            raise self._missing(item, exc) from exc
        self._take(doc, client)

    def delete(self, *, check_version: bool = False, using: Client | None = None) -> None:
        """Delete the object on the server.

        With ``check_version=True`` the delete only succeeds while the server still holds this
        object's version; otherwise :class:`~simperium_orm.PreconditionFailed` (412) says
        someone changed it since. Afterwards ``id`` is kept and ``version`` is None, so a
        later ``save()`` creates it again under the same id.
        """
        item = self._require_saved("delete")
        client = self._client(using)
        signals.pre_delete.send(type(self), instance=self)
        version = self._state.version if check_version else None
        try:
            self._bucket(client).delete(item, version=version)
        except errors.NotFound as exc:
            raise self._missing(item, exc) from exc
        self._state = self._state._replace(version=None, snapshot=None, client=client)
        signals.post_delete.send(type(self), instance=self)

    def _require_saved(self, action: str) -> str:
        if self._state.id is None or self._state.version is None:
            raise ValueError(
                f"cannot {action} {type(self).__name__} object: it has not been saved "
                f"(or was loaded some other way); use {type(self).__name__}.objects.get(id)"
            )
        return self._state.id

    def _missing(self, item: str, exc: errors.NotFound) -> errors.DoesNotExist:
        return self.DoesNotExist(
            f"{type(self).__name__} {item!r} does not exist in bucket {self.bucket_name()!r}",
            response=exc.response,
        )

    # -- Python protocols ---------------------------------------------------------------------

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "id", self._state.id
        yield "version", self._state.version
        yield from super().__repr_args__()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Model)
        mine, theirs = self._state, other._state
        return (
            (mine.id, mine.version, mine.unknown) == (theirs.id, theirs.version, theirs.unknown)
            and self._fields() == other._fields()
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    def _fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_state"}

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model
