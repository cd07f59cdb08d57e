"""Writes driven by a query: ``QuerySet.update()``, ``delete()``, and the objects that
``get_or_create()`` and ``update_or_create()`` create or change.

Simperium has neither a server-side query nor a transaction, so none of this is atomic across
clients: the matching objects are found by walking the index in this process, then written
through ``POST /changes`` a batch at a time (the bulk path, with the per-object signals). Each
object's change merges with concurrent edits on the server like any save; an object deleted by
another client before its batch reached the server is left out of the count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm import errors
from simperium_orm.client import default_client
from simperium_orm.orm import bulk, state
from simperium_orm.orm.effects import Fetch, Pull, Steps
from simperium_orm.protocol import check_id

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
) -> Steps[M]:
    """Save a new object made of the plain lookups (no ``__``) and ``defaults``.

    Called once no object matched the lookups: an ``id`` among them that names an object all
    the same (one the other lookups did not match) raises ``Conflict``, since saving a new object
    under that id would write over it.
    """
    params = {k: v for k, v in lookups.items() if "__" not in k and k != "version"}
    params.update({k: v() if callable(v) else v for k, v in (defaults or {}).items()})
    item = params.pop("id", None)
    if item is not None:
        try:
            yield Fetch(client or default_client(), model.bucket_name(), check_id(item))
            exists = True
        except errors.NotFound:
            exists = False
        if exists:
            raise errors.Conflict(
                f"{model.__name__} {item!r} exists but does not match the other lookups "
                f"({', '.join(sorted(lookups))}): creating it would write over it",
                status_code=409,
            )
    obj = model(**params)
    if item is not None:
        obj.id = item
    yield from obj._save(False, None, client)
    return obj


def update(
    model: type[M], client: Client, matches: Steps[None], fields: Mapping[str, Any]
) -> Steps[int]:
    """Set ``fields`` on each object ``matches`` emits and save them in batches; the number
    matched.

    A value that does not fit raises pydantic's ``ValidationError`` before its batch is sent.
    Failures other than objects deleted meanwhile raise ``BulkError`` (earlier batches stay).
    """

    def write(batch: list[M]) -> Steps[object]:
        for obj in batch:
            for name, value in fields.items():
                setattr(obj, name, value)
        return bulk.bulk_save(model, client, batch, BATCH_SIZE)

    return _written(matches, write)


def delete(model: type[M], client: Client, matches: Steps[None]) -> Steps[int]:
    """Delete the objects ``matches`` emits in batches; the number this call deleted."""
    return _written(matches, lambda batch: bulk.bulk_delete(model, client, batch, BATCH_SIZE))


def _written(matches: Steps[None], write: Callable[[list[M]], Steps[object]]) -> Steps[int]:
    """``write`` each batch of what ``matches`` emits (a batch is written before the scan goes
    on); how many were written, those deleted meanwhile (a 404 from the server) left out. Any
    other failure raises ``BulkError``."""
    written = 0
    scan = Pull(matches)
    while True:
        batch = yield from scan.batch(BATCH_SIZE)
        if not batch:
            return written
        written += len(batch)
        try:
            yield from write(batch)
        except errors.BulkError as exc:
            if any(code != 404 for _, code in exc.failed):
                raise
            written -= len(exc.failed)
