"""Bulk save and delete through ``POST /changes?wait=1``, with per-object results and signals.

Each saved object becomes one jsondiff change against the state the server last gave it
(``{"id", "o": "M", "v", "ccid", "sv"}``; ``sv`` left out for a new object) and each deleted
one a ``{"id", "o": "-", "ccid"}``. A batch is one request; the server answers one result per
change. A 409 (the change's ccid was already applied, after a retry) counts as success.
A 404 for a change with ``sv`` means the object is gone or that version is no longer kept:
after the last batch such objects are read, and those that exist have their changes rebased
onto their current versions (see rebase.py) and sent again. Failures are collected over every
batch and raised at the end as one ``BulkError``.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from simperium_orm import errors, signals
from simperium_orm.jsondiff import apply, diff
from simperium_orm.orm import jsonvalues, state
from simperium_orm.orm.effects import Fetch, Post, Send, Start, Steps, Wait
from simperium_orm.orm.rebase import ATTEMPTS, rebase
from simperium_orm.orm.scan.gcpause import gc_paused
from simperium_orm.protocol import new_ccid
from simperium_orm.wire.bucket import Document, encode_changes
from simperium_orm.wire.request import encode_json

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.orm.model import Model

__all__ = ["bulk_delete", "bulk_save"]

M = TypeVar("M", bound="Model")
T = TypeVar("T")


@dataclass(slots=True)
class _Pending:
    obj: Any  # a Model
    change: dict[str, Any]
    created: bool
    current: dict[str, Any]  # the object's fields as sent
    after: dict[str, Any] | None = None  # rebased: the server's data once the change applies
    keys: Collection[str] = ()  # rebased: the keys the object changed (its change has others)


def _check(model: type[Model], objs: Iterable[M], batch_size: int) -> list[M]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    items = list(objs)
    for obj in items:
        if not isinstance(obj, model) or obj.bucket_name() != model.bucket_name():
            raise TypeError(f"expected {model.__name__} objects, got {obj!r}")
    return items


def _batches(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _change_for(obj: Model) -> _Pending | None:
    """The jsondiff change that brings the server's state to ``obj``; None when equal."""
    saved = state.of(obj)
    current = state.dump(obj)  # a fresh dump: nothing else holds its values
    created = saved.version is None
    if created:  # diff({}, data) without its copies: every key is added
        data = {**saved.unknown, **current} if saved.unknown else current
        v = {k: {"o": "+", "v": value} for k, value in data.items()}
    else:
        v = diff(state.saved_fields(type(obj), saved) or {}, current)
    if not v:
        return None
    change: dict[str, Any] = {"id": saved.id, "o": "M", "v": v, "ccid": new_ccid()}
    if not created:
        change["sv"] = saved.version
    return _Pending(obj, change, created, current)


def _results_by_change(
    changes: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any] | None]:
    """Each change's result: found by its ccid, else by position when the ids agree."""
    by_ccid = {ccid: r for r in results for ccid in (r.get("ccids") or ())}
    out: list[Mapping[str, Any] | None] = []
    for i, change in enumerate(changes):
        found = by_ccid.get(change["ccid"])
        if found is None and i < len(results) and results[i].get("id") == change["id"]:
            found = results[i]
        out.append(found)
    return out


def _raise_failures(
    model: type[Model], total: int, results: list[Any], failed: list[tuple[Any, int | None]]
) -> None:
    if failed:
        codes = ", ".join(f"{code}: {n}" for code, n in Counter(c for _, c in failed).items())
        raise errors.BulkError(
            f"{len(failed)} of {total} {model.__name__} changes failed (error codes {codes})",
            results=results,
            failed=failed,
        )


def bulk_save(model: type[M], client: Client, objs: Iterable[M], batch_size: int) -> Steps[list[M]]:
    """Write every changed object in batches; return those the server acknowledged.

    The client's work overlaps the requests: while the server applies a batch, the next one is
    prepared (diffs, ids, ``pre_save``) and sent, and then the answered one is settled
    (versions, ``post_save``). Two batches are in flight when every object is distinct, so the
    server always has the next one; otherwise one, so it applies them in order.
    """
    items = _check(model, objs, batch_size)
    jsonvalues.check_all(items)  # a bad value in any batch: refused before the first request
    name = model.bucket_name()
    run = _BulkRun(model, client)
    depth = 2 if _distinct(items) else 1
    in_flight: deque[tuple[list[_Pending], Any]] = deque()
    try:
        for chunk in _batches(items, batch_size):
            with gc_paused():  # thousands of acyclic objects a batch: see scan/gcpause.py
                batch = yield from _prepared(model, chunk)
                # Encoded here, while earlier batches are on the server, so the background
                # thread only sends: it holds the interpreter just long enough to send.
                # Every change is complete (ids checked when they were set, a ccid each).
                body = encode_json([p.change for p in batch]) if batch else b""
            if not batch:
                continue
            answered = []
            while len(in_flight) >= depth:
                done, sending = in_flight.popleft()
                answered.append((done, (yield Wait(sending))))
            sending = yield Start(client, name, body)
            in_flight.append((batch, sending))
            for done, results in answered:
                yield from run.settle(done, results)
        while in_flight:
            done, sending = in_flight.popleft()
            yield from run.settle(done, (yield Wait(sending)))
    except BaseException:
        while in_flight:  # already sent: keep their objects in step with the server
            done, sending = in_flight.popleft()
            with contextlib.suppress(Exception):
                yield from run.settle(done, (yield Wait(sending)), quiet=True)
        raise
    yield from run.rebase_stale(batch_size)
    _raise_failures(model, len(run.saved) + len(run.failed), run.results, run.failed)
    return run.saved


def _distinct(items: Sequence[Any]) -> bool:
    """Whether no object appears twice (as the same instance or under the same id)."""
    ids = [obj.id for obj in items if obj.id is not None]
    return len({id(obj) for obj in items}) == len(items) and len(set(ids)) == len(ids)


def _prepared(model: type[Model], chunk: Sequence[Any]) -> Steps[list[_Pending]]:
    """The changes of a batch's changed objects, with ids, after ``pre_save``."""
    batch = [p for p in map(_change_for, chunk) if p is not None]
    for p in batch:
        if p.change["id"] is None:
            p.change["id"] = state.set_id(p.obj)
    if batch and signals.pre_save.has_receivers_for(model):
        for p in batch:
            yield Send(signals.pre_save, model, {"instance": p.obj, "created": p.created})
        # Receivers may have changed the objects: diff them again.
        batch = [q for q in map(_change_for, (p.obj for p in batch)) if q is not None]
    return batch


class _BulkRun:
    """What a bulk save has settled so far."""

    def __init__(self, model: type[Model], client: Client) -> None:
        self.model, self.client = model, client
        self.saved: list[Any] = []
        self.results: list[Any] = []
        self.failed: list[tuple[Any, int | None]] = []
        self.stale: list[_Pending] = []  # 404 for their base version: rebased at the end

    def settle(
        self, batch: list[_Pending], results: list[Any], *, quiet: bool = False
    ) -> Steps[None]:
        """Take the server's answers for a batch: versions, failures, and ``post_save``."""
        with gc_paused():
            acknowledged = yield from self._take(batch, results, quiet=quiet)
        if quiet or not signals.post_save.has_receivers_for(self.model):
            return
        # Signals only once every object of the batch holds its new version: a receiver that
        # raises leaves no acknowledged object behind the server.
        for p in acknowledged:
            yield self._signal(p.obj, p.created, p.keys or p.change["v"])

    def _take(
        self, batch: list[_Pending], results: list[Any], *, quiet: bool
    ) -> Steps[list[_Pending]]:
        """Give the batch's objects their results; the acknowledged ones."""
        self.results.extend(results)
        changes = [p.change for p in batch]
        acknowledged = []
        for p, result in zip(batch, _results_by_change(changes, results), strict=True):
            code = None if result is None else result.get("error", 0)
            if code == 404 and "sv" in p.change and not quiet:
                self.stale.append(p)  # the object may be gone, or only its old version
                continue
            if code not in (0, 409):
                self.failed.append((p.obj, code))
                continue
            assert result is not None
            if not (yield from _acknowledge(p, result, self.client)):
                self.failed.append((p.obj, 404))
                continue
            self.saved.append(p.obj)
            acknowledged.append(p)
        return acknowledged

    def _signal(self, obj: Any, created: bool, keys: Iterable[str]) -> Send:
        names = state.wire_keys(self.model)
        changed = {names.get(k, k) for k in keys}
        kwargs = {"instance": obj, "created": created, "changed_fields": changed}
        return Send(signals.post_save, self.model, kwargs)

    def rebase_stale(self, batch_size: int) -> Steps[None]:
        """Rebase the changes whose base version the server no longer keeps onto the objects'
        current versions and send them again; an object really gone fails with 404."""
        for _ in range(ATTEMPTS):
            stale, self.stale = self.stale, []
            again = []
            for p in stale:
                rebased = yield from self._rebased(p)
                if rebased is not None:
                    again.append(rebased)
            name = self.model.bucket_name()
            for batch in _batches(again, batch_size):
                body = encode_changes([p.change for p in batch])
                yield from self.settle(list(batch), (yield Post(self.client, name, body)))
            if not self.stale:
                return
        self.failed.extend((p.obj, 404) for p in self.stale)

    def _rebased(self, p: _Pending) -> Steps[_Pending | None]:
        """The change rebased onto the object's current version; None when nothing is left."""
        item, obj = p.change["id"], p.obj
        try:
            doc = yield Fetch(self.client, self.model.bucket_name(), item)
        except errors.NotFound:
            self.failed.append((obj, 404))
            return None
        keys = p.keys or tuple(p.change["v"])
        base = state.saved_fields(type(obj), state.of(obj)) or {}
        merged = rebase(base, p.current, keys, doc.data)
        if not merged:  # the object holds the edits already
            state.take(obj, doc, self.client)
            self.saved.append(obj)
            yield self._signal(obj, False, keys)
            return None
        change = {"id": item, "o": "M", "v": merged, "ccid": new_ccid(), "sv": doc.version}
        after = apply(doc.data, merged, checked=True)
        return _Pending(obj, change, False, p.current, after, keys)


def _acknowledge(p: _Pending, result: Mapping[str, Any], client: Client) -> Steps[bool]:
    """Give the object its new version and snapshot; False if it vanished meanwhile."""
    obj = p.obj
    if "error" not in result and "ev" in result and result.get("sv") == p.change.get("sv"):
        # Applied to the version it was computed from: the server now holds what we sent.
        if p.after is not None:  # a rebased change: the current data with it applied
            state.take(obj, Document(p.change["id"], result["ev"], p.after), client)
            return True
        # The dump sent is the snapshot (in the raw form, normalised if a save needs it).
        state.acknowledge(obj, result["ev"], p.current, client)
        return True
    # Merged over concurrent changes (or already applied before a retry): read the result.
    try:
        doc = yield Fetch(client, type(obj).bucket_name(), p.change["id"])
    except errors.NotFound:
        return False
    state.take(obj, doc, client)
    return True


def bulk_delete(
    model: type[M], client: Client, objs: Iterable[M], batch_size: int
) -> Steps[list[M]]:
    """Delete saved objects in batches; return those the server acknowledged."""
    items = _check(model, objs, batch_size)
    for obj in items:
        state.require_saved(obj, "delete")
    name = model.bucket_name()
    deleted: list[M] = []
    all_results: list[Any] = []
    failed: list[tuple[Any, int | None]] = []
    for batch in _batches(items, batch_size):
        for obj in batch:
            yield Send(signals.pre_delete, model, {"instance": obj})
        changes = [{"id": obj.id, "o": "-", "ccid": new_ccid()} for obj in batch]
        results = yield Post(client, name, encode_changes(changes))
        all_results.extend(results)
        for obj, result in zip(batch, _results_by_change(changes, results), strict=True):
            code = None if result is None else result.get("error", 0)
            if code not in (0, 409):
                failed.append((obj, code))
                continue
            state.forget(obj, client)
            deleted.append(obj)
            yield Send(signals.post_delete, model, {"instance": obj})
    _raise_failures(model, len(items), all_results, failed)
    return deleted
