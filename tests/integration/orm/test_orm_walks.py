"""Walks against the local server while another client writes: page() cursors, iterate(),
list(qs) and count() yield every object that existed when the walk began and still exists at
its end exactly once (at the state read, or newer); objects created meanwhile at most once.

Each test runs twice: as the server pages (its marks keep the walk's index version) and with
marks cut to their position (``live``: the index as it is now, as a server without snapshots
would page; see tests.support.interleave).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.orm.query import QuerySet
from simperium_orm.testing import SimperiumServer
from tests.support.interleave import interleave
from tests.support.walks import P, pages, pages_from


@dataclass
class World:
    """A reader (whose walks are watched) and a writer: two clients of one user."""

    reader: so.Client
    writer: so.Client
    live: bool
    monkeypatch: pytest.MonkeyPatch
    created: set[str] = field(default_factory=set)
    calls: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # each object's

    def seed(self, n: int) -> dict[str, int]:
        objs = [P(i=i, odd=i % 2 == 1) for i in range(n)]
        P.objects.using(self.writer).bulk_save(objs)
        self.states = {obj.id or "": [obj.model_dump()] for obj in objs}
        return self.versions()

    def versions(self) -> dict[str, int]:
        bucket = self.writer.bucket("p")
        found, mark = {}, None
        while True:
            body = bucket.index(limit=1000, mark=mark)
            found.update({e["id"]: e["v"] for e in body["index"]})
            mark = body.get("mark")
            if not mark:
                return found

    def between_pages(self, after: Callable[[int], None]) -> None:
        self.calls = interleave(self.monkeypatch, self.reader.bucket("p"), after, live=self.live)

    def qs(self) -> QuerySet[P]:
        return P.objects.using(self.reader).all()

    def edit(self, which: int, **changes: Any) -> None:
        obj = P.objects.using(self.writer).get(i=which)
        for name, value in changes.items():
            setattr(obj, name, value)
        obj.save()
        self.states[obj.id or ""].append(obj.model_dump())

    def create(self, i: int, odd: bool = True) -> None:
        obj = P.objects.using(self.writer).create(i=i, odd=odd)
        self.created.add(obj.id or "")
        self.states[obj.id or ""] = [obj.model_dump()]

    def delete(self, i: int) -> None:
        P.objects.using(self.writer).get(i=i).delete()


@pytest.fixture(params=["pinned", "live"])
def world(
    request: pytest.FixtureRequest, local_server: SimperiumServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    token = local_server.create_user()
    reader, writer = local_server.client(token), local_server.client(token)
    yield World(reader, writer, request.param == "live", monkeypatch)
    reader.close()
    writer.close()


Matches = Callable[[dict[str, Any]], bool]


def every(data: dict[str, Any]) -> bool:
    return True


def odd(data: dict[str, Any]) -> bool:
    return bool(data["odd"])


def check(world: World, start: dict[str, int], got: list[P], matches: Matches = every) -> None:
    """Once each, none older than when the walk began, and every object that was there from
    start to end, matching in each state it had, among them."""
    ids = [p.id for p in got]
    assert len(ids) == len(set(ids)), "an object came twice"
    for p in got:
        assert p.id in start or p.id in world.created
        assert matches(p.model_dump())
        if p.id in start:
            assert p.version is not None and p.version >= start[p.id]
    for item in set(start) & set(world.versions()):
        if all(map(matches, world.states[item])):
            assert item in ids, f"{item} was there all along and never came"


def test_the_edit_that_broke_filtered_cursors(world: World) -> None:
    """50 objects, odd ones in pages of 7, i=15 edited once the first page was read."""
    world.seed(50)
    qs = world.qs().filter(odd=True)
    first = qs.page(limit=7)
    assert [p.i for p in first.items] == [49, 47, 45, 43, 41, 39, 37]
    world.edit(15, tag="edited")
    got = [*first.items, *pages_from(qs, first.cursor, 7)]
    assert sorted(p.i for p in got) == list(range(1, 50, 2))
    assert next(p for p in got if p.i == 15).tag == "edited"


def test_unfiltered_cursors_with_edits_ahead_and_behind(world: World) -> None:
    start = world.seed(30)
    qs = world.qs()
    first = qs.page(limit=10)
    world.edit(3, tag="ahead")  # not reached yet: moves to the front of the index
    world.edit(first.items[0].i, tag="behind")  # already returned
    got = [*first.items, *pages_from(qs, first.cursor, 10)]
    assert sorted(p.i for p in got) == list(range(30))
    check(world, start, got)


def test_iterate_while_another_client_edits_deletes_and_creates(world: World) -> None:
    start = world.seed(40)

    def after(n: int) -> None:
        if n == 1:  # the walk holds the 10 newest (39..30)
            world.edit(3, odd=False, tag="ahead")
            world.edit(35, tag="behind")
            world.delete(7)
            world.create(100)
        if n == 3:
            world.edit(0, tag="late")

    world.between_pages(after)
    got = list(world.qs().iterate(page_size=10))
    sinces = [c["since"] for c in world.calls]
    assert sorted(p.i for p in got if p.i < 100) == [i for i in range(40) if i != 7]
    assert {p.i: p.tag for p in got}[3] == "ahead"
    check(world, start, got)
    if world.live:  # the index moved under the walk: one more pass read what moved
        assert sinces[:4] == [None] * 4 and sinces[-1] is not None
    else:  # the server kept the walk's version: four pages, nothing more
        assert sinces == [None] * 4


def test_filtered_list_and_count_while_objects_flip(world: World) -> None:
    start = world.seed(40)

    def after(n: int) -> None:
        if n == 2:
            world.edit(5, odd=False)  # leaves the filter
            world.edit(4, odd=True)  # joins it
            world.edit(9, tag="still odd")

    world.between_pages(after)
    odd_ones = world.qs().filter(odd=True)
    odd_ones._page_size = 7
    got = list(odd_ones)
    check(world, start, got, odd)
    assert {p.i for p in got} >= {i for i in range(1, 40, 2) if i != 5}
    world.between_pages(after)  # again, for count()
    total = P.objects.using(world.reader).all()
    total._page_size = 7
    assert total.count() == 40


def test_ordered_pages_while_a_sort_key_changes(world: World) -> None:
    world.seed(12)
    qs = world.qs().order_by("-i")
    first = qs.page(limit=4)
    assert [p.i for p in first.items] == [11, 10, 9, 8]
    world.edit(2, i=50)  # would now sort first: still returned once
    world.edit(10, i=-1)  # already returned: not again
    got = [*first.items, *pages_from(qs, first.cursor, 4)]
    assert sorted(p.id or "" for p in got) == sorted(world.versions())
    assert [p.i for p in got[4:]] == [50, 7, 6, 5, 4, 3, 1, 0]


def test_the_live_marks_really_lose_what_moves(world: World) -> None:
    """The harness itself: without the walk's rule, live marks lose an object that moved."""
    world.seed(30)
    bucket = world.reader.bucket("p")

    def after(n: int) -> None:
        if n == 1:
            world.edit(5, tag="moved")

    world.between_pages(after)
    listed, mark = [], None
    while True:
        body = bucket.index(data=True, mark=mark, limit=10)
        listed += [e["d"]["i"] for e in body["index"]]
        mark = body.get("mark")
        if not mark:
            break
    assert (5 in listed) is not world.live


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("how", ["iterate", "list", "pages", "filtered pages", "count"])
def test_seeded_random_interleaving(world: World, how: str, seed: int) -> None:
    rnd = random.Random(f"{how}-{seed}-{world.live}")
    start = world.seed(60)
    plan = {rnd.randint(1, 9): rnd.randint(1, 4) for _ in range(6)}

    def after(n: int) -> None:
        for _ in range(plan.pop(n, 0)):
            alive = sorted(p.i for p in P.objects.using(world.writer).all() if p.i < 1000)
            op = rnd.choice(["edit", "flip", "create", "delete"])
            if op == "create":
                world.create(1000 + len(world.created), odd=rnd.random() < 0.5)
            elif op == "delete":
                world.delete(rnd.choice(alive))
            else:
                i = rnd.choice(alive)
                if op == "flip":
                    world.edit(i, odd=i % 2 == 0, tag="flipped")
                else:
                    world.edit(i, tag=f"edited {n}")

    world.between_pages(after)
    qs = world.qs()
    qs._page_size = 7
    if how == "count":
        total = qs.count()
        end = world.versions()
        assert len(set(start) & set(end)) <= total <= len(start) + len(world.created)
        return
    if how == "iterate":
        got = list(qs.iterate(page_size=7))
    elif how == "list":
        got = list(qs)
    elif how == "pages":
        got = pages(qs, 7)
    else:
        got = pages(qs.filter(odd=True), 5)
        check(world, start, got, odd)
        return
    check(world, start, got)
