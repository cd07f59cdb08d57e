"""Pins the types a checker sees through ``Todo.objects`` (checked by ``mypy --strict``).

The functions named ``typed_*`` are only type-checked; the tests run what needs no server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typing_extensions import assert_type

from simperium_orm import MultipleObjectsReturned
from simperium_orm.orm.lookups import Q
from simperium_orm.orm.manager import Manager
from simperium_orm.orm.model import Model
from simperium_orm.orm.query import Page, QuerySet


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False


class Note(Model):
    text: str = ""


def typed_manager_and_queries() -> None:
    assert_type(Todo.objects, Manager[Todo])
    assert_type(Note.objects, Manager[Note])
    assert_type(Todo.objects.get("abc"), Todo)
    assert_type(Todo.objects.create(title="x"), Todo)
    assert_type(Todo.objects.all(), QuerySet[Todo])
    assert_type(Todo.objects.filter(done=False), QuerySet[Todo])
    assert_type(
        Todo.objects.filter(Q(done=False) | Q(title="x")).exclude(title="y"), QuerySet[Todo]
    )
    assert_type(Todo.objects.order_by("-title"), QuerySet[Todo])
    assert_type(Todo.objects.filter(done=True)[:10], QuerySet[Todo])
    assert_type(Todo.objects.filter(done=True)[0], Todo)
    assert_type(Todo.objects.first(), Todo | None)
    assert_type(Todo.objects.filter(done=True).first(), Todo | None)
    assert_type(Todo.objects.count(), int)
    assert_type(Todo.objects.iterate(page_size=500), Iterator[Todo])
    for todo in Todo.objects.filter(done=False):
        assert_type(todo, Todo)
    for todo in Todo.objects.iterate():
        assert_type(todo, Todo)
    page = Todo.objects.filter(done=False).page(limit=10)
    assert_type(page, Page[Todo])
    assert_type(page.items, list[Todo])
    assert_type(page.cursor, str | None)
    assert_type(Todo.objects.bulk_save([Todo(title="a")]), list[Todo])
    assert_type(Todo.objects.using(Todo.objects.client), Manager[Todo])


def typed_django_calls() -> None:
    assert_type(Todo.objects.get(title="x"), Todo)
    assert_type(Todo.objects.get(Q(title="x") | Q(done=True)), Todo)
    assert_type(Todo.objects.filter(done=True).get(), Todo)
    assert_type(Todo.objects.filter(done=True).get(title="x"), Todo)
    assert_type(Todo.objects.get_or_create(title="x"), tuple[Todo, bool])
    assert_type(Todo.objects.get_or_create(defaults={"done": True}, title="x"), tuple[Todo, bool])
    assert_type(Todo.objects.filter(done=True).get_or_create(title="x"), tuple[Todo, bool])
    assert_type(Todo.objects.update_or_create(defaults={"n": 1}, title="x"), tuple[Todo, bool])
    assert_type(Todo.objects.filter(done=True).update_or_create(title="x"), tuple[Todo, bool])
    assert_type(Todo.objects.filter(done=True).update(done=False), int)
    assert_type(Todo.objects.filter(done=True).delete(), int)
    assert_type(Todo.objects.in_bulk(["a", "b"]), dict[str, Todo])
    assert_type(Todo.objects.filter(done=True).in_bulk(), dict[str, Todo])
    assert_type(Todo.objects.all().values_list("title", "done"), Iterator[tuple[Any, ...]])
    assert_type(Todo.objects.filter(done=True).values_list("title"), Iterator[tuple[Any, ...]])
    assert_type(Todo.objects.all().values_list("title", flat=True), Iterator[Any])
    assert_type(Todo.objects.values_list("title", flat=True), Iterator[Any])
    try:
        Todo.objects.get(title="x")
    except Todo.DoesNotExist:
        pass
    except MultipleObjectsReturned as exc:
        assert_type(exc, MultipleObjectsReturned)


def typed_model_attributes() -> None:
    todo = Todo(title="milk")
    assert_type(todo.id, str | None)
    assert_type(todo.version, int | None)
    assert_type(todo.title, str)
    assert_type(Todo.from_document("abc", 1, {"title": "x"}), Todo)
    try:
        Todo.objects.get("abc")
    except Todo.DoesNotExist as exc:
        assert_type(exc.status_code, int)


def test_objects_is_a_manager_of_its_model() -> None:
    assert isinstance(Todo.objects, Manager)
    assert Todo.objects.model is Todo
    assert Note.objects.model is Note
    assert Note.bucket_name() == "note"


def test_objects_is_not_reachable_from_instances() -> None:
    with pytest.raises(AttributeError, match=r"use Todo\.objects"):
        Todo(title="x").objects  # noqa: B018
