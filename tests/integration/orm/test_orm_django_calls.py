"""Django's everyday calls against the local server: get with lookups, get_or_create,
update_or_create, QuerySet.update/delete through the bulk path, values_list, in_bulk, and the
lookups iexact, range, regex, iregex."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.orm.model import Model
from simperium_orm.testing import SimperiumServer
from tests.support.interleave import interleave


class Todo(Model, bucket="todos"):
    title: str
    n: int = 0
    done: bool = False
    tags: list[str] = []


@pytest.fixture
def todos(client: so.Client) -> list[Todo]:
    objs = [Todo(title=f"Task {i:02d}", n=i, done=i % 3 == 0) for i in range(12)]
    Todo.objects.bulk_save(objs)
    return objs


@pytest.fixture
def other(local_server: SimperiumServer, client: so.Client) -> Iterator[so.Client]:
    """Another client of the same user (another clientid)."""
    other = local_server.client(client._token)
    yield other
    other.close()


@pytest.fixture
def sent() -> Iterator[dict[str, list[str | None]]]:
    """The ids that pre_save, post_save, pre_delete and post_delete were sent for."""
    seen: dict[str, list[str | None]] = {}
    receivers = []
    for name in ("pre_save", "post_save", "pre_delete", "post_delete"):

        def receiver(sender: Any, instance: Todo, name: str = name, **kw: Any) -> None:
            seen.setdefault(name, []).append(instance.id)

        getattr(signals, name).connect(receiver, sender=Todo)
        receivers.append((name, receiver))
    yield seen
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver, sender=Todo)


# -- get --------------------------------------------------------------------------------------


def test_get_by_lookups(todos: list[Todo]) -> None:
    assert Todo.objects.get(n=4).title == "Task 04"
    assert Todo.objects.get(so.Q(n=4) | so.Q(n=400)).n == 4
    assert Todo.objects.filter(done=True).get(n=3).n == 3
    assert Todo.objects.filter(n=5).get().title == "Task 05"
    with pytest.raises(Todo.DoesNotExist, match=r"no Todo matches the query \(n\)"):
        Todo.objects.get(n=99)
    with pytest.raises(Todo.DoesNotExist):
        Todo.objects.filter(done=True).get(n=4)
    with pytest.raises(so.MultipleObjectsReturned, match="more than one Todo") as err:
        Todo.objects.get(done=True)
    assert isinstance(err.value, so.SimperiumError)


def test_get_by_id_reads_one_object(
    todos: list[Todo], client: so.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = interleave(monkeypatch, client.bucket("todos"))
    item = todos[4].id or ""
    assert Todo.objects.get(item).n == 4
    assert Todo.objects.get(id=item).n == 4
    assert Todo.objects.get(item, n=4).n == 4
    assert Todo.objects.filter(n__lt=5).get(id=item).n == 4
    assert calls == []  # no index walk: one GET each
    with pytest.raises(Todo.DoesNotExist):
        Todo.objects.get(id=item, n=5)
    with pytest.raises(Todo.DoesNotExist):
        Todo.objects.filter(done=True).get(id=item)
    with pytest.raises(Todo.DoesNotExist, match="does not exist in bucket 'todos'"):
        Todo.objects.get("missing")
    with pytest.raises(so.InvalidIdentifier):
        Todo.objects.get(id="has spaces")


# -- get_or_create / update_or_create ---------------------------------------------------------


def test_get_or_create(todos: list[Todo]) -> None:
    obj, created = Todo.objects.get_or_create(n=3)
    assert (obj.title, created) == ("Task 03", False)
    obj, created = Todo.objects.get_or_create(
        title="new", defaults={"n": 50, "tags": lambda: ["made"]}
    )
    assert created and obj.version == 1 and (obj.n, obj.tags) == (50, ["made"])
    again, created = Todo.objects.get_or_create(title="new", defaults={"n": 51})
    assert not created and again.id == obj.id and again.n == 50
    with pytest.raises(so.MultipleObjectsReturned):
        Todo.objects.get_or_create(done=True)


def test_get_or_create_with_an_id_and_nested_lookups(todos: list[Todo]) -> None:
    obj, created = Todo.objects.filter(done=False).get_or_create(
        id="chosen-id", title__startswith="x", defaults={"title": "xyz"}
    )
    assert created and obj.id == "chosen-id" and obj.title == "xyz"
    assert Todo.objects.get("chosen-id").title == "xyz"
    same, created = Todo.objects.get_or_create(id="chosen-id", defaults={"title": "other"})
    assert not created and same.title == "xyz"
    with pytest.raises(so.Conflict, match="'chosen-id' exists but does not match"):
        Todo.objects.get_or_create(id="chosen-id", title="not xyz")
    with pytest.raises(so.Conflict):
        Todo.objects.filter(done=True).update_or_create(id="chosen-id", defaults={"n": 1})
    assert Todo.objects.get("chosen-id").title == "xyz"  # untouched


def test_update_or_create(todos: list[Todo], other: so.Client) -> None:
    stale = Todo.objects.using(other).get(n=2)
    obj, created = Todo.objects.update_or_create(n=2, defaults={"done": True})
    assert not created and obj.done
    stale.tags = ["kept"]  # a concurrent edit of another field merges
    stale.save()
    assert Todo.objects.get(n=2).done and Todo.objects.get(n=2).tags == ["kept"]
    obj, created = Todo.objects.update_or_create(n=77, defaults={"title": "seventy-seven"})
    assert created and Todo.objects.get(n=77).title == "seventy-seven"
    with pytest.raises(so.InvalidLookup, match="has no field 'titel'"):
        Todo.objects.update_or_create(n=2, defaults={"titel": "x"})


# -- update / delete --------------------------------------------------------------------------


def test_update_saves_through_the_bulk_path_with_signals(
    todos: list[Todo], sent: dict[str, list[str | None]]
) -> None:
    assert Todo.objects.filter(done=True).update(title="done!", tags=["x"]) == 4
    assert sorted(t.n for t in Todo.objects.filter(title="done!")) == [0, 3, 6, 9]
    assert len(sent["pre_save"]) == len(sent["post_save"]) == 4
    assert Todo.objects.filter(n__lt=3).update(title="done!") == 3  # n=0 was done! already
    assert len(sent["post_save"]) == 6


def test_update_of_many_objects_goes_in_batches(client: so.Client) -> None:
    Todo.objects.bulk_save([Todo(title=f"t{i}", n=i) for i in range(1200)])
    assert Todo.objects.filter(n__gte=100).update(done=True) == 1100
    assert Todo.objects.filter(done=True).count() == 1100


def test_update_refuses_what_cannot_be_saved_before_sending(
    todos: list[Todo], sent: dict[str, list[str | None]]
) -> None:
    with pytest.raises(so.InvalidLookup, match="update\\(\\): Todo has no field 'nn'"):
        Todo.objects.all().update(nn=1)
    with pytest.raises(so.InvalidLookup, match="has no field 'id'"):
        Todo.objects.all().update(id="x")
    with pytest.raises(TypeError, match="at least one field"):
        Todo.objects.all().update()
    with pytest.raises(ValidationError):
        Todo.objects.all().update(n="many")
    with pytest.raises(TypeError, match="sliced"):
        Todo.objects.all()[:3].update(n=1)
    assert sent == {}
    assert sorted(t.n for t in Todo.objects.all()) == list(range(12))


def _delete_once(other: so.Client, n: int) -> Callable[..., None]:
    done: list[bool] = []

    def receiver(sender: Any, instance: Todo, **kw: Any) -> None:
        if not done:
            done.append(True)
            Todo.objects.using(other).get(n=n).delete()

    return receiver


def test_update_and_delete_skip_objects_deleted_meanwhile(
    todos: list[Todo], other: so.Client
) -> None:
    receiver = _delete_once(other, 6)
    signals.pre_save.connect(receiver, sender=Todo)
    try:
        assert Todo.objects.filter(done=True).update(title="late") == 3  # 6 went before its save
    finally:
        signals.pre_save.disconnect(receiver, sender=Todo)
    receiver = _delete_once(other, 9)
    signals.pre_delete.connect(receiver, sender=Todo)
    try:
        assert Todo.objects.filter(title="late").delete() == 2  # 9 went before its delete
    finally:
        signals.pre_delete.disconnect(receiver, sender=Todo)
    assert sorted(t.n for t in Todo.objects.all()) == [1, 2, 4, 5, 7, 8, 10, 11]


def test_delete_through_the_bulk_path_with_signals(
    todos: list[Todo], sent: dict[str, list[str | None]]
) -> None:
    assert Todo.objects.filter(n__gte=8).delete() == 4
    assert Todo.objects.count() == 8
    assert sorted(sent["pre_delete"], key=str) == sorted(sent["post_delete"], key=str)
    assert len(sent["post_delete"]) == 4
    assert Todo.objects.filter(n__gte=8).delete() == 0
    with pytest.raises(TypeError, match="sliced"):
        Todo.objects.all()[:2].delete()


# -- values_list / in_bulk --------------------------------------------------------------------


def test_values_list(todos: list[Todo]) -> None:
    qs = Todo.objects.filter(n__lt=3).order_by("n")
    assert list(qs.values_list("n", "title")) == [(0, "Task 00"), (1, "Task 01"), (2, "Task 02")]
    assert list(qs.values_list("n", flat=True)) == [0, 1, 2]
    assert list(Todo.objects.values_list("title", flat=True))[:1] == ["Task 11"]
    first = next(qs.values_list())
    assert first == (todos[0].id, todos[0].version, "Task 00", 0, True, [])
    with pytest.raises(TypeError, match="exactly one field"):
        qs.values_list("n", "title", flat=True)
    with pytest.raises(so.InvalidLookup, match="values_list\\('nn'\\)"):
        qs.values_list("nn")


def test_in_bulk(todos: list[Todo], client: so.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = interleave(monkeypatch, client.bucket("todos"))
    wanted = [todos[1].id or "", todos[3].id or "", "missing"]
    found = Todo.objects.in_bulk(wanted)
    assert {k: v.n for k, v in found.items()} == {todos[1].id: 1, todos[3].id: 3}
    assert set(Todo.objects.filter(done=True).in_bulk(wanted)) == {todos[3].id}
    assert calls == []  # a few ids: read one by one
    assert Todo.objects.in_bulk([]) == {}
    everything = Todo.objects.in_bulk()
    assert len(everything) == 12 and everything[todos[5].id or ""].n == 5
    many = [t.id or "" for t in todos] + [f"absent-{i}" for i in range(30)]
    assert len(Todo.objects.filter(n__gte=6).in_bulk(many)) == 6
    assert calls and all(c["since"] is None for c in calls)  # many ids: one walk
    with pytest.raises(so.InvalidIdentifier):
        Todo.objects.in_bulk(["bad id"])
    with pytest.raises(TypeError, match="not a str"):
        Todo.objects.in_bulk("abc")
    with pytest.raises(TypeError, match="sliced"):
        Todo.objects.all()[:2].in_bulk()


# -- lookups ----------------------------------------------------------------------------------


def test_new_lookups_against_the_server(todos: list[Todo]) -> None:
    assert Todo.objects.get(title__iexact="task 07").n == 7
    assert sorted(t.n for t in Todo.objects.filter(n__range=(3, 5))) == [3, 4, 5]
    assert Todo.objects.filter(title__regex=r"Task 1\d$").count() == 2
    assert Todo.objects.filter(title__iregex=r"^task 0[0-4]").count() == 5
