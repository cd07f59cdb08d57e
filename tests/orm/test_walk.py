"""Walks stay exact while another client writes: every object that existed when the walk began
and still exists at its end is yielded once, at the state read or a newer one; an object created
meanwhile at most once. Against an in-memory index that pins the walk's version (as the local
server does) and one that lists the index as it is now (tests.support.fake_index)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simperium_orm.orm import cursor as cursors
from simperium_orm.orm.query import QuerySet
from simperium_orm.orm.walk import Walk, current_of
from tests.support.fake_index import FakeClient, FakeIndex, Mode
from tests.support.walks import P, pages, pages_from

MODES: list[Mode] = ["pinned", "live"]


@dataclass
class Scenario:
    """A bucket of ``n`` objects and writes made after some of the walk's requests."""

    index: FakeIndex
    start: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    states: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)

    def qs(self) -> QuerySet[P]:
        return QuerySet(P, FakeClient(self.index))  # type: ignore[arg-type]

    def put(self, item: str, data: dict[str, Any]) -> None:
        self.index.put(item, data)
        self.states.setdefault(item, []).append(data)

    def remove(self, item: str) -> None:
        self.index.remove(item)
        self.states[item].append(None)


def scenario(mode: Mode, n: int) -> Scenario:
    s = Scenario(FakeIndex(mode))
    for i in range(n):
        s.put(f"p{i:03d}", {"i": i, "odd": i % 2 == 1})
    s.start = s.index.alive()
    return s


def writes_from(s: Scenario, seed: int, count: int) -> Callable[[int], None]:
    """``count`` random writes (edit, flip the filter, create, delete) after random requests."""
    rnd = random.Random(seed)
    plan: dict[int, int] = {}
    for _ in range(count):
        at = rnd.randint(1, 8)
        plan[at] = plan.get(at, 0) + 1

    def after(request: int) -> None:
        for _ in range(plan.pop(request, 0)):
            alive = sorted(s.index.alive())
            op = rnd.choice(["edit", "flip", "create", "delete"] if alive else ["create"])
            if op == "create":
                item = f"new{len(s.created):03d}"
                s.created.add(item)
                s.put(item, {"i": 1000 + len(s.created), "odd": rnd.random() < 0.5})
            elif op == "delete":
                s.remove(rnd.choice(alive))
            else:
                item = rnd.choice(alive)
                data = dict(s.index.alive()[item][1])
                if op == "flip":
                    data["odd"] = not data["odd"]
                data["tag"] = f"edited {request}"
                s.put(item, data)

    return after


def check(s: Scenario, yielded: list[P], where: Callable[[dict[str, Any]], bool]) -> None:
    items = [p.id for p in yielded]
    assert len(items) == len(set(items)), "an object was yielded twice"
    end = s.index.alive()
    for p in yielded:
        assert p.id is not None
        assert p.id in s.start or p.id in s.created
        assert where(p.model_dump()), "yielded in a state that does not match"
        if p.id in s.start:
            assert p.version is not None and p.version >= s.start[p.id][0], "older than the walk"
    for item in set(s.start) & set(end):
        states = s.states[item]  # the one it began in, then those other clients gave it
        if all(where(data) for data in states if data is not None):
            assert item in items, f"{item} existed throughout, always matched, never yielded"
        if not any(where(data) for data in states if data is not None):
            assert item not in items


def _odd(data: dict[str, Any]) -> bool:
    return bool(data["odd"])


def _all(data: dict[str, Any]) -> bool:
    return True


WALKS = st.sampled_from(["iterate", "list", "pages", "count"])


@settings(max_examples=150, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    walk=WALKS,
    filtered=st.booleans(),
    n=st.integers(0, 30),
    size=st.integers(1, 7),
    writes=st.integers(0, 12),
    seed=st.integers(0, 2**32),
)
def test_walks_are_exact_under_concurrent_writes(
    mode: Mode, walk: str, filtered: bool, n: int, size: int, writes: int, seed: int
) -> None:
    s = scenario(mode, n)
    s.index.after_request = writes_from(s, seed, writes)
    qs = s.qs().filter(odd=True) if filtered else s.qs()
    where = _odd if filtered else _all
    if walk == "count":
        qs._page_size = size
        total = qs.count()
        end = set(s.index.alive())
        lasting = {i for i in set(s.start) & end if all(where(d) for d in s.states[i] if d)}
        assert len(lasting) <= total <= len(s.start) + len(s.created)
        return
    if walk == "iterate":
        yielded = list(qs.iterate(page_size=size))
    elif walk == "list":
        qs._page_size = size
        yielded = list(qs)
    else:
        qs._page_size = size
        yielded = pages(qs, limit=size)
    check(s, yielded, where)


# -- the interleavings that broke the old cursors, one by one ----------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_object_edited_before_the_walk_reaches_it_is_not_lost(mode: Mode) -> None:
    """The report: 50 objects, odd ones in pages of 7; i=15 edited after the first page."""
    s = scenario(mode, 50)
    qs = s.qs().filter(odd=True)
    first = qs.page(limit=7)
    assert [p.i for p in first.items] == [49, 47, 45, 43, 41, 39, 37]
    s.put("p015", {"i": 15, "odd": True, "tag": "edited"})
    rest = pages_from(qs, first.cursor, 7)
    seen = [p.i for p in [*first.items, *rest]]
    assert sorted(seen) == list(range(1, 50, 2))
    assert next(p for p in rest if p.i == 15).tag == "edited"


@pytest.mark.parametrize("mode", MODES)
def test_objects_edited_after_they_were_yielded_are_not_repeated(mode: Mode) -> None:
    s = scenario(mode, 20)
    qs = s.qs()
    first = qs.page(limit=5)
    for p in first.items:
        s.put(p.id or "", {"i": p.i, "odd": p.odd, "tag": "again"})
    rest = pages_from(qs, first.cursor, 5)
    assert sorted(p.i for p in [*first.items, *rest]) == list(range(20))


@pytest.mark.parametrize("mode", MODES)
def test_iterate_between_pages(mode: Mode) -> None:
    s = scenario(mode, 30)

    def after(request: int) -> None:
        if request == 1:  # the walk has the newest 10: edit an old one and a yielded one
            s.put("p002", {"i": 2, "odd": False, "tag": "moved"})
            s.put("p029", {"i": 29, "odd": True, "tag": "moved"})

    s.index.after_request = after
    got = list(s.qs().iterate(page_size=10))
    assert sorted(p.i for p in got) == list(range(30))
    assert next(p for p in got if p.i == 2).tag == "moved"


@pytest.mark.parametrize("mode", MODES)
def test_objects_created_during_a_walk_come_at_most_once(mode: Mode) -> None:
    s = scenario(mode, 12)

    def after(request: int) -> None:
        s.put(f"new{request}", {"i": 100 + request, "odd": True})
        s.created.add(f"new{request}")

    s.index.after_request = after
    got = list(s.qs().iterate(page_size=4))
    check(s, got, _all)
    assert {p.i for p in got} >= set(range(12))


@pytest.mark.parametrize(("mode", "requests"), [("pinned", 3), ("live", 4)])
def test_a_pinned_walk_reads_no_extra_pass_and_a_live_one_reads_one(
    mode: Mode, requests: int
) -> None:
    s = scenario(mode, 25)

    def after(n: int) -> None:
        if n == 1:
            s.put("p000", {"i": 0, "odd": False})

    s.index.after_request = after
    assert len(list(s.qs().iterate(page_size=10))) == 25
    assert s.index.requests == requests


def test_quiet_walks_read_each_page_once() -> None:
    s = scenario("live", 25)
    assert len(list(s.qs().iterate(page_size=10))) == 25
    assert s.index.requests == 3


# -- the walk's state and its cursor ----------------------------------------------------------


def test_a_page_that_lists_another_version_starts_a_pass_over_the_changes() -> None:
    walk = Walk()
    walk.read("a" * 24)
    walk.advance("m1", 10)
    walk.read("b" * 24)  # another version: objects moved meanwhile
    walk.advance(None, 3)
    assert (walk.done, walk.since, walk.mark, walk.start) == (False, "a" * 24, None, None)
    walk.read("c" * 24)
    walk.advance(None, 1)
    assert walk.done


def test_re_reading_a_first_page_restarts_the_version() -> None:
    walk = Walk()
    walk.read("a" * 24)
    walk.read("b" * 24)  # the same first page again (a cursor stopped inside it)
    walk.advance("m", 5)
    walk.read("b" * 24)
    walk.advance(None, 5)
    assert walk.done


def test_an_empty_page_with_a_mark_ends_the_phase() -> None:
    walk = Walk()
    walk.read("a" * 24)
    walk.advance("m", 0)
    assert walk.done


def test_current_is_read_from_the_first_bytes_or_the_whole_page() -> None:
    assert current_of(b'{"current":"abc","index":[]}') == "abc"
    assert current_of(b' { "current" : "abc" , "index": []}') == "abc"
    assert current_of(b'{"index":[{"id":"x","v":1,"d":{"current":"no"}}],"current":"yes"}') == "yes"
    assert current_of(b'{"index":[]}') is None
    assert current_of(b"not json") is None


ids_strategy = st.sets(
    st.one_of(
        st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9._%@-]{1,256}", fullmatch=True).filter(lambda i: i not in ".."),
    ),
    max_size=20,
)


@settings(max_examples=100)
@given(
    seen=ids_strategy,
    start=st.one_of(st.none(), st.from_regex(r"[0-9a-f]{24}", fullmatch=True)),
    mark=st.one_of(st.none(), st.from_regex(r"[\x21-\x7e]{1,60}", fullmatch=True)),
    moved=st.booleans(),
    size=st.integers(1, 1000),
)
def test_cursors_round_trip(
    seen: set[str], start: str | None, mark: str | None, moved: bool, size: int
) -> None:
    walk = Walk(start=start, since=start, mark=mark, moved=moved, seen=set(seen))
    back = cursors.decode(cursors.encode(cursors.Cursor("index", walk, size)))
    assert back.kind == "index" and back.size == size
    assert (back.walk.start, back.walk.since, back.walk.mark, back.walk.moved) == (
        start,
        start,
        mark,
        moved,
    )
    assert back.walk.seen == seen
    ordered = cursors.decode(cursors.encode(cursors.Cursor("ordered", Walk(seen=set(seen)))))
    assert ordered.kind == "ordered" and ordered.walk.seen == seen


def test_a_cursor_carries_a_uuid_id_in_about_23_characters() -> None:
    seen = {f"{n:032x}" for n in range(100)}
    text = cursors.encode(cursors.Cursor("index", Walk(start="a" * 24, seen=seen), 100))
    assert len(text) < 100 + 23 * 100


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage!",
        "e30",  # {}
        cursors.encode(cursors.Cursor("index", Walk(), 5)).replace("A", "B")[:-3],
        "eyJrIjoiaSIsImMiOm51bGwsInMiOm51bGwsIm0iOm51bGwsIm4iOjB9Cg",  # n=0
        "eyJrIjoieCJ9Cg",  # {"k":"x"}
        "eyJrIjoibyJ9CgI",  # an ordered cursor with a bad id tag
    ],
)
def test_bad_cursors_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid page cursor"):
        cursors.decode(text)
