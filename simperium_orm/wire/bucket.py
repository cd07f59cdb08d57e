"""One Simperium bucket over HTTP: the official client's methods plus typed extras."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from simperium_orm import protocol
from simperium_orm.errors import (
    NotFound,
    ProtocolError,
    RequestTimeout,
    error_for_status,
)
from simperium_orm.protocol import check_app_id, check_bucket_name, check_id, new_ccid, new_clientid
from simperium_orm.wire.transport import (
    Response,
    Transport,
    encode_json,
    error_message,
)

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Document:
    """An object as the server holds it: id, version and data."""

    id: str
    version: int
    data: JSONDict = field(default_factory=dict)


class Bucket:
    """A bucket of one user's objects, as the official Python client shows it.

    Unlike the official client, failures raise typed errors (``get`` still returns
    ``default`` on 404, as documented), and every call shares one pooled connection.
    """

    BATCH_DEFAULT_SIZE = 100

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
        self.appname = check_app_id(appname)
        self.bucket = check_bucket_name(bucket)
        self.userid = userid
        self.clientid = clientid or new_clientid()
        self.api_url = protocol.api_url(api_url, host=host, scheme=scheme)
        self._auth_token = auth_token
        self._transport = transport or Transport()

    @property
    def name(self) -> str:
        """The bucket's name."""
        return self.bucket

    @property
    def auth_token(self) -> str:
        return self._auth_token

    def __repr__(self) -> str:
        user = f" userid={self.userid!r}" if self.userid else ""
        return f"<Bucket {self.appname}/{self.bucket}{user} clientid={self.clientid!r}>"

    # -- plumbing -------------------------------------------------------------------------

    def _url(self, *parts: str) -> str:
        # Quoted ("%" -> "%25") so the server decodes back the very name: "t%6Fdo" is not "todo".
        path = "/".join(quote(p, safe="@") for p in parts)
        return f"{self.api_url}/1/{self.appname}/{quote(self.bucket, safe='')}/{path}"

    def _item_url(self, item: str, version: int | None) -> str:
        check_id(item)
        if version is None:
            return self._url("i", item)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"version must be a positive integer, got {version!r}")
        return self._url("i", item, "v", str(version))

    def _headers(self) -> dict[str, str]:
        headers = {"X-Simperium-Token": self._auth_token}
        if self.userid:
            headers["X-Simperium-User"] = self.userid
        return headers

    def _send(self, method: str, url: str, **kwargs: Any) -> Response:
        return self._transport.request(method, url, headers=self._headers(), **kwargs)

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
        if limit is not None and not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000, got {limit}")
        params = {"data": "1" if data else None, "mark": mark, "limit": limit, "since": since}
        return self._send("GET", self._url("index"), params=params).content

    def get(self, item: str, default: Any = None, version: int | None = None) -> Any:
        """The object's data (latest, or ``version``); ``default`` when it does not exist."""
        try:
            return self.fetch(item, version=version).data
        except NotFound:
            return default

    def fetch(self, item: str, version: int | None = None) -> Document:
        """The object with its version; raises :class:`NotFound` when missing."""
        response = self._send("GET", self._item_url(item, version))
        return Document(item, _version_of(response, version), _object_of(response))

    def user(self) -> str:
        """The user id these credentials act as (``GET /1/{app}/user``)."""
        url = f"{self.api_url}/1/{quote(self.appname, safe='')}/user"
        body = self._send("GET", url).json()
        userid = body.get("userid") if isinstance(body, dict) else None
        if not isinstance(userid, str) or not userid:
            raise ProtocolError("user response has no userid")
        return userid

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
        if not isinstance(data, Mapping):
            raise TypeError(f"object data must be a mapping, got {type(data).__name__}")
        url = self._item_url(item, version)
        params = {
            "clientid": self.clientid,
            "ccid": ccid or new_ccid(),
            "response": "1",
            "replace": "1" if replace else None,
        }
        response = self._send(
            "POST", url, params=params, json_body=dict(data), raise_for_status=False
        )
        if response.status_code == 412 or (response.status_code == 409 and response.retried):
            return self.fetch(item)
        _raise_for(response)
        return Document(item, _version_of(response, None), _object_of(response))

    def delete(self, item: str, version: int | None = None, ccid: str | None = None) -> str | None:
        """Delete the object; with ``version``, only if that is still its current version.

        Returns the change's ccid. Raises :class:`NotFound` when there is no such object and
        :class:`PreconditionFailed` when ``version`` is no longer current.
        """
        ccid = ccid or new_ccid()
        params = {"clientid": self.clientid, "ccid": ccid}
        url = self._item_url(item, version)
        response = self._send("DELETE", url, params=params, raise_for_status=False)
        if response.retried and response.status_code in (404, 409):
            return ccid  # the earlier attempt deleted it
        _raise_for(response)
        return ccid

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
        params = {"clientid": self.clientid, "wait": "1" if wait else None}
        response = self._send("POST", self._url("changes"), params=params, json_text=body)
        if not wait:
            return []
        body = response.json()
        if not isinstance(body, list):
            raise ProtocolError("bulk change response is not a list")
        return body

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
        params = {
            "clientid": self.clientid,
            "cv": cv,
            "wait": None if wait else "0",
            "batch": None if batch is None else str(batch),
        }
        return self._long_poll(self._url("changes"), params, timeout)

    def head(self, *, all_users: bool = False, timeout: float | None = None) -> str | None:
        """The feed's current cv (None for a bucket that never changed): reading the feed from
        there gives only changes made from now on. ``all_users``: of ``/all``, which has no
        index of its own, so the retained log is skipped over without waiting."""
        if not all_users:
            current = self.index(limit=1).get("current")
            return current if isinstance(current, str) and current else None
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
        params = {
            "clientid": self.clientid,
            "cv": cv,
            "wait": None if wait else "0",
            "skip_clientid": list(skip_clientids) or None,
            "batch": str(batch if batch is not None else self.BATCH_DEFAULT_SIZE),
            "username": "1" if username else None,
            "data": "1" if data else None,
            "most_recent": "1" if most_recent else None,
        }
        return self._long_poll(self._url("all"), params, timeout)

    def _long_poll(
        self, url: str, params: Mapping[str, Any], timeout: float | None
    ) -> list[JSONDict]:
        try:
            body = self._send(
                "GET", url, params=params, timeout=timeout, retry_timeouts=False
            ).json()
        except RequestTimeout:
            return []
        if not isinstance(body, list):
            raise ProtocolError("change feed response is not a list")
        return body


def parse_index(raw: bytes) -> JSONDict:
    """An index page's JSON; :class:`ProtocolError` when it is not a page."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise ProtocolError(f"index response is not JSON: {raw[:80]!r}") from None
    if not isinstance(body, dict) or not isinstance(body.get("index"), list):
        raise ProtocolError("index response is not an object with an 'index' list")
    return body


def _raise_for(response: Response) -> None:
    if response.status_code >= 400:
        raise error_for_status(response.status_code, error_message(response), response)


def _version_of(response: Response, fallback: int | None) -> int:
    raw = response.header("X-Simperium-Version")
    if raw is None and fallback is not None:
        return fallback
    try:
        return int(raw or "")
    except ValueError:
        raise ProtocolError(f"missing or bad X-Simperium-Version header: {raw!r}") from None


def _object_of(response: Response) -> JSONDict:
    body = response.json()
    if not isinstance(body, dict):
        raise ProtocolError("object response is not a JSON object")
    return body


def encode_changes(
    bulk_data: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
) -> bytes:
    """The body of a ``POST /changes`` request (changes without a ccid get one)."""
    return encode_json(_as_changes(bulk_data))


def _as_changes(
    bulk_data: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
) -> list[JSONDict]:
    if isinstance(bulk_data, Mapping):
        return [
            {
                "id": check_id(item),
                "o": "M",
                "v": {key: {"o": "+", "v": value} for key, value in data.items()},
                "ccid": new_ccid(),
            }
            for item, data in bulk_data.items()
        ]
    changes = []
    for change in bulk_data:
        check_id(change.get("id", ""))  # not str(): 5 or None would pass as "5", "None"
        if "ccid" in change and isinstance(change, dict):
            changes.append(change)  # already complete: sent as is, without a copy
        else:
            changes.append({**change, "ccid": change.get("ccid") or new_ccid()})
    return changes
