"""The outbox: messages leave in order, and producers wait while a client does not read."""

from __future__ import annotations

import asyncio

from simperium_orm.server.outbox import Outbox


class SlowSocket:
    """Takes messages only when let through, as a client that stops reading."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.closed: tuple[int, str] | None = None

    async def send_text(self, message: str) -> None:
        await self.gate.wait()
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_producers_wait_for_room_and_everything_is_sent_in_order_before_the_close() -> None:
    async def scenario() -> None:
        socket = SlowSocket()
        outbox = Outbox(room_bytes=100)
        writer = asyncio.ensure_future(outbox.run(socket))  # type: ignore[arg-type]
        for n in range(30):
            outbox.put(f"message {n:02d}")  # 10 bytes each: past the room
        waiting = asyncio.ensure_future(outbox.room())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the client reads nothing: the producer waits
        socket.gate.set()
        await asyncio.wait_for(waiting, 5)
        outbox.close(1002, "bye")
        outbox.put("after the close")  # dropped
        await asyncio.wait_for(writer, 5)
        assert socket.sent == [f"message {n:02d}" for n in range(30)]
        assert socket.closed == (1002, "bye") and outbox.closed

    asyncio.run(scenario())
