"""One websocket's conversation: its channels, the answer to each frame, and its pushes.

Frames are handled one at a time, in order, on the event loop's thread (the store is
synchronous). Writes go through the HTTP side's :class:`~simperium_orm.server.changes.Writer`
and wake subscribers through :meth:`State.notify`, so a change reaches every channel of that
user's bucket, on this socket or another, and every waiting long-poll. The pump sends each
channel's pushes, its sender's acknowledgement included; errors go to the sender alone.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from simperium_orm.protocol import CV_PATTERN
from simperium_orm.server import stream_protocol as sp
from simperium_orm.server.channels import Channel
from simperium_orm.server.index_pages import IndexPage, InvalidMark, read_page
from simperium_orm.server.outbox import Outbox
from simperium_orm.server.state import State

__all__ = ["Session"]

_CHUNK = 64  # changes of one c: message committed together before other work may run
_PAGE_BYTES = sp.MESSAGE_BYTES - 100  # an index page's entries, leaving room for the rest


class Session:
    """The channels of one socket; ``app_known`` is False where the URL names no app (then
    each ``init`` must carry this server's ``app_id``)."""

    def __init__(self, state: State, outbox: Outbox, *, app_known: bool, app_ok: bool) -> None:
        self.state = state
        self.store = state.store
        self.outbox = outbox
        self.app_known = app_known
        self.app_ok = app_ok
        self.channels: dict[int, Channel] = {}
        self._wakers: dict[int, functools.partial[None]] = {}
        self._due: dict[int, Channel] = {}  # channels with pushes to look for, in order
        self._dirty = asyncio.Event()

    # -- frames ---------------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        """Answer one text frame; :class:`~stream_protocol.ProtocolError` closes the socket."""
        frame = sp.parse_frame(text)
        if isinstance(frame, sp.Heartbeat):
            self.outbox.put(sp.heartbeat(frame.count))
        elif isinstance(frame, sp.Command):
            await self.command(frame)

    async def command(self, frame: sp.Command) -> None:
        number, name, data = frame.channel, frame.name, frame.data
        if name == "init":
            then = self.open(number, data)
            if then is not None:
                await self.command(then)
            return
        channel = self.channels.get(number)
        if channel is None:
            if name != "index":
                message = f"channel {number} is not open: send init first"
                self.outbox.put(sp.auth_error(number, 401, message))
        elif name == "i":
            self.index(channel, data)
        elif name == "cv":
            self.catch_up(channel, data)
        elif name == "e":
            self.entity(channel, data)
        elif name == "c":
            await self.changes(channel, data)
        # "index" (a client's own state, asked for by a server "index") needs no answer

    def open(self, number: int, data: str) -> sp.Command | None:
        """``init``: authenticate and open (or reopen) the channel; the ``cmd`` to run then."""
        self.close_channel(number)
        try:
            init = sp.parse_init(data)
            userid = self._authorize(init)
        except sp.Refused as exc:
            self.outbox.put(sp.auth_error(number, exc.code, exc.message))
            return None
        channel = Channel(number, userid, init.bucket, init.clientid, init.library)
        self.channels[number] = channel
        self._wakers[number] = wake = functools.partial(self._push, channel)
        self.state.subscribe(userid, init.bucket, wake)
        self.outbox.put(sp.auth_ok(number, self.store.username_of(userid) or userid))
        if not init.cmd:
            return None
        command = sp.parse_frame(f"{number}:{init.cmd}")  # Android's first index request
        return command if isinstance(command, sp.Command) and command.name != "init" else None

    def _authorize(self, init: sp.Init) -> str:
        if init.app_id is None and not self.app_known:
            raise sp.Refused(400, "init needs app_id on this URL")
        if not self.app_ok or (init.app_id is not None and not self.state.is_app_id(init.app_id)):
            raise sp.Refused(401, "unknown app id")
        if len(self.channels) >= sp.MAX_CHANNELS:
            raise sp.Refused(500, f"more than {sp.MAX_CHANNELS} channels on one socket")
        if self.state.keys.is_admin(init.token):
            raise sp.Refused(401, "the admin key opens no channel: use a user's token")
        userid = self.state.keys.userid_for(init.token)
        if userid is None:
            raise sp.Refused(401, "Token invalid")
        return userid

    def index(self, channel: Channel, data: str) -> None:
        config = self.state.config
        request = sp.parse_index(data, config.index_limit, config.index_limit_max)
        try:
            page = self._page(channel, request, request.mark)
        except InvalidMark:  # a mark from another server: walk again from the start
            page = self._page(channel, request, None)
        self.outbox.put(sp.index_page(channel.number, page.text))
        channel.listed(page, self.store.head_cv(channel.userid, channel.bucket))
        if page.mark is None:
            self._push(channel)

    def _page(self, channel: Channel, request: sp.IndexRequest, mark: str | None) -> IndexPage:
        return read_page(
            self.store,
            channel.userid,
            channel.bucket,
            data=request.data,
            mark=mark,
            since=None,
            limit=request.limit,
            max_bytes=_PAGE_BYTES,
        )

    def catch_up(self, channel: Channel, cv: str) -> None:
        known = CV_PATTERN.fullmatch(cv) and self.store.knows_cv(cv, channel.bucket, channel.userid)
        if not known:
            self.outbox.put(sp.unknown_cv(channel.number))
            return
        channel.catch_up(cv, self.store.head_cv(channel.userid, channel.bucket))
        self._push(channel)

    def entity(self, channel: Channel, data: str) -> None:
        wanted = sp.parse_entity(data)
        text = None
        if wanted is not None:
            item, version = wanted
            text = self.store.get_version(channel.userid, channel.bucket, item, version)
        self.outbox.put(sp.entity(channel.number, data.replace("\n", " ")[:300], text))

    async def changes(self, channel: Channel, data: str) -> None:
        userid, bucket, clientid = channel.userid, channel.bucket, channel.clientid
        try:
            entries = sp.parse_changes(data)
            if len(entries) > self.state.config.max_bulk_changes:
                limit = self.state.config.max_bulk_changes
                raise sp.Refused(413, f"more than {limit} changes in one message")
        except sp.Refused as exc:
            refused = sp.refusal(clientid, exc.code)
            self.outbox.put(sp.change_errors(channel.number, [refused]))
            return
        for start in range(0, len(entries), _CHUNK):
            chunk = [sp.prepare_change(e, channel.library) for e in entries[start : start + _CHUNK]]
            with self.store.transaction():
                results = [self.state.writer.submit(userid, bucket, e, clientid) for e in chunk]
            errors = [
                self._echoed_delete(channel, entry, result)
                for entry, result in zip(chunk, results, strict=True)
                if "error" in result
            ]
            if errors:
                self.outbox.put(sp.change_errors(channel.number, errors))
            if len(errors) < len(results):
                self.state.notify(userid, bucket)
            await asyncio.sleep(0)

    def _echoed_delete(
        self, channel: Channel, entry: Any, result: dict[str, Any]
    ) -> dict[str, Any]:
        """node-simperium deletes what a remote delete removed, echoing the delete back: a
        delete of an object already deleted is an empty change (412, which node acknowledges)."""
        if result["error"] == 404 and isinstance(entry, dict) and entry.get("o") == "-":
            row = self.store.get_object(channel.userid, channel.bucket, str(entry.get("id")))
            if row is not None and row.data is None:
                return {**result, "error": 412}
        return result

    # -- pushes ---------------------------------------------------------------------------

    def _push(self, channel: Channel) -> None:
        self._due[channel.number] = channel
        self._dirty.set()

    async def pump(self) -> None:
        """Send each woken channel the changes it has not had yet (runs for the socket's life)."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            while self._due:
                number = next(iter(self._due))
                channel = self._due.pop(number)
                if self.channels.get(number) is not channel:
                    continue  # closed or reopened since
                await self.outbox.room()
                messages, more = channel.pushes(self.store)
                for message in messages:
                    self.outbox.put(message)
                if more:
                    self._push(channel)
                await asyncio.sleep(0)

    def close_channel(self, number: int) -> None:
        channel = self.channels.pop(number, None)
        if channel is not None:
            self.state.unsubscribe(channel.userid, channel.bucket, self._wakers.pop(number))
            self._due.pop(number, None)

    def close(self) -> None:
        for number in list(self.channels):
            self.close_channel(number)
