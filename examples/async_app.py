"""The ORM from asyncio: awaited saves and queries, many saves in flight, and an AsyncListener
that hears another device's edits.

Run it as is (it starts a local server) or with SIMPERIUM_APP_ID and SIMPERIUM_API_KEY set.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _devices import two_devices

import simperium_orm as so
from simperium_orm import signals


class Todo(so.Model, bucket="async_todo"):
    title: str
    done: bool = False


async def main(phone: so.Client, laptop: so.Client) -> None:
    so.connect(phone)

    # One object: create, edit, read back.
    todo = await Todo.objects.acreate(title="buy milk")
    todo.done = True
    await todo.asave()
    print("saved", await Todo.objects.aget(str(todo.id)))

    # Many saves at once over one pool: 16 in flight.
    limit = asyncio.Semaphore(16)

    async def save(title: str) -> None:
        async with limit:
            await Todo(title=title).asave()

    await asyncio.gather(*(save(f"task {i}") for i in range(50)))
    print("objects:", await Todo.objects.acount())
    print("open:", [t.title async for t in Todo.objects.filter(done=False)[:3]], "...")
    page = await Todo.objects.order_by("title").apage(limit=5)
    print("first page:", [t.title for t in page], "more:", page.cursor is not None)

    # A coroutine receiver and an async iterator of the laptop's edits.
    async def announce(sender: Any, instance: Todo, **kw: Any) -> None:
        print("signal: the laptop created", instance.title)

    signals.remote_created.connect(announce, sender=Todo)
    async with so.AsyncListener(Todo, client=phone) as events:
        await Todo.objects.using(laptop).acreate(title="from the laptop")
        async for event in events:
            print("event:", event.kind, event.instance)
            break
    signals.remote_created.disconnect(announce, sender=Todo)

    deleted = await Todo.objects.filter(done=False).adelete()
    print("deleted", deleted)
    for client in (phone, laptop):
        await client.aclose()


if __name__ == "__main__":
    with contextlib.ExitStack() as stack:
        phone, laptop = two_devices(stack, "async")
        asyncio.run(main(phone, laptop))
        so.disconnect()
