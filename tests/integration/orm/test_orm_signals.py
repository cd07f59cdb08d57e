"""Every row of docs/signals.md: which call sends which signal, against the local server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.orm.model import Model


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False


class Other(Model, bucket="other"):
    title: str = ""


Event = tuple[str, Any, dict[str, Any]]


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """Every save/delete signal sent for Todo, as (name, instance, other kwargs)."""
    log: list[Event] = []

    def recorder(name: str) -> Any:
        def receive(sender: type[Model], **kwargs: Any) -> None:
            assert sender is Todo
            instance = kwargs.pop("instance")
            log.append((name, instance, kwargs))

        return receive

    receivers = {
        name: recorder(name) for name in ("pre_save", "post_save", "pre_delete", "post_delete")
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, sender=Todo)
    yield log
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver, sender=Todo)


def names(events: list[Event]) -> list[str]:
    return [name for name, _, _ in events]


def test_save_new(client: so.Client, events: list[Event]) -> None:
    t = Todo(title="milk")
    t.save()
    assert events == [
        ("pre_save", t, {"created": True}),
        ("post_save", t, {"created": True, "changed_fields": {"title", "done"}}),
    ]


def test_pre_save_sees_the_new_id_and_post_save_the_server_state(
    client: so.Client, events: list[Event]
) -> None:
    seen: list[tuple[str | None, int | None]] = []

    def check(sender: Any, instance: Todo, **kwargs: Any) -> None:
        seen.append((instance.id, instance.version))

    signals.pre_save.connect(check, sender=Todo)
    signals.post_save.connect(check, sender=Todo)
    try:
        t = Todo.objects.create(title="milk")
    finally:
        signals.pre_save.disconnect(check, sender=Todo)
        signals.post_save.disconnect(check, sender=Todo)
    assert seen == [(t.id, None), (t.id, 1)]


def test_save_existing_with_changes(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.done = True
    t.save()
    assert events == [
        ("pre_save", t, {"created": False}),
        ("post_save", t, {"created": False, "changed_fields": {"done"}}),
    ]


def test_save_with_nothing_changed_sends_nothing(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.save()
    Todo.objects.get(t.id or "").save()
    assert events == []


def test_save_with_update_fields(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.title, t.done = "bread", True
    t.save(update_fields=["title"])
    assert events[-1] == ("post_save", t, {"created": False, "changed_fields": {"title"}})


def test_save_replace(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.save(replace=True)
    assert names(events) == ["pre_save", "post_save"]
    assert events[-1][2] == {"created": False, "changed_fields": {"title", "done"}}


def test_create(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    assert names(events) == ["pre_save", "post_save"]
    assert events[1] == ("post_save", t, {"created": True, "changed_fields": {"title", "done"}})


def test_failed_save_sends_only_pre_save(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    client.bucket("todo").delete(t.id or "")
    events.clear()
    t.done = True
    with pytest.raises(Todo.DoesNotExist):
        t.save()
    assert names(events) == ["pre_save"]


def test_changes_made_by_a_pre_save_receiver_are_saved(
    client: so.Client, events: list[Event]
) -> None:
    def stamp(sender: Any, instance: Todo, **kwargs: Any) -> None:
        instance.title = instance.title.upper()

    signals.pre_save.connect(stamp, sender=Todo)
    try:
        t = Todo.objects.create(title="milk")
        objs = Todo.objects.bulk_save([Todo(title="bread")])
    finally:
        signals.pre_save.disconnect(stamp, sender=Todo)
    assert Todo.objects.get(t.id or "").title == "MILK"
    assert Todo.objects.get(objs[0].id or "").title == "BREAD"


def test_delete(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.delete()
    assert events == [("pre_delete", t, {}), ("post_delete", t, {})]


def test_failed_delete_sends_only_pre_delete(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    stale = Todo.objects.get(t.id or "")
    t.done = True
    t.save()
    events.clear()
    with pytest.raises(so.PreconditionFailed):
        stale.delete(check_version=True)
    assert names(events) == ["pre_delete"]


def test_bulk_save(client: so.Client, events: list[Event]) -> None:
    old = Todo.objects.create(title="old")
    same = Todo.objects.create(title="same")
    events.clear()
    old.done = True
    new = Todo(title="new")
    Todo.objects.bulk_save([old, same, new])
    assert events == [
        ("pre_save", old, {"created": False}),
        ("pre_save", new, {"created": True}),
        ("post_save", old, {"created": False, "changed_fields": {"done"}}),
        ("post_save", new, {"created": True, "changed_fields": {"title", "done"}}),
    ]


def test_bulk_save_failure_sends_no_post_save_for_it(
    client: so.Client, events: list[Event]
) -> None:
    gone, kept = Todo.objects.bulk_save([Todo(title="gone"), Todo(title="kept")])
    client.bucket("todo").delete(gone.id or "")
    events.clear()
    gone.done = kept.done = True
    with pytest.raises(so.BulkError):
        Todo.objects.bulk_save([gone, kept])
    assert [(n, i.title) for n, i, _ in events] == [
        ("pre_save", "gone"),
        ("pre_save", "kept"),
        ("post_save", "kept"),
    ]


def test_bulk_delete(client: so.Client, events: list[Event]) -> None:
    a, b = Todo.objects.bulk_save([Todo(title="a"), Todo(title="b")])
    events.clear()
    Todo.objects.bulk_delete([a, b])
    assert events == [
        ("pre_delete", a, {}),
        ("pre_delete", b, {}),
        ("post_delete", a, {}),
        ("post_delete", b, {}),
    ]


def test_reading_and_refresh_send_nothing(client: so.Client, events: list[Event]) -> None:
    t = Todo.objects.create(title="milk")
    events.clear()
    t.refresh()
    Todo.objects.get(t.id or "")
    list(Todo.objects.filter(done=False))
    Todo.objects.count()
    Todo.objects.page(limit=5)
    assert events == []


def test_signals_are_per_model(client: so.Client, events: list[Event]) -> None:
    Other.objects.create(title="x").delete()
    assert events == []
