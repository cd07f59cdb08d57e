"""Bulk saves and deletes against the local server over HTTP."""

from __future__ import annotations

import pytest

import simperium_orm as so
from simperium_orm.orm.model import Model


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []


def test_bulk_save_creates_in_batches(client: so.Client) -> None:
    objs = [Todo(title=f"t{i}") for i in range(1100)]
    saved = Todo.objects.bulk_save(objs, batch_size=500)
    assert saved == objs
    assert all(o.version == 1 and o.id for o in objs)
    assert Todo.objects.count() == 1100
    assert Todo.objects.get(objs[700].id or "").title == "t700"


def test_bulk_save_updates_only_changed_objects(client: so.Client) -> None:
    objs = Todo.objects.bulk_save([Todo(title=f"t{i}") for i in range(5)])
    objs[1].done = True
    objs[3].tags.append("x")
    saved = Todo.objects.bulk_save(objs)
    assert saved == [objs[1], objs[3]]
    assert [o.version for o in objs] == [1, 2, 1, 2, 1]
    assert Todo.objects.get(objs[3].id or "").tags == ["x"]


def test_bulk_save_merges_with_concurrent_edits(client: so.Client) -> None:
    (t,) = Todo.objects.bulk_save([Todo(title="milk")])
    elsewhere = Todo.objects.get(t.id or "")
    elsewhere.title = "buy milk"
    elsewhere.save()
    t.done = True
    Todo.objects.bulk_save([t])
    assert (t.title, t.done, t.version) == ("buy milk", True, 3)
    assert Todo.objects.get(t.id or "").title == "buy milk"


def test_bulk_save_with_a_failing_change_raises_bulk_error(client: so.Client) -> None:
    objs = Todo.objects.bulk_save([Todo(title=f"t{i}") for i in range(3)])
    client.bucket("todo").delete(objs[1].id or "")  # gone: its change cannot apply
    for o in objs:
        o.done = True
    fresh = Todo(title="new")
    with pytest.raises(so.BulkError) as err:
        Todo.objects.bulk_save([*objs, fresh])
    assert err.value.failed == [(objs[1], 404)]
    assert len(err.value.results) == 4
    assert [o.version for o in objs] == [2, 1, 2]
    assert fresh.version == 1
    assert Todo.objects.filter(done=True).count() == 2


def test_bulk_delete(client: so.Client) -> None:
    objs = Todo.objects.bulk_save([Todo(title=f"t{i}") for i in range(7)])
    deleted = Todo.objects.bulk_delete(objs[:5], batch_size=2)
    assert deleted == objs[:5]
    assert all(o.version is None for o in deleted)
    assert Todo.objects.count() == 2


def test_bulk_delete_of_an_already_deleted_object_raises_bulk_error(client: so.Client) -> None:
    objs = Todo.objects.bulk_save([Todo(title=f"t{i}") for i in range(2)])
    client.bucket("todo").delete(objs[0].id or "")
    with pytest.raises(so.BulkError) as err:
        Todo.objects.bulk_delete(objs)
    assert err.value.failed == [(objs[0], 404)]
    assert objs[1].version is None
    assert Todo.objects.count() == 0


def test_a_failing_post_save_receiver_leaves_every_sent_object_in_step(client: so.Client) -> None:
    objs = [Todo(title=f"t{i}") for i in range(8)]

    def fail(sender: type[Todo], **kwargs: object) -> None:
        raise RuntimeError("receiver failed")

    so.signals.post_save.connect(fail, sender=Todo)
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            Todo.objects.bulk_save(objs, batch_size=2)
    finally:
        so.signals.post_save.disconnect(fail, sender=Todo)
    # The first batch was answered and the next two were in flight: all hold their versions;
    # the last batch was never sent.
    assert [o.version for o in objs] == [1] * 6 + [None] * 2
    assert {o.id for o in Todo.objects.all()} == {o.id for o in objs[:6]}
    objs[6].save()  # a batch never sent saves as usual
    assert Todo.objects.count() == 7


def test_an_object_listed_twice_is_written_in_order(client: so.Client) -> None:
    (todo,) = Todo.objects.bulk_save([Todo(title="a")])
    other = Todo.objects.get(todo.id or "")
    todo.tags, other.tags = ["first"], ["second"]
    # The same object under two instances: batches go one at a time, in order.
    Todo.objects.bulk_save([todo, other], batch_size=1)
    assert Todo.objects.get(todo.id or "").tags == ["second"]
