"""The websocket endpoints: ``/sock/1/{app}/websocket`` and ``/sock/websocket``.

Simperium's clients (node-simperium, iOS, Android) speak its streaming protocol here, on the
same port and over the same store as the HTTP API. A socket lives as three tasks: this
receive loop, the session's pump (pushes) and the outbox's writer. A frame outside the
protocol closes the socket with a code and a reason; nothing a client sends ends the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from simperium_orm.server import stream_protocol as sp
from simperium_orm.server.outbox import Outbox
from simperium_orm.server.state import State
from simperium_orm.server.stream_session import Session

__all__ = ["StreamRoutes"]

log = logging.getLogger("simperium_orm.server")

#: How long a socket that is closing may take to send what it had queued.
_CLOSE_WAIT = 10.0


class StreamRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    async def socket(self, websocket: WebSocket) -> None:
        """One client's socket, from the handshake to the close."""
        app = websocket.path_params.get("app")
        # An unknown app is answered in the protocol (each init gets a 401, which tells
        # node-simperium to stop), not by refusing the socket (which it would retry forever).
        app_ok = app is None or self.state.is_app(websocket)
        await websocket.accept()
        outbox = Outbox()
        session = Session(self.state, outbox, app_known=app is not None, app_ok=app_ok)
        writer = asyncio.ensure_future(outbox.run(websocket))
        pump = asyncio.ensure_future(session.pump())
        try:
            if await self._receive(websocket, session, outbox):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), _CLOSE_WAIT)
        finally:
            session.close()
            pump.cancel()
            writer.cancel()

    async def _receive(self, websocket: WebSocket, session: Session, outbox: Outbox) -> bool:
        """Handle frames until the client goes (False) or the server closes the socket (True)."""
        while not outbox.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return False
            text = message.get("text")
            try:
                if text is None:
                    raise sp.ProtocolError("binary frames are not Simperium's", sp.CLOSE_BINARY)
                await session.handle(text)
            except sp.ProtocolError as exc:
                outbox.close(exc.code, exc.reason)
                return True
            except Exception as exc:  # ours: logged without the frame, which may hold a token
                log.error("internal error on a websocket frame: %s", type(exc).__name__)
                outbox.close(sp.CLOSE_INTERNAL, "internal server error")
                return True
            await outbox.room()
            await asyncio.sleep(0)  # one client's burst of frames must not starve the others
        return False

    def routes(self) -> list[WebSocketRoute]:
        return [
            WebSocketRoute("/sock/1/{app}/websocket", self.socket),
            WebSocketRoute("/sock/websocket", self.socket),
        ]
