"""Querysets against the local server over HTTP: filters, slicing, ordering, pages, iteration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import simperium_orm as so
from simperium_orm.orm.lookups import InvalidLookup, Q
from simperium_orm.orm.model import Model


class Place(BaseModel):
    city: str = ""


class Task(Model, bucket="tasks"):
    title: str
    n: int = 0
    done: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}
    place: Place = Place()


@pytest.fixture
def tasks(client: so.Client) -> list[Task]:
    objs = [
        Task(
            title=f"task {i:02d}",
            n=i,
            done=i % 2 == 0,
            tags=["even" if i % 2 == 0 else "odd"],
            meta={"size": i % 3} if i % 5 else {},
            place=Place(city="Oslo" if i < 5 else "Rome"),
        )
        for i in range(30)
    ]
    Task.objects.bulk_save(objs)
    return objs


def titles(qs: Any) -> list[str]:
    return sorted(t.title for t in qs)


def test_filters_exclude_and_q(tasks: list[Task]) -> None:
    assert Task.objects.count() == 30
    assert Task.objects.filter(done=True).count() == 15
    assert titles(Task.objects.filter(n__lt=3)) == ["task 00", "task 01", "task 02"]
    assert Task.objects.filter(done=True).exclude(n__gte=4).count() == 2
    assert Task.objects.filter(Q(n=1) | Q(n=2), ~Q(done=True)).count() == 1
    assert Task.objects.filter(tags__contains="odd", title__endswith="9").count() == 3
    assert Task.objects.filter(title__icontains="TASK 1").count() == 10
    assert Task.objects.filter(meta__size=2).count() == 8
    assert Task.objects.filter(meta__size__isnull=True).count() == 6
    assert Task.objects.filter(place__city="Oslo").count() == 5
    assert Task.objects.filter(n__in=[1, 2, 99]).count() == 2
    assert Task.objects.filter(id__in=[tasks[0].id, tasks[1].id]).count() == 2


def test_bad_lookup_fails_before_any_request(client: so.Client) -> None:
    with pytest.raises(InvalidLookup, match="titel"):
        Task.objects.filter(titel="x")


def test_first_exists_and_indexing(tasks: list[Task]) -> None:
    newest = Task.objects.first()
    assert newest is not None
    assert Task.objects.exists()
    assert not Task.objects.filter(n=99).exists()
    assert Task.objects.filter(n=99).first() is None
    assert Task.objects.all()[0] == newest
    with pytest.raises(IndexError):
        Task.objects.filter(n=99)[0]


def test_slicing_follows_index_order(tasks: list[Task]) -> None:
    everything = [t.id for t in Task.objects.all()]
    assert len(everything) == 30 and set(everything) == {t.id for t in tasks}
    assert [t.id for t in Task.objects.all()[5:9]] == everything[5:9]
    assert [t.id for t in Task.objects.iterate(page_size=7)] == everything


def test_order_by(tasks: list[Task]) -> None:
    assert [t.n for t in Task.objects.order_by("-n")[:3]] == [29, 28, 27]
    ordered = list(Task.objects.filter(n__lt=6).order_by("-done", "title"))
    assert [t.n for t in ordered] == [0, 2, 4, 1, 3, 5]
    by_size = [t.meta.get("size") for t in Task.objects.filter(n__lt=6).order_by("meta__size")]
    assert by_size == [None, None, 0, 1, 1, 2]


def test_values(tasks: list[Task]) -> None:
    rows = list(Task.objects.filter(n=3).values("title", "n", "place__city"))
    assert rows == [{"title": "task 03", "n": 3, "place__city": "Oslo"}]


def test_pages_with_a_cursor(tasks: list[Task]) -> None:
    qs = Task.objects.filter(done=False)
    seen: list[str | None] = []
    page = qs.page(limit=4)
    while True:
        seen += [t.id for t in page.items]
        if page.cursor is None:
            break
        page = qs.page(limit=4, cursor=page.cursor)
    assert seen == [t.id for t in qs]
    assert len(seen) == 15


def test_unfiltered_pages(tasks: list[Task]) -> None:
    first = Task.objects.page(limit=12)
    second = Task.objects.page(limit=12, cursor=first.cursor)
    third = Task.objects.page(limit=12, cursor=second.cursor)
    assert [len(first.items), len(second.items), len(third.items)] == [12, 12, 6]
    assert third.cursor is None
    ids = [t.id for p in (first, second, third) for t in p.items]
    assert len(set(ids)) == 30


def test_cursor_survives_writes_to_objects_already_seen(tasks: list[Task]) -> None:
    first = Task.objects.page(limit=10)
    for t in first.items:  # modified objects move to the front of the index
        t.done = not t.done
        t.save()
    rest = Task.objects.page(limit=100, cursor=first.cursor)
    assert {t.id for t in first.items} | {t.id for t in rest.items} == {t.id for t in tasks}


def test_iteration_of_many_pages(client: so.Client) -> None:
    Task.objects.bulk_save([Task(title=f"t{i}", n=i) for i in range(2300)])
    assert sum(1 for _ in Task.objects.iterate()) == 2300
    assert Task.objects.count() == 2300
    assert Task.objects.filter(n__gte=2000).count() == 300
    assert len(list(Task.objects.all()[990:1010])) == 20


def test_an_object_that_does_not_fit_stops_iteration_naming_it(client: so.Client) -> None:
    Task.objects.create(title="fine")
    bad = client.bucket("tasks").new({"title": "broken", "n": "many"})
    with pytest.raises(ValidationError, match=str(bad)):
        list(Task.objects.all())
