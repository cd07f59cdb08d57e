"""The listener over Simperium's websocket streaming protocol: the same signals, checkpoint and
exactly-once delivery as over long-polls."""

from __future__ import annotations

from pathlib import Path

import pytest

import simperium_orm as so
from tests.support.listener_support import Todo, listener_threads, recording


def test_the_same_signals_in_the_same_order_over_the_stream(
    me: tuple[so.Client, so.Client],
) -> None:
    mine, other = me
    remote = other.bucket("todo")
    with recording() as rec, so.Listener(Todo, client=mine, transport="stream", poll_timeout=5):
        remote.write("milk", {"title": "milk"})
        remote.write("milk", {"done": True})
        remote.delete("milk")
        Todo.objects.using(mine).create(title="my own write")  # not remote: no signal
        assert rec.wait_count(3)
    assert rec.keys() == [
        ("remote_created", "milk", 1),
        ("remote_updated", "milk", 2),
        ("remote_deleted", "milk", 3),
    ]
    assert rec.heard[1].kwargs["changed_fields"] == {"done"}
    assert rec.errors == [] and listener_threads() == []


def test_a_checkpoint_resumes_over_the_stream_with_nothing_lost_or_twice(
    me: tuple[so.Client, so.Client], tmp_path: Path
) -> None:
    mine, other = me
    checkpoint = so.FileCheckpoint(tmp_path / "cv.json")
    with recording() as rec:
        with so.Listener(
            Todo, client=mine, checkpoint=checkpoint, transport="stream", poll_timeout=5
        ):
            for n in range(5):
                Todo.objects.using(other).create(title=f"before {n}")
            assert rec.wait_count(5)
        for n in range(5):  # written while nobody listens
            Todo.objects.using(other).create(title=f"between {n}")
        with so.Listener(
            Todo, client=mine, checkpoint=checkpoint, transport="stream", poll_timeout=5
        ):
            assert rec.wait_count(10)
    titles = rec.titles()
    assert titles == [f"before {n}" for n in range(5)] + [f"between {n}" for n in range(5)]


def test_stream_is_for_one_user_and_a_known_transport(me: tuple[so.Client, so.Client]) -> None:
    mine, _ = me
    with pytest.raises(ValueError, match="/all is HTTP only"):
        so.Listener(Todo, client=mine, all_users=True, transport="stream")
    with pytest.raises(ValueError, match="'poll' or 'stream'"):
        so.Listener(Todo, client=mine, transport="pigeon")
