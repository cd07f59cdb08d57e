"""Reading the next index page ahead: the tail guess is always the page's own mark, and the
reader hands out exactly the pages a sequential reader would, with failures in order."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import simperium_orm as so
from simperium_orm.orm.scan.readahead import PageReader, tail_mark

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
# Data that tries to look like a mark: keys and strings named "mark", quotes, braces, commas.
tricky_text = st.sampled_from(["mark", '"mark"', ',"mark":"x"}', '\\"', "}", ","]) | st.text()


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    entries = draw(
        st.lists(
            st.fixed_dictionaries(
                {"id": st.text(min_size=1, max_size=8), "v": st.integers(1, 99)},
                optional={"d": st.dictionaries(tricky_text, json_values | tricky_text)},
            ),
            max_size=4,
        )
    )
    page: dict[str, Any] = {"current": "c", "index": entries}
    mark = draw(st.none() | tricky_text)
    if mark is not None:
        page["mark"] = mark
    keys = draw(st.permutations(list(page)))
    return {key: page[key] for key in keys}


@given(pages(), st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_the_tail_guess_is_the_page_mark_or_nothing(
    page: dict[str, Any], separators: tuple[str, str], ascii_only: bool
) -> None:
    body = json.dumps(page, separators=separators, ensure_ascii=ascii_only).encode()
    guess = tail_mark(body)
    assert guess is None or guess == page.get("mark")


def test_the_local_servers_page_shape_gives_its_mark() -> None:
    body = json.dumps({"current": "c1", "index": [{"id": "a", "v": 1}], "mark": "m-2"}).encode()
    assert tail_mark(body) == "m-2"
    assert tail_mark(body.replace(b'"m-2"', b"null")) is None
    nested_last = json.dumps({"mark": "top", "index": [{"id": "a", "d": {"mark": "x"}}]})
    assert tail_mark(nested_last.encode()) is None


class Pages:
    """A fetch function over numbered pages: page n names mark n+1 last, until ``count``."""

    def __init__(self, count: int, fail_at: str | None = None, mark_last: bool = True) -> None:
        self.count, self.fail_at, self.mark_last = count, fail_at, mark_last
        self.calls: list[str | None] = []
        self.threads: set[str] = set()

    def __call__(self, mark: str | None) -> bytes:
        self.calls.append(mark)
        self.threads.add(threading.current_thread().name)
        if mark is not None and mark == self.fail_at:
            raise so.TransportError(f"page {mark} failed")
        n = int(mark or 0)
        page: dict[str, Any] = {"index": [{"id": str(n), "v": 1}]}
        if n + 1 < self.count:
            mark_member = {"mark": str(n + 1)}
            page = {**page, **mark_member} if self.mark_last else {**mark_member, **page}
        return json.dumps(page).encode()


def read_all(reader: PageReader) -> list[str]:
    ids, mark = [], None
    while True:
        page = json.loads(reader.take(mark))
        ids += [e["id"] for e in page["index"]]
        mark = page.get("mark")
        if mark is None:
            reader.close()
            return ids


def test_pages_come_in_order_and_the_next_is_read_in_the_background() -> None:
    fetch = Pages(5)
    assert read_all(PageReader(fetch)) == ["0", "1", "2", "3", "4"]
    assert fetch.calls == [None, "1", "2", "3", "4"]
    assert "simperium-orm-read-ahead" in fetch.threads


def test_without_ahead_or_a_mark_at_the_end_pages_are_read_in_turn() -> None:
    told_not_to = Pages(4)
    assert read_all(PageReader(told_not_to, ahead=False)) == ["0", "1", "2", "3"]
    mark_first = Pages(4, mark_last=False)
    assert read_all(PageReader(mark_first)) == ["0", "1", "2", "3"]
    assert told_not_to.threads == mark_first.threads == {threading.current_thread().name}


def test_a_page_read_ahead_for_another_mark_is_dropped() -> None:
    fetch = Pages(5)
    reader = PageReader(fetch)
    reader.take(None)  # reads "1" ahead
    body = json.loads(reader.take("3"))
    assert body["index"] == [{"id": "3", "v": 1}]
    reader.close()
    assert fetch.calls[:3] == [None, "1", "3"]


def test_a_failed_read_ahead_raises_when_its_page_is_taken() -> None:
    fetch = Pages(5, fail_at="2")
    reader = PageReader(fetch)
    reader.take(None)
    reader.take("1")  # "2" fails in the background: nothing raised yet
    with pytest.raises(so.TransportError, match="page 2 failed"):
        reader.take("2")
    reader.close()
