"""Each bucket endpoint's request and the reading of its answer, without I/O.

:class:`BucketCalls` knows a bucket's address, credentials and clientid and builds a
:class:`Call` per endpoint: the transport arguments of the request and the pure function that
turns the :class:`Response` into the result. The sync :class:`~simperium_orm.wire.bucket.Bucket`
and the async :class:`~simperium_orm.wire.abucket.AsyncBucket` are thin shells that send a call
and parse its answer, so what each endpoint sends and accepts exists once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from simperium_orm import protocol
from simperium_orm.errors import ProtocolError, error_for_status
from simperium_orm.protocol import check_app_id, check_bucket_name, check_id, new_ccid, new_clientid
from simperium_orm.wire.request import Response, encode_json, error_message

__all__ = ["NO_TIMEOUT_RESULT", "BucketCalls", "Call", "Document", "encode_changes", "parse_index"]

JSONDict = dict[str, Any]
T = TypeVar("T")

NO_TIMEOUT_RESULT: Any = object()  # a call whose timeout is an error, not an answer


@dataclass(frozen=True)
class Document:
    """An object as the server holds it: id, version and data."""

    id: str
    version: int
    data: JSONDict = field(default_factory=dict)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One endpoint call: ``transport.request(method, url, **options)``, then ``parse``.

    ``on_timeout`` (when set) is the result of a request that timed out (a quiet long-poll).
    """

    method: str
    url: str
    options: dict[str, Any]
    parse: Callable[[Response], T]
    on_timeout: Any = NO_TIMEOUT_RESULT


class BucketCalls:
    """A bucket's address and credentials, and the calls of its endpoints."""

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
    ) -> None:
        self.appname = check_app_id(appname)
        self.bucket = check_bucket_name(bucket)
        self.userid = userid
        self.clientid = clientid or new_clientid()
        self.api_url = protocol.api_url(api_url, host=host, scheme=scheme)
        self._auth_token = auth_token

    @property
    def name(self) -> str:
        """The bucket's name."""
        return self.bucket

    @property
    def auth_token(self) -> str:
        return self._auth_token

    def __repr__(self) -> str:
        user = f" userid={self.userid!r}" if self.userid else ""
        kind = type(self).__name__
        return f"<{kind} {self.appname}/{self.bucket}{user} clientid={self.clientid!r}>"

    # -- addresses ------------------------------------------------------------------------

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

    # -- the calls ------------------------------------------------------------------------

    def index_call(
        self, data: bool, mark: str | None, limit: int | None, since: str | None
    ) -> Call[bytes]:
        """An index page, as the JSON bytes the server sent (unchecked)."""
        if limit is not None and not 1 <= limit <= 1000:
            raise ValueError(f"limit must be between 1 and 1000, got {limit}")
        params = {"data": "1" if data else None, "mark": mark, "limit": limit, "since": since}
        return Call("GET", self._url("index"), {"params": params}, _content)

    def fetch_call(self, item: str, version: int | None) -> Call[Document]:
        def parse(response: Response) -> Document:
            return Document(item, _version_of(response, version), _object_of(response))

        return Call("GET", self._item_url(item, version), {}, parse)

    def user_call(self) -> Call[str]:
        return Call("GET", f"{self.api_url}/1/{quote(self.appname, safe='')}/user", {}, _userid)

    def write_call(
        self,
        item: str,
        data: Mapping[str, Any],
        version: int | None,
        replace: bool,
        ccid: str | None,
    ) -> Call[Document | None]:
        """A write; its result is None when the current document must be fetched instead
        (a change that alters nothing, 412, or a retry whose first attempt was applied, 409)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"object data must be a mapping, got {type(data).__name__}")
        params = {
            "clientid": self.clientid,
            "ccid": ccid or new_ccid(),
            "response": "1",
            "replace": "1" if replace else None,
        }

        def parse(response: Response) -> Document | None:
            if response.status_code == 412 or (response.status_code == 409 and response.retried):
                return None
            raise_for(response)
            return Document(item, _version_of(response, None), _object_of(response))

        options = {"params": params, "json_body": dict(data), "raise_for_status": False}
        return Call("POST", self._item_url(item, version), options, parse)

    def delete_call(self, item: str, version: int | None, ccid: str | None) -> Call[str]:
        ccid = ccid or new_ccid()
        params = {"clientid": self.clientid, "ccid": ccid}

        def parse(response: Response) -> str:
            if not (response.retried and response.status_code in (404, 409)):
                raise_for(response)  # else the earlier attempt deleted it
            return ccid

        url = self._item_url(item, version)
        return Call("DELETE", url, {"params": params, "raise_for_status": False}, parse)

    def bulk_call(self, body: bytes, wait: bool) -> Call[list[JSONDict]]:
        params = {"clientid": self.clientid, "wait": "1" if wait else None}

        def parse(response: Response) -> list[JSONDict]:
            if not wait:
                return []
            answer = response.json()
            if not isinstance(answer, list):
                raise ProtocolError("bulk change response is not a list")
            return answer

        return Call("POST", self._url("changes"), {"params": params, "json_text": body}, parse)

    def changes_call(
        self, cv: str | None, timeout: float | None, wait: bool, batch: int | None
    ) -> Call[list[JSONDict]]:
        params = {
            "clientid": self.clientid,
            "cv": cv,
            "wait": None if wait else "0",
            "batch": None if batch is None else str(batch),
        }
        return self._long_poll(self._url("changes"), params, timeout)

    def all_call(
        self,
        cv: str | None,
        data: bool,
        username: bool,
        most_recent: bool,
        timeout: float | None,
        skip_clientids: Iterable[str],
        batch: int | None,
        wait: bool,
    ) -> Call[list[JSONDict]]:
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
    ) -> Call[list[JSONDict]]:
        options = {"params": params, "timeout": timeout, "retry_timeouts": False}
        return Call("GET", url, options, _change_list, on_timeout=[])


def _content(response: Response) -> bytes:
    return response.content


def _userid(response: Response) -> str:
    body = response.json()
    userid = body.get("userid") if isinstance(body, dict) else None
    if not isinstance(userid, str) or not userid:
        raise ProtocolError("user response has no userid")
    return userid


def _change_list(response: Response) -> list[JSONDict]:
    body = response.json()
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


def head_of(page: JSONDict) -> str | None:
    """A bucket's current cv from its first index page (None for one that never changed)."""
    current = page.get("current")
    return current if isinstance(current, str) and current else None


def raise_for(response: Response) -> None:
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
