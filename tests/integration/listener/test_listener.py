"""The listener over real HTTP: signals, own writes, receivers that fail, bad data, stop()."""

from __future__ import annotations

import time

import pytest
from pydantic import Field, ValidationError

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.listener_support import Todo, listener_threads, recording


def test_each_signal_with_its_arguments(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    remote = other.bucket("todo")
    with recording() as rec, so.Listener(Todo, client=mine, poll_timeout=5):
        remote.write("milk", {"title": "milk"})
        assert rec.wait_count(1)
        remote.write("milk", {"done": True})
        assert rec.wait_count(2)
        remote.delete("milk")
        assert rec.wait_count(3)
    created, updated, deleted = rec.heard
    assert created.signal == "remote_created" and created.sender is Todo
    assert set(created.kwargs) == {"instance", "change", "userid"}
    assert created.kwargs["instance"].model_dump() == {"title": "milk", "done": False}
    assert (created.kwargs["instance"].id, created.kwargs["instance"].version) == ("milk", 1)
    assert created.kwargs["change"]["o"] == "M" and created.kwargs["userid"] is None
    assert updated.signal == "remote_updated"
    assert set(updated.kwargs) == {"instance", "changed_fields", "change", "userid"}
    assert updated.kwargs["changed_fields"] == {"done"}
    assert updated.kwargs["instance"].version == 2 and updated.kwargs["instance"].done is True
    assert deleted.signal == "remote_deleted"
    assert deleted.kwargs == {"id": "milk", "change": deleted.kwargs["change"], "userid": None}
    assert deleted.kwargs["change"]["o"] == "-" and deleted.kwargs["change"]["ev"] == 3
    assert rec.errors == []


def test_poll_reports_other_clients_and_skips_its_own(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    listener = so.Listener(Todo, client=mine)
    Todo.objects.using(mine).create(title="mine")
    Todo.objects.using(other).create(title="theirs")
    with recording() as rec:
        events = listener.poll()
    assert [(e.kind, e.instance.title) for e in events if e.instance] == [("created", "theirs")]
    assert rec.titles() == ["theirs"]
    assert events[0].instance is rec.heard[0].kwargs["instance"]
    assert listener.poll() == []
    assert listener.cv == mine.bucket("todo").index(limit=1)["current"]


def test_saving_a_delivered_instance_is_not_heard_back(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    listener = Todo.objects.using(mine).listen()
    other.bucket("todo").write("a", {"title": "draft"})
    with recording():
        [event] = listener.poll()
        assert event.instance is not None
        event.instance.done = True
        event.instance.save()  # through the listener's client: its own write
        assert listener.poll() == []
    assert other.bucket("todo").get("a") == {"title": "draft", "done": True}


def test_start_hears_changes_made_right_after_the_constructor(
    me: tuple[so.Client, so.Client],
) -> None:
    mine, other = me
    listener = so.Listener(Todo, client=mine, poll_timeout=5)
    other.bucket("todo").write("early", {"title": "early"})  # before start()
    with recording() as rec, listener:
        assert rec.wait_count(1)
    assert rec.titles() == ["early"]


def test_a_failing_receiver_is_reported_and_the_rest_delivered(
    me: tuple[so.Client, so.Client],
) -> None:
    mine, other = me
    listener = so.Listener(Todo, client=mine)
    other.bucket("todo").write("a", {"title": "boom"})
    other.bucket("todo").write("b", {"title": "fine"})

    def fail(sender: object, instance: Todo, **kw: object) -> None:
        if instance.title == "boom":
            raise RuntimeError("receiver bug")

    so.signals.remote_created.connect(fail, sender=Todo)
    try:
        with recording() as rec:
            events = listener.poll()
    finally:
        so.signals.remote_created.disconnect(fail, sender=Todo)
    assert [e.id for e in events] == ["a", "b"]
    assert sorted(rec.titles()) == ["boom", "fine"]
    [error] = rec.errors
    assert error.sender is listener
    assert str(error.kwargs["error"]) == "receiver bug"
    assert error.kwargs["change"]["id"] == "a"
    assert listener.poll() == []  # delivered once: the failure is not retried


def test_data_that_does_not_fit_the_model_is_reported_and_skipped(
    me: tuple[so.Client, so.Client],
) -> None:
    mine, other = me
    with recording() as rec, so.Listener(Todo, client=mine, poll_timeout=5):
        other.bucket("todo").write("bad", {"title": 42, "done": "maybe"})
        other.bucket("todo").write("good", {"title": "fine"})
        assert rec.wait_for(lambda r: len(r.heard) == 1 and len(r.errors) == 1)
    [error] = rec.errors
    assert isinstance(error.kwargs["error"], ValidationError)
    assert "'bad'" in str(error.kwargs["error"])
    assert error.kwargs["change"]["id"] == "bad" and error.kwargs["change"]["ev"] == 1
    assert rec.titles() == ["fine"]


def test_changed_fields_are_field_names(local_server: SimperiumServer) -> None:
    class Aliased(so.Model, bucket="aliased"):
        id_: str = Field(alias="id")
        note: str = ""

    token = local_server.create_user()
    mine, other = local_server.client(token), local_server.client(token)
    listener = so.Listener(Aliased, client=mine)
    other.bucket("aliased").write("x", {"id": "one"})
    other.bucket("aliased").write("x", {"id": "two", "extra": 1})
    with recording(Aliased):
        created, updated = listener.poll()
    assert created.kind == "created" and created.instance is not None
    assert created.instance.id_ == "one" and created.changed_fields == {"id_"}
    assert updated.kind == "updated" and updated.instance is not None
    assert updated.instance.id_ == "two" and updated.instance.unknown_data == {"extra": 1}
    assert updated.changed_fields == {"id_", "extra"}
    other.bucket("aliased").write("x", {"extra": 2})
    with recording(Aliased) as rec:
        [event] = listener.poll()
    assert rec.heard[0].kwargs["changed_fields"] == event.changed_fields == {"extra"}


def test_an_object_that_moves_on_before_its_data_is_read_is_read_at_its_version(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = me
    remote = other.bucket("todo")
    remote.write("x", {"title": "x1"})  # before the listener: it has no ghost of x
    listener = so.Listener(Todo, client=mine)
    remote.write("x", {"title": "x2"})
    feed = listener.feeds[0]
    fetch = feed.fetch
    edits = [lambda: remote.write("x", {"title": "x3"})]

    def fetch_then_edit(*args: object, **kwargs: object) -> object:
        answer = fetch(*args, **kwargs)  # type: ignore[arg-type]
        if edits:
            edits.pop()()  # x changes after the round was read, before its data is
        return answer

    feed.fetch = fetch_then_edit  # type: ignore[method-assign]
    with recording() as rec, caplog.at_level("DEBUG", logger="simperium_orm.http"):
        [event] = listener.poll()
    # The index has x at v3, not the round's v2: v1 is read and the round's diff applied.
    assert (event.kind, event.version, event.changed_fields) == ("updated", 2, {"title"})
    assert event.instance is not None and event.instance.title == "x2"
    assert request_paths(caplog) == ["changes", "index", "i/x/v/1"]
    with recording() as rec:
        [event] = listener.poll()  # v3 from the diff and the ghost: no read
    assert rec.keys() == [("remote_updated", "x", 3)]
    assert event.instance is not None and event.instance.title == "x3"


def test_unknown_cv_reindexes_since_it(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    remote = other.bucket("todo")
    remote.write("before", {"title": "before"})
    other.bucket("elsewhere").write("e", {"n": 1})
    foreign_cv = other.bucket("elsewhere").index(limit=1)["current"]  # not a cv of "todo"
    remote.write("after", {"title": "after"})
    remote.write("before", {"done": True})
    listener = so.Listener(Todo, client=mine, cv=foreign_cv)
    with recording() as rec:
        events = listener.poll()  # 404 for the cv: the index since it instead, then go on
    assert sorted((e.id, e.kind, e.version) for e in events) == [
        ("after", "created", 1),
        ("before", "updated", 2),
    ]
    assert rec.errors == []
    assert listener.cv == mine.bucket("todo").index(limit=1)["current"]
    remote.write("later", {"title": "later"})
    with recording() as rec:
        assert [e.id for e in listener.poll()] == ["later"]


def test_a_cv_that_is_not_one_reindexes_everything(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    other.bucket("todo").write("a", {"title": "a"})
    listener = so.Listener(Todo, client=mine, cv="not-a-cv")
    with recording():
        assert [e.id for e in listener.poll()] == ["a"]
        assert listener.poll() == []


def test_stop_interrupts_the_long_poll_and_leaves_no_thread() -> None:
    with SimperiumServer(long_poll_timeout=60) as server:
        client = server.client()
        listener = so.Listener(Todo, client=client, poll_timeout=60).start()
        feed = listener.feeds[0]
        waiting = server._running.server.state.wakeups  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while waiting.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the long-poll has reached the server
        assert waiting.waiting == 1 and feed.busy_since is not None
        started = time.monotonic()
        listener.stop()
        assert time.monotonic() - started < 5  # far below the 60 s long-poll
        assert not listener.running and listener_threads() == []
        listener.stop()  # twice is fine
        client.close()


def test_context_manager_and_restart(me: tuple[so.Client, so.Client]) -> None:
    mine, other = me
    listener = so.Listener(Todo, client=mine, poll_timeout=5)
    with recording() as rec:
        with listener:
            other.bucket("todo").write("one", {"title": "one"})
            assert rec.wait_count(1)
        assert listener_threads() == []
        other.bucket("todo").write("two", {"title": "two"})  # heard after a restart
        with listener:
            assert rec.wait_count(2)
        with pytest.raises(RuntimeError):
            listener.start().poll()
        listener.stop()
    assert rec.titles() == ["one", "two"] and listener_threads() == []


def test_several_models_each_with_its_feed(me: tuple[so.Client, so.Client]) -> None:
    class Note(so.Model, bucket="note"):
        text: str

    mine, other = me
    listener = so.Listener(Todo, Note, client=mine)
    other.bucket("note").write("n", {"text": "hi"})
    other.bucket("todo").write("t", {"title": "hi"})
    with recording(Todo, Note) as rec:
        events = listener.poll()
    assert sorted((e.model.__name__, e.id) for e in events) == [("Note", "n"), ("Todo", "t")]
    assert {h.sender for h in rec.heard} == {Todo, Note}
    assert set(listener.cvs) == {"todo", "note"}
    with pytest.raises(TypeError):
        so.Listener(Todo, Note, client=mine, cv="0" * 24)


def request_paths(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The paths (after the bucket name, without the query) of the GET requests logged."""
    requests = [r.getMessage().split(" ")[:2] for r in caplog.records]
    return [path.split("?")[0].split("/todo/", 1)[1] for verb, path in requests if verb == "GET"]


def test_states_come_from_diffs_and_at_most_one_index_read_per_round(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = me
    remote = other.bucket("todo")
    remote.bulk_post({f"old{i}": {"title": f"old {i}"} for i in range(3)})
    listener = so.Listener(Todo, client=mine)  # nothing from before it is delivered
    remote.bulk_post({f"n{i}": {"title": f"new {i}"} for i in range(3)})
    remote.write("n0", {"done": True})
    with recording(), caplog.at_level("DEBUG", logger="simperium_orm.http"):
        events = listener.poll()
    assert [(e.kind, e.id, e.version) for e in events] == [
        ("created", "n0", 1),
        ("created", "n1", 1),
        ("created", "n2", 1),
        ("updated", "n0", 2),
    ]
    assert events[3].instance is not None and events[3].instance.done is True
    assert request_paths(caplog) == ["changes"]  # every state from the creation diffs
    caplog.clear()
    for i in range(3):  # objects the listener has no ghost of, each changed once
        remote.write(f"old{i}", {"done": True})
    with recording(), caplog.at_level("DEBUG", logger="simperium_orm.http"):
        events = listener.poll()
    assert [(e.id, e.version, e.changed_fields) for e in events] == [
        (f"old{i}", 2, {"done"}) for i in range(3)
    ]
    assert request_paths(caplog) == ["changes", "index"]  # the three in one read
    caplog.clear()
    remote.write("old1", {"title": "changed"})
    with recording(), caplog.at_level("DEBUG", logger="simperium_orm.http"):
        [event] = listener.poll()
    assert event.instance is not None and event.instance.title == "changed"
    assert request_paths(caplog) == ["changes"]  # their ghosts are known now
