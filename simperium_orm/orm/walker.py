"""Walking a bucket's index: the rule of ``walk.py`` as steps (see effects.py) that the sync and
async shells both run.

Three ways through the same walk: :func:`objects` emits every matching object once, a page in
memory (validated straight from the page's bytes, the next page read ahead: see ``scan/``);
:func:`ids` emits every id once from pages without data (for ``count()`` and ``exists()``);
:func:`page` takes up to ``limit`` objects and leaves the walk where the next page resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm.errors import ProtocolError
from simperium_orm.orm import state
from simperium_orm.orm.effects import Emit, Index, Steps
from simperium_orm.orm.scan.pages import load_page
from simperium_orm.orm.walk import Walk, current_of
from simperium_orm.wire.bucket import parse_index

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model

__all__ = ["ids", "objects", "page"]

M = TypeVar("M", bound="Model")
Predicate = Callable[[Any], bool]


def _load(model: type[M], raw: bytes, client: Client) -> tuple[Iterable[M], object, int]:
    """A page's objects, its next mark and how many entries it listed."""
    loaded = load_page(model, raw, client)
    if loaded is not None:
        objs, following = loaded
        return objs, following, len(objs)
    # Keys the model does not declare, or data that does not fit: built one by one, so the
    # objects before a bad one still arrive, then it raises.
    body = parse_index(raw)
    return state.load(model, body["index"], client), body.get("mark"), len(body["index"])


def objects(
    model: type[M], client: Client, where: Predicate | None, *, size: int, read_ahead: bool
) -> Steps[None]:
    """Emits every object of the bucket that matches ``where``, once, in index order (then the
    ones that moved, see walk.py). ``read_ahead``: request the next page while this one is built
    (the shell keeps a reader per phase)."""
    name = model.bucket_name()
    walk = Walk()
    while not walk.done:  # one phase a turn: the listing, then passes over what moved
        while True:
            raw = yield Index(client, name, True, walk.mark, size, read_ahead, walk.since)
            walk.read(current_of(raw))
            objs, following, listed = _load(model, raw, client)
            yield Emit(_fresh(walk, objs, where))
            walk.advance(following, listed)
            if walk.done or walk.mark is None:
                break


def _fresh(walk: Walk, objs: Iterable[M], where: Predicate | None) -> Iterable[M]:
    """The page's matching objects not yielded before, recorded as yielded."""
    of = state.of
    if walk.since is not None:  # a pass over what moved: some may have been yielded
        return (o for o in objs if (where is None or where(o)) and walk.fresh(of(o).id))  # type: ignore[arg-type]
    # The listing itself names each object once: record, without a test per object.
    if where is None and isinstance(objs, list):
        walk.record([of(o).id for o in objs])  # type: ignore[misc]
        return objs
    return _recorded(walk, objs if where is None else filter(where, objs))


def _recorded(walk: Walk, objs: Iterable[M]) -> Iterator[M]:
    of = state.of
    for obj in objs:  # built one by one (see _load): each arrives before a bad one raises
        walk.seen.add(of(obj).id)  # type: ignore[arg-type]
        yield obj


def ids(client: Client, name: str, *, size: int) -> Steps[None]:
    """Emits every id of the bucket once, from index pages without data."""
    walk = Walk()
    while not walk.done:
        body = parse_index((yield Index(client, name, False, walk.mark, size, False, walk.since)))
        walk.read(body.get("current"))
        entries = _ids_of(body["index"])
        if walk.since is None:  # the listing names each object once
            walk.record(entries)
            yield Emit(entries)
        else:
            yield Emit(filter(walk.fresh, entries))
        walk.advance(body.get("mark"), len(entries))


def _ids_of(entries: Sequence[Any]) -> list[str]:
    found = [entry.get("id") if isinstance(entry, dict) else None for entry in entries]
    if not all(isinstance(item, str) for item in found):
        raise ProtocolError("index entry without a string id")
    return found  # type: ignore[return-value]


def page(
    model: type[M], client: Client, where: Predicate | None, walk: Walk, *, limit: int, size: int
) -> Steps[list[M]]:
    """Up to ``limit`` matching objects from where ``walk`` is; ``walk`` moves past them.

    When ``limit`` is reached inside a server page, the walk stays on that page: the next call
    reads it again (from the mark the server gave, never an offset) and skips what it yielded.
    """
    name = model.bucket_name()
    items: list[M] = []
    while not walk.done and len(items) < limit:
        raw = yield Index(client, name, True, walk.mark, size, False, walk.since)
        body = parse_index(raw)
        walk.read(body.get("current"))
        entries = body["index"]
        seen = walk.yielded()
        unseen = [e for e in entries if not (isinstance(e, dict) and e.get("id") in seen)]
        for n, obj in enumerate(state.load(model, unseen, client), start=1):
            if (where is None or where(obj)) and walk.fresh(state.of(obj).id):  # type: ignore[arg-type]
                items.append(obj)
                if len(items) == limit and n < len(unseen):
                    return items
        walk.advance(body.get("mark"), len(entries))
    return items
