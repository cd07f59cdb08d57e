"""``Model``: a Pydantic v2 model bound to a Simperium bucket, with dirty tracking.

An object's ``id`` and ``version`` live outside the user's schema. At every load and save the
model keeps a snapshot of the server's state (the JSON dump of its fields), so ``save()`` can
send only the top-level fields whose dump differs from it; in-place changes such as
``todo.tags.append("x")`` are found the same way, by comparing dumps, never by intercepting
list or dict mutation. Keys the server holds that the model does not declare are kept aside
and written back untouched (with ``extra="allow"`` they are extra attributes instead: see
modelconfig.py). A save whose base version the server no longer keeps is rebased onto the
current one (rebase.py).
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import Self

from simperium_orm import errors, signals
from simperium_orm.client import Client, default_client
from simperium_orm.orm import modelconfig, state
from simperium_orm.orm.effects import Fetch, Remove, Send, Steps, WriteDoc, arun, run
from simperium_orm.orm.manager import ManagerDescriptor
from simperium_orm.orm.rebase import ATTEMPTS, Write, rebased_write, write_of
from simperium_orm.protocol import check_bucket_name

if TYPE_CHECKING:
    from simperium_orm.wire.bucket import Document

__all__ = ["Model"]

# Attributes of Model itself: a field of one of these names would hide it.
_RESERVED = frozenset(
    {
        *("id", "version", "objects", "DoesNotExist", "save", "delete", "refresh"),
        *("asave", "adelete", "arefresh"),
        *("from_document", "bucket_name", "changed_fields", "unknown_data", "has_pending_writes"),
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
    __indexes__: ClassVar[tuple[str, ...]] = ()  # fields a replica indexes

    def __init_subclass__(
        cls, *, bucket: str | None = None, indexes: Iterable[str] = (), **kwargs: Any
    ) -> None:
        """Check the field names and the bucket name; give the class its own DoesNotExist.

        ``indexes`` names the fields (``a__b`` paths allowed) a replica indexes in SQLite.
        """
        super().__init_subclass__(**kwargs)
        names = (indexes,) if isinstance(indexes, str) else tuple(indexes)
        if not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"{cls.__name__}: indexes names fields, e.g. indexes=('title',)")
        cls.__indexes__ = names or getattr(cls, "__indexes__", ())
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

    def __init__(self, /, **data: Any) -> None:
        """Validate ``data`` into a new object; ``id=`` names the object (see :attr:`id`).

        ``id`` is the object's id unless a field is stored under the key ``"id"`` (then it is
        that field's value, and the object's id is set with ``obj.id = ...``).
        """
        item = None
        if "id" in data and "id" not in state.wire_keys(type(self)):
            item = data.pop("id")
        self.__pydantic_validator__.validate_python(data, self_instance=self)  # BaseModel's way
        if item is not None:
            state.set_id(self, item)

    # Validating server data builds objects without calling __init__ (no id among the data):
    # marked as pydantic's own, validation keeps its fast path (no call per object).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse ``model_config`` options that would store or read data wrongly."""
        super().__pydantic_init_subclass__(**kwargs)
        modelconfig.check_config(cls)

    # -- identity -----------------------------------------------------------------------------

    @classmethod
    def bucket_name(cls) -> str:
        """The bucket this model's objects are stored in."""
        if not cls.__bucket__:
            raise TypeError("Model is the base class; subclass it to bind a bucket")
        return cls.__bucket__

    @property
    def id(self) -> str | None:
        """The object's id: None until saved, unless you set one before the first save."""
        return state.of(self).id

    @id.setter
    def id(self, value: str) -> None:
        saved = state.of(self)
        if saved.version is not None:
            raise AttributeError(
                f"{type(self).__name__}.id cannot change once the object is saved "
                f"(it is {saved.id!r})"
            )
        state.set_id(self, value)

    @property
    def version(self) -> int | None:
        """The server's version of this object (read-only): None until saved."""
        return state.of(self).version

    @version.setter
    def version(self, value: int) -> None:
        raise AttributeError(f"{type(self).__name__}.version is read-only: the server sets it")

    @property
    def has_pending_writes(self) -> bool:
        """True while a replica holds a local change of this object that the server has not
        acknowledged yet (always False for an object saved over HTTP)."""
        saved = state.of(self)
        check = getattr(saved.client, "has_pending", None)
        return bool(check(type(self), saved.id)) if check is not None else False

    @property
    def unknown_data(self) -> dict[str, Any]:
        """A copy of the keys the server holds that the model does not declare."""
        return json.loads(json.dumps(state.of(self).unknown))  # type: ignore[no-any-return]

    # -- construction from the server ---------------------------------------------------------

    @classmethod
    def from_document(
        cls, id: str, version: int, data: Mapping[str, Any], *, client: Client | None = None
    ) -> Self:
        """Build an object from the server's state of it (semi-public: used by the listener).

        Keys the model does not declare are kept aside and written back on save. Raises
        pydantic's ``ValidationError``, titled with the object's id, when the data does not fit.
        """
        return next(state.load(cls, [{"id": id, "v": version, "d": data}], client, owned=False))

    # -- dirty tracking -----------------------------------------------------------------------

    def changed_fields(self) -> set[str]:
        """Names of the fields (and extra keys) that differ from the server's state (all of
        them when new)."""
        keys = state.wire_keys(type(self))
        return {keys.get(k, k) for k in state.changed_keys(self, state.dump(self))}

    # -- persistence --------------------------------------------------------------------------

    def _client(self, using: Client | None) -> Client:
        return using or state.of(self).client or default_client()

    def _field_keys(self, names: Iterable[str]) -> set[str]:
        wire = state.wire_keys(type(self))
        by_name = {name: key for key, name in wire.items()}
        extra = self.__pydantic_extra__ or {}
        keys = set()
        for name in [names] if isinstance(names, str) else names:
            key = by_name.get(name, name if name in wire or name in extra else None)
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
        run(self._save(replace, update_fields, using))

    async def asave(
        self,
        *,
        replace: bool = False,
        update_fields: Iterable[str] | None = None,
        using: Client | None = None,
    ) -> None:
        """:meth:`save`, awaited (the same arguments, requests, merging and signals)."""
        await arun(self._save(replace, update_fields, using))

    def _save(
        self, replace: bool, update_fields: Iterable[str] | None, using: Client | None
    ) -> Steps[None]:
        cls = type(self)
        created = state.of(self).version is None
        narrow = None if update_fields is None else self._field_keys(update_fields)
        if created and narrow is not None:
            raise ValueError("update_fields applies to saved objects; save the new one whole")
        if not created and not replace and not self._sent_keys(state.dump(self), narrow):
            return
        client = self._client(using)
        item = state.of(self).id or state.set_id(self)
        yield Send(signals.pre_save, cls, {"instance": self, "created": created})
        current = state.dump(self)  # again: pre_save receivers may have changed the object
        saved = state.of(self)
        if created or replace:
            # replace: what we send becomes the object, whatever came between
            sent, write = set(current), Write({**saved.unknown, **current}, None, replace)
        else:
            sent = self._sent_keys(current, narrow)
            if not sent:
                return
            assert saved.version is not None
            write = write_of(current, saved.unknown, sent, saved.version)
        doc = yield from self._write(client, item, write, current, sent)
        keys = state.wire_keys(cls)
        dirty = state.changed_keys(self, current) - sent
        state.take(self, doc, client, keep=[keys.get(k, k) for k in dirty])
        changed = {keys.get(k, k) for k in sent}
        kwargs = {"instance": self, "created": created, "changed_fields": changed}
        yield Send(signals.post_save, cls, kwargs)

    def _write(
        self, client: Client, item: str, write: Write, current: dict[str, Any], sent: set[str]
    ) -> Steps[Document]:
        """Send ``write``; when its base version is no longer kept, rebase onto the current one.

        The server answers 404 both for an object that is gone and for a version it no longer
        keeps: only a read of the object tells them apart.
        """
        name = self.bucket_name()
        try:
            doc: Document = yield WriteDoc(
                client, name, item, write.body, write.version, write.replace
            )
            return doc
        except errors.NotFound as exc:
            if write.version is None:
                raise self._missing(item, exc) from exc
            stale = exc
        base = state.saved_fields(type(self), state.of(self)) or {}
        for _ in range(ATTEMPTS):
            try:
                doc = yield Fetch(client, name, item)
            except errors.NotFound as exc:
                raise self._missing(item, exc) from exc
            rebased = rebased_write(base, current, sent, doc.data, doc.version)
            if rebased is None:
                return doc  # the object holds our edits already
            try:
                doc = yield WriteDoc(
                    client, name, item, rebased.body, rebased.version, rebased.replace
                )
                return doc
            except errors.NotFound as exc:  # gone meanwhile, or edited past the kept history
                stale = exc
        raise stale

    def _sent_keys(self, current: Mapping[str, Any], narrow: set[str] | None) -> set[str]:
        changed = state.changed_keys(self, current)
        return changed if narrow is None else changed & narrow

    def refresh(self, *, using: Client | None = None) -> None:
        """Reload the object from the server, discarding local changes."""
        run(self._refresh(using))

    async def arefresh(self, *, using: Client | None = None) -> None:
        """:meth:`refresh`, awaited."""
        await arun(self._refresh(using))

    def _refresh(self, using: Client | None) -> Steps[None]:
        item = state.require_saved(self, "refresh")
        client = self._client(using)
        try:
            doc = yield Fetch(client, self.bucket_name(), item)
        except errors.NotFound as exc:
            raise self._missing(item, exc) from exc
        state.take(self, doc, client)

    def delete(self, *, check_version: bool = False, using: Client | None = None) -> None:
        """Delete the object on the server.

        With ``check_version=True`` the delete only succeeds while the server still holds this
        object's version; otherwise :class:`~simperium_orm.PreconditionFailed` (412) says
        someone changed it since. Afterwards ``id`` is kept and ``version`` is None, so a
        later ``save()`` creates it again under the same id.
        """
        run(self._delete(check_version, using))

    async def adelete(self, *, check_version: bool = False, using: Client | None = None) -> None:
        """:meth:`delete`, awaited."""
        await arun(self._delete(check_version, using))

    def _delete(self, check_version: bool, using: Client | None) -> Steps[None]:
        item = state.require_saved(self, "delete")
        client = self._client(using)
        yield Send(signals.pre_delete, type(self), {"instance": self})
        version = state.of(self).version if check_version else None
        try:
            yield Remove(client, self.bucket_name(), item, version)
        except errors.NotFound as exc:
            raise self._missing(item, exc) from exc
        state.forget(self, client)
        yield Send(signals.post_delete, type(self), {"instance": self})

    def _missing(self, item: str, exc: errors.NotFound) -> errors.DoesNotExist:
        return self.DoesNotExist(
            f"{type(self).__name__} {item!r} does not exist in bucket {self.bucket_name()!r}",
            response=exc.response,
        )

    # -- Python protocols ---------------------------------------------------------------------

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        saved = state.of(self)
        yield "id", saved.id
        yield "version", saved.version
        yield from super().__repr_args__()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Model)
        mine, theirs = state.of(self), state.of(other)
        return (
            (mine.id, mine.version, mine.unknown) == (theirs.id, theirs.version, theirs.unknown)
            and _same_fields(self, other)
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    def __hash__(self) -> int:
        """By model class and id, as Django's model instances: an object without an id
        (never saved, none chosen) is unhashable. Equal objects have one class and one id."""
        item = state.of(self).id
        if item is None:
            raise TypeError(
                f"unhashable {type(self).__name__} object: it has no id until it is saved "
                f"(or given one with {type(self).__name__}(id=...))"
            )
        return hash((type(self), item))


def _same_fields(a: Model, b: Model) -> bool:
    """Whether two objects of one model hold equal field values (cached properties aside)."""
    mine, theirs = a.__dict__, b.__dict__
    if mine == theirs:
        return True
    missing = object()
    return all(mine.get(n, missing) == theirs.get(n, missing) for n in type(a).model_fields)
