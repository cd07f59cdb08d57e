"""One bucket's changes over Simperium's websocket streaming protocol (the client side).

The HTTP feed long-polls ``GET /changes``; a :class:`StreamChannel` instead keeps one websocket
open and the server pushes every change of the bucket as it is written. It gives the same
change dicts as ``/changes`` (``id``, ``o``, ``v``, ``sv``, ``ev``, ``cv``, ``ccids``,
``clientid``), in cv order, each once::

    from simperium_orm.listen.stream import StreamChannel

    with StreamChannel(client, "todo", cv=saved_cv) as stream:
        while running:
            for change in stream.changes(timeout=30):   # waits up to 30 s for the first
                handle(change)
            saved_cv = stream.cv                        # after the last change returned

API:

- ``StreamChannel(client, bucket, *, cv=None, url=None, heartbeat=20.0)``: ``client`` gives
  the app, the user's token (an admin key opens no channel), the ``clientid`` the server
  records for this client's writes and the retry policy; ``cv`` is where to resume (None:
  the bucket's head, only new changes); ``url`` overrides the websocket URL (default:
  :func:`stream_url` of ``client.api_url``); ``heartbeat`` is the seconds of silence after
  which an ``h:`` is sent (and twice that without any answer means the connection is dead).
- ``changes(cv=MISSING, timeout=None, batch=100) -> list[dict]``: up to ``batch`` changes
  after ``self.cv``; with ``timeout`` it waits that long for the first one, without it
  returns what has arrived. Given a ``cv`` other than ``self.cv`` it resumes from there
  (as ``Bucket.changes(cv=...)`` would read). Connects on first use.
- ``cv``: the cv of the last change returned (or where it resumes from); None until the
  head is known.
- ``close()``: from any thread; a waiting ``changes()`` returns ``[]``.

Errors are the HTTP side's: :class:`~simperium_orm.errors.AuthError` for a refused token,
:class:`~simperium_orm.errors.NotFound` for a cv the server does not know (re-index, as on
HTTP), :class:`~simperium_orm.errors.BadRequest`/``ServerError`` for other refusals, and
:class:`~simperium_orm.errors.TransportError` once reconnecting has failed as often as the
client's retry policy allows. A dropped socket is reopened and resumed from ``cv``: the server
sends each change once per channel, and what was received but not yet returned is asked for
again, so nothing is lost or returned twice.

It needs the ``websockets`` package (``pip install 'simperium-orm[stream]'``), imported only
when a channel connects, so ``import simperium_orm`` stays free of it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from simperium_orm.errors import NotFound, ProtocolError, TransportError, error_for_status
from simperium_orm.protocol import MISSING, check_bucket_name

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

    from simperium_orm.client import Client

__all__ = ["StreamChannel", "stream_url"]

CHANNEL = 0
LIBRARY = "simperium-orm"


def stream_url(api_url: str, app_id: str) -> str:
    """The websocket URL beside an HTTP API URL: ``https://h`` -> ``wss://h/sock/1/{app}/websocket``."""
    scheme, _, rest = api_url.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/sock/1/{app_id}/websocket"


class _Dropped(Exception):
    """The socket is gone (closed, silent past its heartbeat, or never opened)."""


class StreamChannel:
    def __init__(
        self,
        client: Client,
        bucket: str,
        *,
        cv: str | None = None,
        url: str | None = None,
        heartbeat: float = 20.0,
    ) -> None:
        self.client = client
        self.bucket = check_bucket_name(bucket)
        self.url = url or stream_url(client.api_url, client.app_id)
        self.heartbeat = heartbeat
        self._cv = cv
        self._buffer: deque[dict[str, Any]] = deque()
        self._ws: ClientConnection | None = None
        self._heard = 0.0  # monotonic time of the last message
        self._beats = 0
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"<StreamChannel {self.client.app_id}/{self.bucket} cv={self._cv!r}>"

    def __enter__(self) -> StreamChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cv(self) -> str | None:
        return self._cv

    def close(self) -> None:
        self._closed.set()
        self._drop()

    # -- reading ----------------------------------------------------------------------------

    def changes(
        self, cv: Any = MISSING, timeout: float | None = None, batch: int = 100
    ) -> list[dict[str, Any]]:
        """Up to ``batch`` changes after :attr:`cv` (see the module's docstring)."""
        if cv is not MISSING and cv != self._cv:
            self._cv = cv
            self._buffer.clear()
            self._drop()  # the server pushes from where the channel was synced: sync again
        deadline = time.monotonic() + (timeout or 0.0)
        attempt = 0
        while not self._closed.is_set():
            try:
                self._read(wait=not self._buffer and time.monotonic() < deadline, until=deadline)
                attempt = 0
            except _Dropped as exc:
                self._drop()
                if self._closed.is_set():
                    break
                attempt = self._backoff(exc, attempt)
                continue
            if self._buffer or time.monotonic() >= deadline:
                break
        return self._take(batch)

    def _take(self, batch: int) -> list[dict[str, Any]]:
        taken = [self._buffer.popleft() for _ in range(min(batch, len(self._buffer)))]
        if taken:
            self._cv = taken[-1].get("cv", self._cv)
        return taken

    def _backoff(self, exc: _Dropped, attempt: int) -> int:
        error = TransportError(f"stream of {self.bucket!r} lost: {exc}", sent=False)
        wait = self.client.transport.policy.after_error(error, attempt, safe=True)
        if wait is None:
            raise error from None
        self._closed.wait(wait)
        return attempt + 1

    def _read(self, *, wait: bool, until: float) -> None:
        """Take every message that has arrived; with ``wait``, wait until one change does
        (or ``until``), sending heartbeats through silences."""
        ws = self._ws or self._connect()
        while True:
            now = time.monotonic()
            silence = now - self._heard
            if silence >= 2 * self.heartbeat:
                raise _Dropped(f"no answer for {silence:.0f} s")
            if silence >= self.heartbeat * (1 + self._beats):
                self._send(f"h:{self._beats}")
                self._beats += 1
            slice_ = max(0.0, min(until - now, self.heartbeat * (1 + self._beats) - silence))
            message = self._recv(ws, slice_ if wait else 0.0)
            if message is None:
                if not wait or time.monotonic() >= until:
                    return
                continue
            self._handle(message)
            if wait and self._buffer:
                wait = False  # got one: take only what has already arrived

    def _handle(self, message: str) -> None:
        prefix, _, rest = message.partition(":")
        if prefix == "h":
            return
        command, _, data = rest.partition(":")
        if prefix != str(CHANNEL):
            return
        if command == "c":
            self._buffer.extend(_json_list(data))
        elif command == "cv" and data == "?":
            self._drop()
            raise NotFound(f"404: unknown cv {self._cv!r}", status_code=404)

    # -- the socket -------------------------------------------------------------------------

    def _connect(self) -> ClientConnection:
        """Open the socket, authenticate the channel and sync it at :attr:`cv`."""
        try:
            from websockets.exceptions import WebSocketException
            from websockets.sync.client import connect
        except ImportError as exc:  # pragma: no cover - installed with the stream extra
            raise ImportError(
                "the stream needs websockets: pip install 'simperium-orm[stream]'"
            ) from exc
        try:
            # Entered at once: websockets 17 warns about a connection not used as a
            # context manager; older ones return the connection as it is.
            ws = connect(
                self.url,
                open_timeout=self.client.timeout,
                max_size=None,
                compression=None,
                user_agent_header=LIBRARY,
            ).__enter__()
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise _Dropped(f"cannot connect: {type(exc).__name__}") from None
        self._ws, self._heard, self._beats = ws, time.monotonic(), 0
        init = {
            "clientid": self.client.clientid,
            "api": "1.1",
            "token": self.client._token,
            "app_id": self.client.app_id,
            "name": self.bucket,
            "library": LIBRARY,
            "version": "1",
        }
        self._send(f"{CHANNEL}:init:{json.dumps(init)}")
        self._auth(self._reply(ws, "auth"))
        if self._cv is None:  # only new changes: the head is the index's current
            self._send(f"{CHANNEL}:i::::1")
            page = _json_object(self._reply(ws, "i"))
            self._cv = str(page.get("current") or "0" * 24)
        self._send(f"{CHANNEL}:cv:{self._cv}")
        return ws

    def _auth(self, text: str) -> None:
        if not text.startswith("{"):
            return  # the username: authenticated
        body = _json_object(text)
        code = body.get("code")
        status = code if isinstance(code, int) else int(str(code)) if str(code).isdigit() else 500
        self._drop()
        raise error_for_status(status, str(body.get("msg", "channel refused")))

    def _reply(self, ws: ClientConnection, command: str) -> str:
        """The data of the next ``0:<command>:`` message (heartbeats in between are read)."""
        deadline = time.monotonic() + (self.client.timeout or 30.0)
        while True:
            message = self._recv(ws, max(0.0, deadline - time.monotonic()))
            if message is None:
                raise _Dropped(f"no {command} answer")
            head = f"{CHANNEL}:{command}:"
            if message.startswith(head):
                return message[len(head) :]

    def _recv(self, ws: ClientConnection, timeout: float) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = ws.recv(timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise _Dropped(f"closed ({exc.rcvd.code if exc.rcvd else 'no code'})") from None
        self._heard, self._beats = time.monotonic(), 0
        return message if isinstance(message, str) else None

    def _send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise _Dropped("not connected")
        try:
            self._ws.send(text)
        except ConnectionClosed:
            raise _Dropped("closed while sending") from None

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        self._buffer.clear()  # asked for again from cv on the next socket
        if ws is not None:
            ws.close()


def _json(text: str, kind: type, what: str) -> Any:
    """A stream answer's JSON, which must be a ``kind``."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, kind):
        raise ProtocolError(f"{what} that is not a JSON {kind.__name__}")
    return value


def _json_list(text: str) -> list[dict[str, Any]]:
    changes = _json(text, list, "a c: message")
    return [change for change in changes if isinstance(change, dict) and "error" not in change]


def _json_object(text: str) -> dict[str, Any]:
    value: dict[str, Any] = _json(text, dict, "a stream answer")
    return value
