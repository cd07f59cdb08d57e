"""Writes driven by a query: ``QuerySet.update()``, ``delete()``, and the objects that
``get_or_create()`` and ``update_or_create()`` create or change.

Simperium has neither a server-side query nor a transaction, so none of this is atomic across
clients: the matching objects are found by walking the index in this process, then written
through ``POST /changes`` a batch at a time (the bulk path, with the per-object signals). Each
object's change merges with concurrent edits on the server like any save; an object deleted by
another client before its batch reached the server is left out of the count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm import errors
from simperium_orm.client import default_client
from simperium_orm.orm import bulk, state

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model

__all__ = ["BATCH_SIZE", "assign", "check_fields", "create", "delete", "update"]

M = TypeVar("M", bound="Model")

BATCH_SIZE = 500  # changes per POST /changes request


def check_fields(model: type[Model], fields: Mapping[str, Any], call: str) -> dict[str, Any]:
    """``fields`` keyed by attribute name; ``InvalidLookup`` for a name that is no field."""
    if not fields:
        raise TypeError(f"{call} needs at least one field to set")
    names = {name: name for name in model.model_fields}
    names.update({alias: name for alias, name in state.wire_keys(model).items()})
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise errors.InvalidLookup(
            f"{call}: {model.__name__} has no field {unknown[0]!r} "
            f"(fields: {', '.join(sorted(model.model_fields))}; id and version cannot be set)"
        )
    return {names[key]: value for key, value in fields.items()}


def assign(obj: Model, defaults: Mapping[str, Any] | None, call: str) -> None:
    """Set ``defaults`` on ``obj`` (a callable value is called first, as Django does)."""
    if defaults:
        for name, value in check_fields(type(obj), defaults, call).items():
            setattr(obj, name, value() if callable(value) else value)


def create(
    model: type[M],
    client: Client | None,
    lookups: Mapping[str, Any],
    defaults: Mapping[str, Any] | None,
) -> M:
    """Save a new object made of the plain lookups (no ``__``) and ``defaults``.

    Called once no object matched the lookups: an ``id`` among them that names an object all
    the same (one the other lookups did not match) raises ``Conflict``, since saving a new object
    under that id would write over it.
    """
    params = {k: v for k, v in lookups.items() if "__" not in k and k != "version"}
    params.update({k: v() if callable(v) else v for k, v in (defaults or {}).items()})
    item = params.pop("id", None)
    if item is not None:
        bucket = (client or default_client()).bucket(model.bucket_name())
        if bucket.get(item) is not None:
            raise errors.Conflict(
                f"{model.__name__} {item!r} exists but does not match the other lookups "
                f"({', '.join(sorted(lookups))}): creating it would write over it",
                status_code=409,
            )
    obj = model(**params)
    if item is not None:
        obj.id = item
    obj.save(using=client)
    return obj


def _batches(objs: Iterable[M]) -> Iterable[list[M]]:
    batch: list[M] = []
    for obj in objs:
        batch.append(obj)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def update(model: type[M], client: Client, matches: Iterable[M], fields: Mapping[str, Any]) -> int:
    """Set ``fields`` on each of ``matches`` and save them in batches; the number matched.

    A value that does not fit raises pydantic's ``ValidationError`` before its batch is sent.
    Failures other than objects deleted meanwhile raise ``BulkError`` (earlier batches stay).
    """

    def assigned() -> Iterator[M]:
        for obj in matches:
            for name, value in fields.items():
                setattr(obj, name, value)
            yield obj

    return _written(assigned(), lambda batch: bulk.bulk_save(model, client, batch, BATCH_SIZE))


def delete(model: type[M], client: Client, matches: Iterable[M]) -> int:
    """Delete ``matches`` in batches; the number this call deleted."""
    return _written(matches, lambda batch: bulk.bulk_delete(model, client, batch, BATCH_SIZE))


def _written(objs: Iterable[M], write: Callable[[list[M]], object]) -> int:
    """``write`` each batch of ``objs``; how many were written, those deleted meanwhile (a 404
    from the server) left out. Any other failure raises ``BulkError``."""
    written = 0
    for batch in _batches(objs):
        written += len(batch)
        try:
            write(batch)
        except errors.BulkError as exc:
            if any(code != 404 for _, code in exc.failed):
                raise
            written -= len(exc.failed)
    return written
