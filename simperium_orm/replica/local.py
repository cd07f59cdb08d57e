"""Local writes: a bucket whose saves and deletes commit to the replica's file, not the server.

``replica.bucket(name)`` has the methods of a :class:`~simperium_orm.wire.bucket.Bucket` that
models call (``fetch``, ``get``, ``write``, ``delete``, ``bulk_post``), so ``obj.save()`` on an
object read from a replica, ``obj.save(using=replica)`` and ``Model.objects.using(replica)``
write locally: the object's new local state and its queue row commit in one SQLite
transaction, and the call returns without a request, the server up or down. The replica's
push sends the queued changes later (see push.py).

A saved object's version stays the server's version its local state is based on (0 for an
object the server has not seen yet) until the replica hears the server took the change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from simperium_orm.errors import NotFound
from simperium_orm.protocol import check_id, new_ccid
from simperium_orm.replica.store import dumps
from simperium_orm.wire.bucket import Document

if TYPE_CHECKING:
    from simperium_orm.replica.store import Store
    from simperium_orm.wire.bucket import Bucket

__all__ = ["LocalBucket"]


class Owner(Protocol):
    """What a local bucket needs of its replica: the file, and a way to wake the push."""

    store: Store

    def wake(self) -> None: ...


class LocalBucket:
    """One bucket of a replica, read and written locally."""

    def __init__(self, replica: Owner, name: str, server: Bucket) -> None:
        self.replica = replica
        self.name = name
        self.server = server  # for versions the file does not keep (history)

    def __repr__(self) -> str:
        return f"<LocalBucket {self.name} of {self.replica!r}>"

    @property
    def clientid(self) -> str:
        return self.server.clientid

    # -- reading ------------------------------------------------------------------------------

    def fetch(self, item: str, version: int | None = None) -> Document:
        """The local state of the object; an older ``version`` is read from the server."""
        store = self.replica.store
        with store.reading() as conn:
            row = store.get(conn, self.name, item)
        if row is None:
            raise NotFound(
                f"object {item!r} is not in bucket {self.name!r} of this replica", status_code=404
            )
        if version is not None and version != row.version:
            return self.server.fetch(item, version=version)
        return Document(item, row.version, json.loads(row.data))

    def get(self, item: str, default: Any = None, version: int | None = None) -> Any:
        try:
            return self.fetch(item, version=version).data
        except NotFound:
            return default

    # -- writing ------------------------------------------------------------------------------

    def write(
        self,
        item: str,
        data: Mapping[str, Any],
        *,
        version: int | None = None,
        replace: bool = False,
        ccid: str | None = None,
    ) -> Document:
        """Commit ``data`` as the object's local state (merged into it unless ``replace``) and
        queue the change, in one transaction. ``version`` names a saved object: gone locally,
        it raises :class:`~simperium_orm.NotFound`."""
        check_id(item)
        store = self.replica.store
        text = dumps(dict(data))  # refuses what JSON cannot hold before anything is written
        with store.writing() as conn:
            row = store.get(conn, self.name, item)
            if row is None:
                if version is not None:
                    raise NotFound(
                        f"object {item!r} is not in bucket {self.name!r}", status_code=404
                    )
                local = json.loads(text)
                store.put_local(conn, self.name, item, 0, dumps(local), "{}")
                store.enqueue(conn, self.name, item, "M", ccid or new_ccid())
                result = Document(item, 0, local)
            else:
                local = (
                    json.loads(text) if replace else {**json.loads(row.data), **json.loads(text)}
                )
                if local != json.loads(row.data):
                    store.put_local(
                        conn, self.name, item, row.version, dumps(local), row.ghost_data
                    )
                    store.enqueue(conn, self.name, item, "M", ccid or new_ccid())
                result = Document(item, row.version, local)
        self.replica.wake()
        return result

    def delete(self, item: str, version: int | None = None, ccid: str | None = None) -> None:
        """Remove the object locally and queue its delete (``version``: only while the local
        object is at that server version)."""
        store = self.replica.store
        with store.writing() as conn:
            row = store.get(conn, self.name, item)
            if row is None:
                raise NotFound(f"object {item!r} is not in bucket {self.name!r}", status_code=404)
            if version is not None and version != row.version:
                from simperium_orm.errors import PreconditionFailed

                raise PreconditionFailed(
                    f"object {item!r} is at version {row.version} here, not {version}",
                    status_code=412,
                )
            queued = store.queued(conn, self.name, item)
            store.remove(conn, self.name, item)
            if row.version == 0 and queued is not None and not queued.sent:
                store.dequeue(conn, self.name, item)  # the server never saw it
            else:
                store.enqueue(conn, self.name, item, "-", ccid or new_ccid())
        self.replica.wake()

    def bulk_post_encoded(self, body: bytes, wait: bool = True) -> list[dict[str, Any]]:
        """:meth:`bulk_post` of changes already encoded as a JSON array."""
        return self.bulk_post(json.loads(body), wait)

    def bulk_post(
        self, bulk_data: Sequence[Mapping[str, Any]], wait: bool = True
    ) -> list[dict[str, Any]]:
        """Commit many changes locally (each ``{"id", "o", "v"?...}`` as ``bulk_save`` sends),
        answering as the server would for each: the change with its ``ev``."""
        from simperium_orm import jsondiff

        results = []
        for change in bulk_data:
            item = str(change["id"])
            if change.get("o") == "-":
                try:
                    self.delete(item, ccid=change.get("ccid"))
                except NotFound:
                    results.append({"id": item, "error": 404, "ccids": [change.get("ccid")]})
                    continue
                results.append({"id": item, "o": "-", "ccids": [change.get("ccid")]})
                continue
            try:
                current = self.fetch(item).data
            except NotFound:
                current = {}
            doc = self.write(
                item,
                jsondiff.apply(current, change.get("v") or {}),
                replace=True,
                ccid=change.get("ccid"),
            )
            ccids = [change.get("ccid")]
            results.append(
                {"id": item, "o": "M", "sv": change.get("sv"), "ev": doc.version, "ccids": ccids}
            )
        return results
