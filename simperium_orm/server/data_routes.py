"""The data host: objects, versions, index, change feeds and bulk changes of one bucket."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Hashable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simperium_orm.protocol import CV_PATTERN, ID_PATTERN, TOKEN_PATTERN
from simperium_orm.server.changes import ChangeError, TooDeep, change_object, decode
from simperium_orm.server.http import (
    Problem,
    bucket_name,
    flag,
    int_param,
    json_response,
    raw_json,
    read_body,
)
from simperium_orm.server.index_pages import InvalidMark, read_page
from simperium_orm.server.state import State
from simperium_orm.server.store import ChangeRow

_VERSION_HEADER = "X-Simperium-Version"
_VERSION = re.compile(r"[0-9]{1,18}")
_YIELD_EVERY = 64  # bulk changes applied between two chances for other requests to run


def _problem(exc: ChangeError) -> Problem:
    headers = {_VERSION_HEADER: str(exc.version)} if exc.version is not None else None
    status = 400 if exc.status == 440 else exc.status  # 440 exists only in change results
    return Problem(status, exc.message, headers=headers)


def _text_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and not TOKEN_PATTERN.fullmatch(value):
        raise Problem(400, f"invalid {name}: use 1-256 printable ASCII characters")
    return value


def _item_params(request: Request) -> tuple[str, int | None]:
    item = str(request.path_params["item"])
    if not ID_PATTERN.fullmatch(item):
        raise Problem(400, "invalid object id: use 1-256 of a-z A-Z 0-9 . _ - % @ (not . or ..)")
    raw = request.path_params.get("version")
    if raw is None:
        return item, None
    if not _VERSION.fullmatch(str(raw)) or int(raw) < 1:
        raise Problem(400, "version must be a positive integer")
    return item, int(raw)


async def _disconnected(request: Request) -> object:
    """Returns once the client has gone (a long-poll it abandoned need not wait on)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    return None


class DataRoutes:
    def __init__(self, state: State) -> None:
        self.state = state
        self.store = state.store
        self.writer = state.writer
        self.config = state.config

    # -- who is asking ----------------------------------------------------------------------

    def _token(self, request: Request) -> str:
        self.state.check_app(request)
        token = request.headers.get("x-simperium-token")
        if not token:
            raise Problem(401, "missing X-Simperium-Token")
        return token

    def _user(self, request: Request) -> str:
        """The userid the request acts for (a user's token, or the admin key as a user)."""
        token = self._token(request)
        named = request.path_params.get("user") or request.headers.get("x-simperium-user")
        if self.state.keys.is_admin(token):
            if not named:
                raise Problem(400, "with the admin key, name the user in X-Simperium-User")
            if self.store.user_by_id(named) is None:
                raise Problem(400, "X-Simperium-User names no user of this app")
            return str(named)
        userid = self.state.keys.userid_for(token)
        if userid is None:
            raise Problem(401, "authorization error, check token")
        if named and named != userid:
            raise Problem(403, "only the admin key can act as another user")
        return userid

    def _admin(self, request: Request) -> None:
        token = self._token(request)
        if self.state.keys.is_admin(token):
            return
        if self.state.keys.userid_for(token) is not None:
            raise Problem(403, "this call needs the admin key")
        raise Problem(401, "authorization error, check token")

    # -- objects ----------------------------------------------------------------------------

    async def item(self, request: Request) -> Response:
        userid = self._user(request)
        bucket = bucket_name(request)
        item, version = _item_params(request)
        if request.method in ("GET", "HEAD"):
            return self._get(userid, bucket, item, version)
        clientid, ccid = _text_param(request, "clientid"), _text_param(request, "ccid")
        replace, want_data = flag(request, "replace"), flag(request, "response")
        try:
            if request.method == "DELETE":
                with self.store.transaction():
                    applied = self.writer.delete(
                        userid, bucket, item, version=version, ccid=ccid, clientid=clientid
                    )
            else:
                body = await self._body(request, dict, "a JSON object")
                with self.store.transaction():
                    applied = self.writer.post(
                        userid,
                        bucket,
                        item,
                        body,
                        base=version,
                        replace=replace,
                        ccid=ccid,
                        clientid=clientid,
                    )
        except ChangeError as exc:
            raise _problem(exc) from None
        self.state.notify(userid, bucket)
        headers = {_VERSION_HEADER: str(applied.version)}
        if request.method == "DELETE":
            return Response(b"", 200, headers)
        if want_data and applied.data is not None:
            return raw_json(applied.data, headers=headers)
        return Response(str(applied.version), 200, headers, "text/plain")

    def _get(self, userid: str, bucket: str, item: str, version: int | None) -> Response:
        row = self.store.get_object(userid, bucket, item)
        if row is None or row.data is None:
            raise Problem(404, "object does not exist")
        if version is None or version == row.version:
            text: str | None = row.data
        else:
            text = self.store.get_version(userid, bucket, item, version)
        if text is None or (version is not None and version > row.version):
            headers = {_VERSION_HEADER: str(row.version)}
            raise Problem(404, "specified object version does not exist", headers=headers)
        return raw_json(text, headers={_VERSION_HEADER: str(version or row.version)})

    async def _body(self, request: Request, kind: type, what: str) -> Any:
        raw = await read_body(request, self.config.max_body_size)
        try:
            body = decode(raw)
        except TooDeep as exc:
            raise Problem(400, f"request body is {exc}") from None
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "request body is not valid JSON") from None
        if not isinstance(body, kind):
            raise Problem(400, f"request body must be {what}")
        return body

    # -- index ------------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        userid = self._user(request)
        bucket = bucket_name(request)
        data = flag(request, "data")
        limit = int_param(request, "limit", self.config.index_limit, 1, self.config.index_limit_max)
        mark = request.query_params.get("mark") or None
        since = request.query_params.get("since") or None
        if since is not None and not CV_PATTERN.fullmatch(since):
            raise Problem(400, "since must be a cv")
        try:
            page = read_page(
                self.store, userid, bucket, data=data, mark=mark, since=since, limit=limit
            )
        except InvalidMark:
            raise Problem(400, "invalid mark") from None
        return raw_json(page.text)

    # -- change feeds -----------------------------------------------------------------------

    async def changes(self, request: Request) -> Response:
        userid = self._user(request)
        bucket = bucket_name(request)
        if request.method == "POST":
            return await self._bulk(request, userid, bucket)
        return await self._feed(request, bucket, userid, ("user", userid, bucket))

    async def all(self, request: Request) -> Response:
        self._admin(request)
        bucket = bucket_name(request)
        return await self._feed(request, bucket, None, ("bucket", bucket))

    async def _feed(
        self, request: Request, bucket: str, userid: str | None, key: Hashable
    ) -> Response:
        """GET /changes (one user) or /all (``userid`` None): the log after ``cv``, waiting."""
        cv = request.query_params.get("cv") or None
        if cv is not None and not (
            CV_PATTERN.fullmatch(cv) and self.store.knows_cv(cv, bucket, userid)
        ):
            raise Problem(404, "unknown cv")
        wait = flag(request, "wait", default=True)
        batch = int_param(request, "batch", self.config.changes_batch, 1, 1000)
        with_data, most_recent = flag(request, "data"), flag(request, "most_recent")
        with_username = flag(request, "username")
        skip = frozenset(request.query_params.getlist("skip_clientid"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.long_poll_timeout
        cursor = cv or ""
        gone: asyncio.Future[object] | None = None
        try:
            while True:
                rows, cursor = self._scan(bucket, userid, cursor, batch, skip)
                remaining = deadline - loop.time()
                if rows or not wait or remaining <= 0:
                    break
                gone = gone or asyncio.ensure_future(_disconnected(request))
                # Nothing can write between the scan above and taking the event: one thread.
                event = self.state.wakeups.event(key)
                if not await self.state.wakeups.wait(key, event, remaining, gone):
                    break
        finally:
            if gone is not None:
                gone.cancel()
        if most_recent:
            last = {(row.userid, row.id): row.cv for row in rows}
            rows = [row for row in rows if last[row.userid, row.id] == row.cv]
        changes = [
            self._change(row, bucket, userid is None, with_data, with_username) for row in rows
        ]
        return json_response(changes)

    def _scan(
        self, bucket: str, userid: str | None, cursor: str, batch: int, skip: frozenset[str]
    ) -> tuple[list[ChangeRow], str]:
        """The next batch after ``cursor`` without skipped clients, and where scanning stopped."""
        while True:
            rows = self.store.changes_after(bucket, userid, cursor, batch)
            if not rows:
                return [], cursor
            kept = [row for row in rows if row.clientid not in skip] if skip else rows
            if kept:
                return kept, cursor
            cursor = rows[-1].cv

    def _change(
        self, row: ChangeRow, bucket: str, all_users: bool, with_data: bool, with_username: bool
    ) -> dict[str, Any]:
        change = change_object(row, item=f"{row.userid}/{row.id}" if all_users else None)
        if with_data:
            current = None if row.o == "-" else self.store.current_data(row.userid, bucket, row.id)
            change["d"] = None if current is None else json.loads(current)
        if with_username:
            change["username"] = self.store.username_of(row.userid)
        return change

    async def _bulk(self, request: Request, userid: str, bucket: str) -> Response:
        """POST /changes: apply each change on its own; per-change results with ``wait=1``."""
        clientid = _text_param(request, "clientid")
        wait = flag(request, "wait")
        entries = await self._body(request, list, "a JSON array of changes")
        if len(entries) > self.config.max_bulk_changes:
            raise Problem(413, f"more than {self.config.max_bulk_changes} changes in one request")
        results: list[dict[str, Any]] = []
        for start in range(0, len(entries), _YIELD_EVERY):
            # One commit per chunk (each change is its own savepoint inside it), then wake the
            # feeds and let other requests run before the next chunk.
            chunk = entries[start : start + _YIELD_EVERY]
            with self.store.transaction():
                done = [self.writer.submit(userid, bucket, entry, clientid) for entry in chunk]
            results.extend(done)
            if any("error" not in result for result in done):
                self.state.notify(userid, bucket)
            await asyncio.sleep(0)
        return json_response(results if wait else [])

    async def user(self, request: Request) -> Response:
        return json_response({"userid": self._user(request)})

    def routes(self) -> list[Route]:
        item = ["GET", "POST", "DELETE"]
        prefix = "/1/{app}/{bucket}"
        return [
            Route("/1/{app}/user", self.user, methods=["GET"]),
            Route(f"{prefix}/index", self.index, methods=["GET"]),
            Route(f"{prefix}/changes", self.changes, methods=["GET", "POST"]),
            Route(f"{prefix}/all", self.all, methods=["GET"]),
            Route(f"{prefix}/i/{{item}}", self.item, methods=item),
            Route(f"{prefix}/i/{{item}}/v/{{version}}", self.item, methods=item),
            Route(f"{prefix}/i/{{user}}/{{item}}", self.item, methods=item),
            Route(f"{prefix}/i/{{user}}/{{item}}/v/{{version}}", self.item, methods=item),
        ]
