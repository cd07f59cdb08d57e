"""A websocket's outgoing messages: sent in order by one writer, with a byte budget.

Replies (from the receive loop) and pushes (from the channel pump) are queued here and sent
by :meth:`Outbox.run` alone, so a channel's messages leave in the order they were made. A
client that stops reading fills the queue: :meth:`Outbox.room` then makes the receive loop and
the pump wait, so the server stops reading that client's frames (TCP pushes back) instead of
buffering without bound.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["Outbox"]

#: Queued bytes past which producers wait for the client to read.
ROOM_BYTES = 4 * 1024 * 1024


class Outbox:
    def __init__(self, room_bytes: int = ROOM_BYTES) -> None:
        self.room_bytes = room_bytes
        self._messages: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()  # something to send, or a close
        self._roomy = asyncio.Event()
        self._roomy.set()
        self._close: tuple[int, str] | None = None
        self.closed = False

    def put(self, message: str) -> None:
        if self._close is not None:
            return
        self._messages.append(message)
        self._bytes += len(message)
        self._ready.set()
        if self._bytes > self.room_bytes:
            self._roomy.clear()

    def close(self, code: int, reason: str) -> None:
        """Close the socket with ``code`` once the messages queued before are sent."""
        if self._close is None:
            # A close reason has at most 123 bytes.
            self._close = (code, reason.encode()[:120].decode(errors="ignore"))
            self._ready.set()

    async def room(self) -> None:
        """Wait until the client has read enough of what is queued."""
        await self._roomy.wait()

    async def run(self, websocket: WebSocket) -> None:
        """Send until closed; returns when the socket is closed or gone."""
        try:
            while True:
                await self._ready.wait()
                while self._messages:
                    message = self._messages.popleft()
                    self._bytes -= len(message)
                    if self._bytes <= self.room_bytes:
                        self._roomy.set()
                    await websocket.send_text(message)
                if self._close is not None:
                    with contextlib.suppress(RuntimeError):
                        await websocket.close(*self._close)
                    return
                self._ready.clear()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client went away
        finally:
            self.closed = True
            self._roomy.set()  # never leave a producer waiting on a dead socket
