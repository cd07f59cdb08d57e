"""AsyncListener against the local server: events and signals as the sync listener gives them,
the checkpoint advancing only past events whose loop body finished."""

from __future__ import annotations

import asyncio
from typing import Any

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.testing import SimperiumServer


class Memo(so.Model, bucket="amemo"):
    text: str = ""


async def _take(events: so.AsyncListener, n: int) -> list[so.RemoteEvent]:
    got = []
    async for event in events:
        got.append(event)
        if len(got) == n:
            break
    return got


async def test_events_signals_and_the_checkpoint(local_server: SimperiumServer) -> None:
    token = local_server.create_user()
    listening, writer = local_server.client(token), local_server.client(token)
    seen: list[tuple[str, Any]] = []

    async def created(sender: Any, instance: Memo, **kw: Any) -> None:
        await asyncio.sleep(0)
        seen.append(("created", instance.text))

    def updated(sender: Any, instance: Memo, changed_fields: set[str], **kw: Any) -> None:
        seen.append(("updated", sorted(changed_fields)))

    signals.remote_created.connect(created, sender=Memo)
    signals.remote_updated.connect(updated, sender=Memo)
    cp = so.MemoryCheckpoint()
    try:
        async with so.AsyncListener(Memo, client=listening, checkpoint=cp) as events:
            m = await Memo.objects.using(writer).acreate(text="one")
            m.text = "two"
            await m.asave()
            got = await asyncio.wait_for(_take(events, 2), 10)
            assert [(e.kind, e.id, e.version) for e in got] == [
                ("created", m.id, 1),
                ("updated", m.id, 2),
            ]
            assert got[1].instance is not None and got[1].instance.text == "two"
    finally:
        signals.remote_created.disconnect(created, sender=Memo)
        signals.remote_updated.disconnect(updated, sender=Memo)
    assert seen == [("created", "one"), ("updated", ["text"])]

    # a new listener from the checkpoint delivers again only the event that was in hand
    async with so.AsyncListener(Memo, client=listening, checkpoint=cp) as events:
        again = await asyncio.wait_for(_take(events, 1), 10)
        assert [(e.kind, e.version) for e in again] == [("updated", 2)]
    for c in (listening, writer):
        await c.aclose()
        c.close()


async def test_own_writes_are_not_events_and_users_are_apart(local_server: SimperiumServer) -> None:
    alice, bob = local_server.client(), local_server.client()
    async with so.AsyncListener(Memo, client=alice) as events:
        await Memo.objects.using(alice).acreate(text="mine")
        await Memo.objects.using(bob).acreate(text="bob's")
        other = local_server.client(alice._token)
        await Memo.objects.using(other).acreate(text="remote")
        got = await asyncio.wait_for(_take(events, 1), 10)
        assert got[0].instance is not None and got[0].instance.text == "remote"
        await other.aclose()
        other.close()
    for c in (alice, bob):
        await c.aclose()
        c.close()
