"""A raw websocket to the local server's streaming endpoint, for tests of the protocol itself."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from simperium_orm.testing import SimperiumServer

__all__ = ["Closed", "StreamSocket"]

WAIT = 5.0  # seconds a test waits for a message it expects


class Closed(Exception):
    """The server closed the socket: ``code`` and ``reason`` of its close frame."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


def _closed(exc: ConnectionClosed) -> Closed:
    rcvd = exc.rcvd
    return Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")


class StreamSocket:
    """One websocket; ``recv`` returns text messages, raising :class:`Closed` at the close."""

    def __init__(self, server: SimperiumServer, url: str | None = None) -> None:
        # Entered at once, not in a with block: websockets 17 warns otherwise, older ones
        # return the connection as it is.
        self.ws: ClientConnection = connect(
            url or server.stream_url, max_size=None, open_timeout=WAIT, compression=None
        ).__enter__()

    def __enter__(self) -> StreamSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def send(self, text: str | bytes) -> None:
        try:
            self.ws.send(text)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    def recv(self, timeout: float = WAIT) -> str:
        try:
            message = self.ws.recv(timeout)
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        assert isinstance(message, str), "the server sends text frames only"
        return message

    def quiet(self, timeout: float = 0.2) -> bool:
        """Whether nothing arrives within ``timeout`` seconds."""
        try:
            message = self.ws.recv(timeout)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message[:200]!r}")

    def closed(self) -> Closed:
        """The close the server sends next (any message before it fails the test)."""
        try:
            message = self.recv()
        except Closed as closed:
            return closed
        raise AssertionError(f"expected a close, got {message[:200]!r}")

    def expect(self, prefix: str) -> str:
        """The next message, which must start with ``prefix``; returns what follows it."""
        message = self.recv()
        assert message.startswith(prefix), f"expected {prefix!r}..., got {message[:300]!r}"
        return message[len(prefix) :]

    def expect_json(self, prefix: str) -> Any:
        return json.loads(self.expect(prefix))

    def open(self, channel: int, token: str, bucket: str, **init: Any) -> str:
        """Send ``init``; the auth reply's text (the username on success)."""
        body = {"clientid": f"test-{channel}", "api": "1.1", "name": bucket, "token": token, **init}
        self.send(f"{channel}:init:{json.dumps(body)}")
        return self.expect(f"{channel}:auth:")

    def changes(self, channel: int) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.expect_json(f"{channel}:c:")
        return value

    def synced(
        self, channel: int, token: str, bucket: str, cv: str = "0" * 24
    ) -> list[dict[str, Any]]:
        """Open ``channel`` and catch it up from ``cv`` (the log's start); the catch-up's
        changes. Every later change of the bucket is pushed to it."""
        self.open(channel, token, bucket)
        self.send(f"{channel}:cv:{cv}")
        return self.changes(channel)
