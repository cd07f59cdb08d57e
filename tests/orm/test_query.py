"""QuerySet over an in-memory index: laziness, streaming, slicing, ordering, paging (no server)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import simperium_orm as so
from simperium_orm.orm.lookups import InvalidLookup, Q
from simperium_orm.orm.model import Model
from simperium_orm.orm.query import Page, QuerySet


class Todo(Model, bucket="todo"):
    title: str
    n: int = 0
    done: bool = False
    note: str | None = None
    meta: dict[str, Any] = {}


class FakeBucket:
    """Serves ``index`` pages from a list, newest first, and records every call."""

    def __init__(self, rows: list[tuple[str, int, dict[str, Any]]]) -> None:
        self.rows = rows
        self.calls: list[dict[str, Any]] = []

    def index(
        self, data: bool = False, mark: str | None = None, limit: int | None = None, **_: Any
    ) -> dict[str, Any]:
        self.calls.append({"data": data, "mark": mark, "limit": limit})
        start, size = int(mark or 0), limit or 100
        page = self.rows[start : start + size]
        body: dict[str, Any] = {
            "current": "c" * 24,
            "index": [{"id": i, "v": v, **({"d": d} if data else {})} for i, v, d in page],
        }
        if start + size < len(self.rows):
            body["mark"] = str(start + size)
        return body

    def index_raw(self, **kwargs: Any) -> bytes:
        return json.dumps(self.index(**kwargs)).encode()


class FakeClient:
    def __init__(self, bucket: FakeBucket) -> None:
        self._bucket = bucket
        self.names: list[str] = []

    def bucket(self, name: str) -> FakeBucket:
        self.names.append(name)
        return self._bucket


def make(n: int, **extra: Any) -> tuple[QuerySet[Todo], FakeBucket]:
    rows = [
        (f"t{i:03d}", 1, {"title": f"task {i:03d}", "n": i, "done": i % 3 == 0}) for i in range(n)
    ]
    bucket = FakeBucket(rows)
    return QuerySet(Todo, FakeClient(bucket)), bucket  # type: ignore[arg-type]


def ids(objs: Any) -> list[str | None]:
    return [o.id for o in objs]


# -- laziness and immutability ---------------------------------------------------------------


def test_building_a_queryset_sends_nothing() -> None:
    qs, bucket = make(10)
    qs.filter(done=True).exclude(n=3).order_by("-title")[2:5]
    assert bucket.calls == []


def test_querysets_are_immutable() -> None:
    qs, _ = make(9)
    done = qs.filter(done=True)
    assert len(list(qs)) == 9
    assert ids(done) == ["t000", "t003", "t006"]
    assert ids(done.exclude(n=3)) == ["t000", "t006"]
    assert ids(done) == ["t000", "t003", "t006"]


def test_each_evaluation_reads_the_index_again() -> None:
    qs, bucket = make(3)
    list(qs)
    list(qs)
    assert len(bucket.calls) == 2


def test_objects_come_with_id_version_and_client() -> None:
    qs, _ = make(1)
    (obj,) = list(qs)
    assert (obj.id, obj.version, obj.title) == ("t000", 1, "task 000")
    assert obj.changed_fields() == set()


def test_repr_does_not_run_the_query() -> None:
    qs, bucket = make(3)
    assert repr(qs.filter(n=1).order_by("-title")[1:4]) == (
        "<QuerySet Todo filtered ordered by -title [1:4]>"
    )
    assert bucket.calls == []


def test_filter_needs_no_client_but_running_does() -> None:
    so.disconnect()
    qs = Todo.objects.filter(done=True)
    with pytest.raises(so.NotConnected):
        list(qs)


# -- streaming --------------------------------------------------------------------------------


def test_iteration_holds_one_page_and_reads_only_the_next_ahead() -> None:
    qs, bucket = make(25)
    it = qs.iterate(page_size=10)
    next(it)
    assert len(bucket.calls) <= 2  # the first page, and the second on its way
    assert len(list(it)) == 24
    assert [c["mark"] for c in bucket.calls] == [None, "10", "20"]
    assert all(c["data"] and c["limit"] == 10 for c in bucket.calls)


def test_slices_never_read_ahead() -> None:
    qs, bucket = make(25)
    assert len(list(qs[:10].iterate(page_size=10))) == 10
    assert [c["mark"] for c in bucket.calls] == [None]


def test_slices_stop_fetching_once_they_have_enough() -> None:
    qs, bucket = make(100)
    assert ids(qs.iterate(page_size=10))[:1] == ["t000"]
    bucket.calls.clear()
    assert len(list(qs.iterate(page_size=10))[:5]) == 5
    bucket.calls.clear()
    assert ids(qs.filter(done=True)[:2]) == ["t000", "t003"]
    assert len(bucket.calls) == 1


def test_first_and_exists_stop_early() -> None:
    qs, bucket = make(5000)
    assert qs.filter(n__gte=1).first() is not None
    assert len(bucket.calls) == 1
    bucket.calls.clear()
    assert qs.exists()
    assert bucket.calls == [{"data": False, "mark": None, "limit": 1}]
    bucket.calls.clear()
    assert qs.filter(n=2500).exists()
    assert len(bucket.calls) == 3


def test_count_reads_ids_only_without_filters() -> None:
    qs, bucket = make(2500)
    assert qs.count() == 2500
    assert all(not c["data"] and c["limit"] == 1000 for c in bucket.calls)
    assert qs.filter(done=True).count() == 834
    assert qs[10:20].count() == 10
    assert qs[2495:].count() == 5


def test_empty_bucket() -> None:
    qs, _ = make(0)
    assert list(qs) == []
    assert qs.count() == 0
    assert not qs.exists()
    assert not qs
    assert qs.first() is None
    assert qs.page(limit=10) == Page([], None)


def test_data_that_does_not_fit_stops_iteration_naming_the_id() -> None:
    bucket = FakeBucket([("good", 1, {"title": "ok"}), ("bad-one", 4, {"title": ["no"]})])
    qs = QuerySet(Todo, FakeClient(bucket))  # type: ignore[arg-type]
    it = iter(qs)
    assert next(it).id == "good"
    with pytest.raises(ValidationError, match=r"Todo \(id 'bad-one'\)"):
        next(it)


# -- slicing ----------------------------------------------------------------------------------


@settings(max_examples=60)
@given(
    st.integers(0, 30),
    st.one_of(st.none(), st.integers(0, 40)),
    st.one_of(st.none(), st.integers(0, 40)),
    st.integers(0, 10),
    st.one_of(st.none(), st.integers(0, 10)),
)
def test_slicing_matches_list_slicing(
    n: int, a: int | None, b: int | None, c: int, d: int | None
) -> None:
    qs, _ = make(n)
    everything = ids(qs.iterate(page_size=7))
    assert ids(qs[a:b]) == everything[a:b]
    assert ids(qs[a:b][c:d]) == everything[a:b][c:d]
    assert qs[a:b].count() == len(everything[a:b])
    assert qs[a:b].exists() == bool(everything[a:b])
    first = qs[a:b].first()
    assert (first.id if first else None) == (everything[a:b] or [None])[0]


def test_indexing() -> None:
    qs, _ = make(5)
    assert qs[0].id == "t000"
    assert qs[4].id == "t004"
    assert qs.filter(done=True)[1].id == "t003"
    with pytest.raises(IndexError, match="index 5 out of range"):
        qs[5]


@pytest.mark.parametrize("key", [slice(-1, None), slice(None, -2), slice(0, 4, 2)])
def test_negative_or_stepped_slices_are_refused(key: slice) -> None:
    qs, _ = make(5)
    with pytest.raises(ValueError, match=r"negative|step"):
        qs[key]


def test_negative_index_is_refused() -> None:
    qs, _ = make(5)
    with pytest.raises(ValueError, match="negative"):
        qs[-1]
    with pytest.raises(TypeError):
        qs["a"]  # type: ignore[call-overload]


def test_sliced_querysets_cannot_be_filtered_ordered_or_paged() -> None:
    qs, _ = make(5)
    with pytest.raises(TypeError, match="sliced"):
        qs[:2].filter(done=True)
    with pytest.raises(TypeError, match="sliced"):
        qs[:2].order_by("n")
    with pytest.raises(TypeError, match="sliced"):
        qs[:2].page()


# -- ordering ---------------------------------------------------------------------------------


def test_order_by() -> None:
    qs, _ = make(6)
    assert [o.n for o in qs.order_by("-n")] == [5, 4, 3, 2, 1, 0]
    assert [o.n for o in qs.order_by("done", "-n")] == [5, 4, 2, 1, 3, 0]
    assert [o.n for o in qs.order_by("-done", "n")[:3]] == [0, 3, 1]
    assert [o.n for o in qs.order_by("-n").order_by()] == [0, 1, 2, 3, 4, 5]
    assert [o.n for o in qs.order_by("id").filter(n__lt=3)] == [0, 1, 2]


def test_none_and_missing_sort_first_ascending_and_last_descending() -> None:
    rows = [
        ("a", 1, {"title": "a", "note": "m", "meta": {"k": 2}}),
        ("b", 1, {"title": "b", "note": None}),
        ("c", 1, {"title": "c", "note": "a", "meta": {"k": 1}}),
    ]
    qs = QuerySet(Todo, FakeClient(FakeBucket(rows)))  # type: ignore[arg-type]
    assert ids(qs.order_by("note")) == ["b", "c", "a"]
    assert ids(qs.order_by("-note")) == ["a", "c", "b"]
    assert ids(qs.order_by("meta__k")) == ["b", "c", "a"]
    assert ids(qs.order_by("-meta__k")) == ["a", "c", "b"]


def test_order_by_values_of_different_types_is_a_clear_error() -> None:
    rows = [
        ("a", 1, {"title": "a", "meta": {"k": 1}}),
        ("b", 1, {"title": "b", "meta": {"k": "x"}}),
    ]
    qs = QuerySet(Todo, FakeClient(FakeBucket(rows)))  # type: ignore[arg-type]
    with pytest.raises(so.IncomparableValues, match=r"cannot order Todo by 'meta__k'.*int, str"):
        list(qs.order_by("meta__k"))


def test_order_by_naive_and_aware_datetimes_is_refused_like_a_filter() -> None:
    rows = [
        ("a", 1, {"title": "a", "meta": {"at": "2024-05-01T12:00:00"}}),
        ("b", 1, {"title": "b", "meta": {"at": "2024-05-01T12:00:00+00:00"}}),
    ]

    class Timed(Model, bucket="todo"):
        title: str
        meta: dict[str, dt.datetime] = {}

    qs = QuerySet(Timed, FakeClient(FakeBucket(rows)))  # type: ignore[arg-type]
    with pytest.raises(so.IncomparableValues, match=r"'meta__at'.*naive and aware datetimes"):
        list(qs.order_by("meta__at"))
    with pytest.raises(so.IncomparableValues, match="meta__at__gt"):
        list(qs.filter(meta__at__gt=dt.datetime(2024, 1, 1)))
    assert len(list(qs.filter(meta__at__isnull=False))) == 2


def test_order_by_unknown_field_fails_at_once() -> None:
    qs, _ = make(1)
    with pytest.raises(InvalidLookup, match="no field 'titel'"):
        qs.order_by("-titel")
    with pytest.raises(InvalidLookup, match="startswith"):
        qs.order_by("title__startswith")


# -- values -----------------------------------------------------------------------------------


def test_values() -> None:
    qs, _ = make(2)
    assert list(qs.values("title", "id")) == [
        {"title": "task 000", "id": "t000"},
        {"title": "task 001", "id": "t001"},
    ]
    assert next(qs.values()) == {
        "id": "t000",
        "version": 1,
        "title": "task 000",
        "n": 0,
        "done": True,
        "note": None,
        "meta": {},
    }
    assert list(qs.values("meta__x")) == [{"meta__x": None}, {"meta__x": None}]


def test_values_checks_fields_when_called() -> None:
    qs, bucket = make(2)
    with pytest.raises(InvalidLookup, match="no field 'nope'"):
        qs.values("nope")
    assert bucket.calls == []


# -- pages and cursors ------------------------------------------------------------------------


def collect(qs: QuerySet[Todo], limit: int) -> tuple[list[str | None], int]:
    seen: list[str | None] = []
    page = qs.page(limit=limit)
    pages = 1
    seen += ids(page.items)
    while page.cursor is not None:
        assert len(page.items) == limit
        page = qs.page(limit=limit, cursor=page.cursor)
        seen += ids(page.items)
        pages += 1
    return seen, pages


@settings(max_examples=60)
@given(st.integers(0, 40), st.integers(1, 12), st.integers(1, 9), st.integers(0, 4))
def test_pages_resume_exactly_where_they_ended(n: int, limit: int, size: int, mod: int) -> None:
    qs, _ = make(n)
    qs._page_size = size  # server page size, so cursors also land inside server pages
    filtered = qs.filter(n__gte=mod) if mod else qs
    seen, _pages = collect(filtered, limit)
    assert seen == ids(filtered)


def test_unfiltered_pages_end_with_no_cursor_and_use_server_marks() -> None:
    qs, bucket = make(25)
    seen, pages = collect(qs, 10)
    assert len(seen) == 25 and pages == 3
    assert [c["limit"] for c in bucket.calls] == [10, 10, 10]
    assert [c["mark"] for c in bucket.calls] == [None, "10", "20"]


def test_filtered_page_cursor_points_inside_a_server_page() -> None:
    qs, bucket = make(30)
    page = qs.filter(done=True).page(limit=2)
    assert ids(page.items) == ["t000", "t003"]
    assert page.cursor is not None and len(bucket.calls) == 1
    following = qs.filter(done=True).page(limit=2, cursor=page.cursor)
    assert ids(following.items) == ["t006", "t009"]


def test_exact_last_page_has_no_cursor() -> None:
    qs, _ = make(20)
    page = qs.page(limit=20)
    assert len(page) == 20 and page.cursor is None


def test_ordered_pages() -> None:
    qs, _ = make(7)
    ordered = qs.order_by("-n")
    seen, pages = collect(ordered, 3)
    assert [int(i[1:]) for i in seen if i] == [6, 5, 4, 3, 2, 1, 0]
    assert pages == 3


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJvIjoiMSJ9"])
def test_bad_cursor_is_refused(cursor: str) -> None:
    qs, _ = make(3)
    with pytest.raises(ValueError, match="invalid page cursor"):
        qs.page(cursor=cursor)


def test_cursor_of_another_ordering_is_refused() -> None:
    qs, _ = make(10)
    cursor = qs.order_by("n").page(limit=2).cursor
    with pytest.raises(ValueError, match="another ordering"):
        qs.page(limit=2, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_bad_page_limit(limit: Any) -> None:
    qs, _ = make(3)
    with pytest.raises(ValueError, match="limit"):
        qs.page(limit=limit)


@pytest.mark.parametrize("size", [0, 1001, True])
def test_bad_page_size(size: Any) -> None:
    qs, _ = make(3)
    with pytest.raises(ValueError, match="page_size"):
        qs.iterate(page_size=size)


def test_page_is_iterable() -> None:
    qs, _ = make(3)
    page = qs.page(limit=2)
    assert [o.id for o in page] == ["t000", "t001"] and len(page) == 2


# -- the manager's shortcuts ------------------------------------------------------------------


def test_manager_shortcuts_use_its_client() -> None:
    _, bucket = make(4)
    client = FakeClient(bucket)
    todos = Todo.objects.using(client)  # type: ignore[arg-type]
    assert todos.count() == 4
    assert todos.exists()
    assert todos.first() is not None
    assert len(list(todos.iterate(page_size=2))) == 4
    assert len(todos.page(limit=3).items) == 3
    assert [o.n for o in todos.order_by("-n")] == [3, 2, 1, 0]
    assert todos.filter(Q(n=1) | Q(n=2)).count() == 2
    assert todos.exclude(n=1).count() == 3
    assert [r["n"] for r in todos.values("n")] == [0, 1, 2, 3]
    assert set(client.names) == {"todo"}
    assert repr(Todo.objects) == "<Manager Todo>"
