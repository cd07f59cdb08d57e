"""The ORM from asyncio against the local server: the sync scenarios, awaited, giving the
same answers and sending the same signals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.testing import SimperiumServer
from simperium_orm.wire.transport import Transport
from tests.support.fault_proxy import PASS, Fault, FaultProxy, schedule


class Task(so.Model, bucket="atask"):
    title: str
    done: bool = False
    n: int = 0
    tags: list[str] = []


@pytest.fixture
async def aclient(local_server: SimperiumServer) -> AsyncIterator[so.Client]:
    client = local_server.client()
    so.connect(client)
    yield client
    so.disconnect()
    await client.aclose()
    client.close()


async def test_create_get_save_merge_refresh_delete(aclient: so.Client) -> None:
    t = await Task.objects.acreate(title="a", tags=["x"])
    assert t.version == 1 and t.id
    same = await Task.objects.aget(t.id)
    assert same == t
    # concurrent edits of different fields merge, as with save()
    other = Task.objects.get(t.id)
    other.done = True
    other.save()
    t.title = "b"
    await t.asave()
    assert (t.title, t.done, t.version) == ("b", True, 3)
    other.n = 5
    other.save()
    await t.arefresh()
    assert t.n == 5
    t.title = "c"
    t.n = 9
    await t.asave(update_fields=["title"])
    assert Task.objects.get(t.id).title == "c" and Task.objects.get(t.id).n == 5
    assert t.changed_fields() == {"n"}
    await t.asave(replace=True)
    assert Task.objects.get(t.id).n == 9
    await t.adelete()
    with pytest.raises(Task.DoesNotExist):
        await Task.objects.aget(t.id)
    with pytest.raises(Task.DoesNotExist):
        await same.arefresh()


async def test_queries_answer_as_the_sync_ones(aclient: so.Client) -> None:
    Task.objects.bulk_save([Task(title=f"t{i:02}", n=i, done=i % 3 == 0) for i in range(25)])
    qs = Task.objects.filter(done=False)
    assert [o.id async for o in qs] == [o.id for o in qs]
    assert await qs.acount() == qs.count() == 16
    assert await Task.objects.acount() == 25
    assert await qs.aexists() and not await Task.objects.filter(n=99).aexists()
    assert await Task.objects.filter(n=99).afirst() is None
    ordered = Task.objects.order_by("-n")
    assert (await ordered.afirst()) == ordered.first()
    assert [o.n async for o in ordered[3:6]] == [21, 20, 19]
    assert [o.id async for o in Task.objects.all()[2:5]] == [o.id for o in Task.objects.all()[2:5]]
    assert [o.id async for o in Task.objects.aiterate(page_size=4)] == [
        o.id for o in Task.objects.iterate(page_size=4)
    ]
    assert [r async for r in qs.avalues("n")] == list(qs.values("n"))
    for query in (Task.objects.all(), qs, ordered):
        got, cursor = [], None
        while True:
            page = await query.apage(limit=7, cursor=cursor)
            got += [o.id for o in page]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert got == [o.id for o in query]


async def test_bulk_save_and_delete(aclient: so.Client) -> None:
    objs = [Task(title=f"b{i}") for i in range(30)]
    saved = await Task.objects.abulk_save(objs, batch_size=7)
    assert len(saved) == 30 and all(o.version == 1 for o in objs)
    for o in objs[:10]:
        o.done = True
    assert len(await Task.objects.abulk_save(objs)) == 10
    assert Task.objects.filter(done=True).count() == 10
    deleted = await Task.objects.abulk_delete(objs[:20], batch_size=6)
    assert len(deleted) == 20 and await Task.objects.acount() == 10


async def test_signals_reach_coroutine_and_plain_receivers(aclient: so.Client) -> None:
    seen: list[tuple[str, Any]] = []

    async def pre(sender: Any, instance: Task, created: bool, **kw: Any) -> None:
        await asyncio.sleep(0)
        instance.n += 1  # pre_save receivers may change the object
        seen.append(("pre", created))

    def post(sender: Any, instance: Task, created: bool, changed_fields: set[str]) -> None:
        seen.append(("post", (created, sorted(changed_fields))))

    async def deleted(sender: Any, instance: Task) -> None:
        seen.append(("deleted", instance.id))

    signals.pre_save.connect(pre, sender=Task)
    signals.post_save.connect(post, sender=Task)
    signals.post_delete.connect(deleted, sender=Task)
    try:
        t = await Task.objects.acreate(title="s")
        t.title = "s2"
        await t.asave()
        await Task.objects.abulk_save([Task(title="bulk")])
        await t.adelete()
    finally:
        signals.pre_save.disconnect(pre, sender=Task)
        signals.post_save.disconnect(post, sender=Task)
        signals.post_delete.disconnect(deleted, sender=Task)
    assert seen == [
        ("pre", True),
        ("post", (True, ["done", "n", "tags", "title"])),
        ("pre", False),
        ("post", (False, ["n", "title"])),
        ("pre", True),
        ("post", (True, ["done", "n", "tags", "title"])),
        ("deleted", t.id),
    ]


async def test_users_are_isolated(local_server: SimperiumServer) -> None:
    alice, bob = local_server.client(), local_server.client()
    t = await Task.objects.using(alice).acreate(title="alice's")
    assert await Task.objects.using(bob).acount() == 0
    with pytest.raises(Task.DoesNotExist):
        await Task.objects.using(bob).aget(str(t.id))
    for c in (alice, bob):
        await c.aclose()
        c.close()


async def test_bad_input_is_refused_before_sending(aclient: so.Client) -> None:
    with pytest.raises(ValidationError):
        await Task.objects.acreate(title=5)
    t = Task(title="x")
    with pytest.raises(ValueError):
        await t.asave(update_fields=["title"])
    with pytest.raises(so.InvalidIdentifier):
        await Task.objects.aget("bad id with spaces/")
    with pytest.raises(ValueError):
        await Task.objects.all().apage(limit=0)
    with pytest.raises(ValueError):
        await Task.objects.all().apage(cursor="nonsense")
    assert await Task.objects.acount() == 0


async def test_a_save_whose_answer_is_cut_lands_once(local_server: SimperiumServer) -> None:
    token = local_server.create_user()
    faults = schedule(Fault("cut", cut_after=20), PASS, PASS, Fault("cut", cut_after=20))
    with FaultProxy(local_server.url, faults) as proxy:
        client = so.Client(
            local_server.app_id,
            token,
            api_url=proxy.url,
            transport=Transport(retries=3, backoff=0.001),
        )
        t = Task(title="new")
        await t.asave(using=client)  # cut, then 409 for the same ccid, then read back
        t.title = "changed"
        await t.asave()
        await client.aclose()
        client.close()
    direct = local_server.client(token)
    doc = direct.bucket("atask").fetch(str(t.id))
    assert (doc.version, doc.data["title"], t.version) == (2, "changed", 2)
    direct.close()


async def test_many_saves_in_flight(aclient: so.Client) -> None:
    objs = [Task(title=f"c{i}") for i in range(40)]
    await asyncio.gather(*(o.asave() for o in objs))
    assert await Task.objects.acount() == 40 and all(o.version == 1 for o in objs)
