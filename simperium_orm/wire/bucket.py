"""One Simperium bucket over HTTP: the official client's methods plus typed extras.

A blocking shell over :mod:`simperium_orm.wire.calls`, which builds each endpoint's request and
reads its answer; :class:`~simperium_orm.wire.abucket.AsyncBucket` is the async shell.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from simperium_orm.errors import NotFound, RequestTimeout
from simperium_orm.wire.calls import (
    NO_TIMEOUT_RESULT,
    BucketCalls,
    Call,
    Document,
    encode_changes,
    head_of,
    parse_index,
)
from simperium_orm.wire.transport import Transport

__all__ = ["Bucket", "Document", "encode_changes", "parse_index"]

JSONDict = dict[str, Any]
T = TypeVar("T")


class Bucket(BucketCalls):
    """A bucket of one user's objects, as the official Python client shows it.

    Unlike the official client, failures raise typed errors (``get`` still returns
    ``default`` on 404, as documented), and every call shares one pooled connection.
    """

    def __init__(
        self,
        appname: str,
        auth_token: str,
        bucket: str,
        userid: str | None = None,
        host: str | None = None,
        scheme: str = "https",
        clientid: str | None = None,
        *,
        api_url: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        super().__init__(
            appname, auth_token, bucket, userid, host, scheme, clientid, api_url=api_url
        )
        self._transport = transport or Transport()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._transport.request(
                call.method, call.url, headers=self._headers(), **call.options
            )
        except RequestTimeout:
            if call.on_timeout is NO_TIMEOUT_RESULT:
                raise
            return call.on_timeout  # type: ignore[no-any-return]
        return call.parse(response)

    # -- reading --------------------------------------------------------------------------

    def index(
        self,
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> JSONDict:
        """One page of the bucket's objects, most recently modified first.

        Returns ``{"current": cv, "index": [{"id", "v", "d"?}], "mark"?}``; ``mark`` is present
        only while more pages remain. ``limit`` is 1..1000 (server default 100).
        """
        return parse_index(self.index_raw(data=data, mark=mark, limit=limit, since=since))

    def index_raw(
        self,
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> bytes:
        """The same page as :meth:`index`, as the JSON bytes the server sent (unchecked)."""
        return self._run(self.index_call(data, mark, limit, since))

    def get(self, item: str, default: Any = None, version: int | None = None) -> Any:
        """The object's data (latest, or ``version``); ``default`` when it does not exist."""
        try:
            return self.fetch(item, version=version).data
        except NotFound:
            return default

    def fetch(self, item: str, version: int | None = None) -> Document:
        """The object with its version; raises :class:`NotFound` when missing."""
        return self._run(self.fetch_call(item, version))

    def user(self) -> str:
        """The user id these credentials act as (``GET /1/{app}/user``)."""
        return self._run(self.user_call())

    # -- writing --------------------------------------------------------------------------

    def post(
        self,
        item: str,
        data: Mapping[str, Any],
        version: int | None = None,
        ccid: str | None = None,
        include_response: bool = False,
        replace: bool = False,
    ) -> str | tuple[str, JSONDict]:
        """Write ``data`` to ``item`` (merging keys unless ``replace``); returns ``item``.

        With ``include_response=True`` returns ``(item, resulting_data)``. ``version`` names
        the base version the data was computed from, so the server can merge concurrent edits.
        """
        doc = self.write(item, data, version=version, ccid=ccid, replace=replace)
        return (item, doc.data) if include_response else item

    #: The official client's name for :meth:`post`.
    set = post

    def new(
        self, data: Mapping[str, Any], ccid: str | None = None, include_response: bool = False
    ) -> str | tuple[str, JSONDict]:
        """Create an object under a fresh uuid4-hex id; returns the id."""
        return self.post(uuid.uuid4().hex, data, ccid=ccid, include_response=include_response)

    def write(
        self,
        item: str,
        data: Mapping[str, Any],
        *,
        version: int | None = None,
        replace: bool = False,
        ccid: str | None = None,
    ) -> Document:
        """Write and return the server's resulting document (merged data, new version).

        A change that alters nothing (412) returns the current document. A retry whose first
        attempt was already applied (409 for the same ccid) also returns the current document.
        """
        doc = self._run(self.write_call(item, data, version, replace, ccid))
        return doc if doc is not None else self.fetch(item)

    def delete(self, item: str, version: int | None = None, ccid: str | None = None) -> str | None:
        """Delete the object; with ``version``, only if that is still its current version.

        Returns the change's ccid. Raises :class:`NotFound` when there is no such object and
        :class:`PreconditionFailed` when ``version`` is no longer current.
        """
        return self._run(self.delete_call(item, version, ccid))

    def bulk_post(
        self,
        bulk_data: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
        wait: bool = True,
    ) -> list[JSONDict]:
        """Submit many changes in one ``POST /changes`` request.

        ``bulk_data`` is either the official client's ``{id: data}`` map (each written as a
        creation/merge of its keys) or a list of change dicts (``id``, ``o``, ``v``, ``sv``…);
        a change without ``ccid`` gets one. With ``wait`` (the default) returns the per-change
        results in request order, each a change object or ``{"id", "error", ...}``.
        """
        return self.bulk_post_encoded(encode_changes(bulk_data), wait)

    def bulk_post_encoded(self, body: bytes, wait: bool = True) -> list[JSONDict]:
        """:meth:`bulk_post` of changes already encoded by :func:`encode_changes`.

        Lets a caller encode a batch in one thread and send it from another.
        """
        return self._run(self.bulk_call(body, wait))

    # -- change feeds ---------------------------------------------------------------------

    def changes(
        self,
        cv: str | None = None,
        timeout: float | None = None,
        *,
        wait: bool = True,
        batch: int | None = None,
    ) -> list[JSONDict]:
        """This user's changes after ``cv`` (oldest first), waiting for one if none is pending.

        Returns ``[]`` when ``timeout`` seconds pass with no change (or at once with
        ``wait=False``); raises when the service cannot be reached after the retries.
        ``batch`` asks for at most that many changes (the server's default otherwise).
        """
        return self._run(self.changes_call(cv, timeout, wait, batch))

    def head(self, *, all_users: bool = False, timeout: float | None = None) -> str | None:
        """The feed's current cv (None for a bucket that never changed): reading the feed from
        there gives only changes made from now on. ``all_users``: of ``/all``, which has no
        index of its own, so the retained log is skipped over without waiting."""
        if not all_users:
            return head_of(self.index(limit=1))
        cv: str | None = None
        while True:
            batch = self.all(cv=cv, batch=1000, wait=False, timeout=timeout)
            if not batch:
                return cv
            cv = str(batch[-1]["cv"])

    def all(
        self,
        cv: str | None = None,
        data: bool = False,
        username: bool = False,
        most_recent: bool = False,
        timeout: float | None = None,
        skip_clientids: Iterable[str] = (),
        batch: int | None = None,
        *,
        wait: bool = True,
    ) -> list[JSONDict]:
        """Every user's changes after ``cv`` (admin key only); ids come as ``userid/key``.

        Waits like :meth:`changes`; ``wait=False`` returns pending changes (or ``[]``) at once.
        """
        call = self.all_call(cv, data, username, most_recent, timeout, skip_clientids, batch, wait)
        return self._run(call)
