"""Sending a replica's queued local changes to the server, as Simperium's clients do.

Each queued object sends one change: ``diff(ghost, local)`` against the ghost's version
(``sv``), with the ccid stored in its queue row, in ``POST /changes`` batches. At most one
change per object is in flight: an object edited again while its change travels is sent again
once the server took the first (with a new ccid). The row is marked sent before the request
goes, and a change sent again after a crash carries the same ccid, so the server applies it
once (409, a duplicate, is taken as delivered). Acknowledgements arrive through the feed (the
change with our ccid), so a change is settled in the same transaction as the versions around it.

A change the server refuses (400, 413, any 4xx but 404, 409 and 412) is moved to ``rejected``
with its error, the local state goes back to the server's, and ``sync_rejected`` is sent;
it is never retried. Network failures and 5xx leave the rows as they are, to be sent again.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any

from simperium_orm import jsondiff
from simperium_orm.orm.background import Background

if TYPE_CHECKING:
    from simperium_orm.replica.store import Store
    from simperium_orm.wire.bucket import Bucket

__all__ = ["Push"]

_BATCH = 500
_SETTLED = frozenset({409, 412})  # taken: the feed says what the object became
_LATER = frozenset({404})  # the object is gone: its delete is in the feed


class Push:
    """One bucket's queue, sent in batches."""

    def __init__(self, store: Store, name: str, bucket: Bucket) -> None:
        self.store = store
        self.name = name
        self.bucket = bucket
        self.resend = True  # after opening the file (or a failure) resend what was in flight

    def send(self) -> int:
        """Send what is queued, a batch at a time, the next batch prepared while the last is in
        flight; how many changes sent wait for the feed to settle them (the others were settled
        from the server's answer)."""
        waiting = 0
        batch, states = self._batch()
        while batch:
            sending = Background(partial(self.bucket.bulk_post, batch), "simperium-replica-push")
            following: tuple[list[dict[str, Any]], dict[str, str]] = (
                self._batch() if len(batch) == _BATCH else ([], {})
            )
            try:
                results = sending.result()
            except BaseException:
                self.resend = True
                raise
            waiting += len(batch) - self._settle(batch, results, states)
            batch, states = following
        return waiting

    def _batch(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        store, changes, states = self.store, [], {}
        with store.writing() as conn:
            selected = store.to_send(conn, self.name, _BATCH, in_flight=self.resend)
            for queued in selected:
                if queued.op == "-":
                    changes.append({"id": queued.id, "o": "-", "ccid": queued.ccid})
                    continue
                row = store.get(conn, self.name, queued.id)
                if row is None:  # pragma: no cover - a queued modification keeps its row
                    store.dequeue(conn, self.name, queued.id)
                    continue
                diff = jsondiff.diff(json.loads(row.ghost_data), json.loads(row.data))
                if not diff and row.version:
                    store.dequeue(conn, self.name, queued.id)  # edited back: nothing to send
                    continue
                change: dict[str, Any] = {"id": queued.id, "o": "M", "v": diff, "ccid": queued.ccid}
                if row.version:
                    change["sv"] = row.version
                changes.append(change)
                states[queued.id] = row.data
            store.mark_sent(conn, self.name, [c["id"] for c in changes])
        if len(selected) < _BATCH:
            self.resend = False  # what was in flight before is all on its way again
        return changes, states

    def _settle(
        self, batch: list[dict[str, Any]], results: list[dict[str, Any]], states: dict[str, str]
    ) -> int:
        by_ccid: dict[str, dict[str, Any]] = {}
        for result in results:
            for ccid in result.get("ccids") or ():
                by_ccid[ccid] = result
        store, settled = self.store, 0
        with store.writing() as conn:
            for change in batch:
                found = by_ccid.get(change["ccid"])
                code = None if found is None else found.get("error")
                if found is not None and code is None:
                    settled += self._applied_as_sent(conn, change, found, states.get(change["id"]))
                    continue
                if code is None or code in _SETTLED or code in _LATER:
                    continue
                if isinstance(code, int) and code >= 500:
                    self.resend = True
                    continue
                self._reject(conn, change, code)
                settled += 1
        return settled

    def _applied_as_sent(
        self, conn: Any, change: dict[str, Any], result: dict[str, Any], sent: str | None
    ) -> bool:
        """The server applied our change to the very version it was made on (``ev`` is
        ``sv + 1``): the ghost is what we sent, and the feed need not tell us. Otherwise (other
        changes came between, or the object changed here since) the feed settles it."""
        store, item = self.store, change["id"]
        sv, ev = change.get("sv", 0), result.get("ev")
        if change["o"] != "M" or sent is None or not isinstance(ev, int) or ev != (sv or 0) + 1:
            return False
        row, queued = store.get(conn, self.name, item), store.queued(conn, self.name, item)
        if row is None or row.version != (sv or 0) or row.data != sent:
            return False
        if queued is None or queued.ccid != change["ccid"] or not queued.sent or queued.again:
            return False
        store.put(conn, self.name, item, ev, sent)
        store.dequeue(conn, self.name, item)
        return True

    def _reject(self, conn: Any, change: dict[str, Any], code: Any) -> None:
        store, item = self.store, change["id"]
        row = store.get(conn, self.name, item)
        data = None if row is None else row.data
        status = code if isinstance(code, int) else None
        error = f"refused with {code}"
        store.reject(conn, self.name, item, change["o"], data, status, error)
        if row is not None:
            if row.version == 0:
                store.remove(conn, self.name, item)  # never on the server
            else:
                store.put(conn, self.name, item, row.version, row.ghost_data)
        store.add_event(
            conn, self.name, item, None, "rejected", None, {**change, "error": error}, data
        )
