"""Ghosts over real HTTP: what a round reads, forgotten ghosts, lost versions, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.listen.ghosts import MemoryGhostStore
from tests.support.listener_support import Heard, Todo, recording


def reads(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The paths (after the bucket) of the GETs logged other than long-polls, in order."""
    requests = [r.getMessage().split(" ")[:2] for r in caplog.records]
    paths = [path.split("?")[0].split("/todo/", 1)[1] for verb, path in requests if verb == "GET"]
    return [path for path in paths if path != "changes"]


def updates(item: str, first_sv: int, count: int) -> list[dict[str, Any]]:
    """``count`` changes of ``item``'s title in a row, from version ``first_sv`` on: the
    change to version ``n`` sets it to ``"title n"`` (for bulk_post)."""
    return [
        {"id": item, "o": "M", "sv": sv, "v": {"title": {"o": "r", "v": f"title {sv + 1}"}}}
        for sv in range(first_sv, first_sv + count)
    ]


def test_a_burst_is_delivered_per_version_without_reading_data(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = me
    listener = so.Listener(Todo, client=mine)
    changes: list[dict[str, Any]] = [
        {"id": f"b{n}", "o": "M", "v": {"title": {"o": "+", "v": "new"}}} for n in range(10)
    ]
    for k in range(99):  # 1,000 changes spread over 10 objects, round-robin
        changes += [
            {"id": f"b{n}", "o": "M", "sv": k + 1, "v": {"title": {"o": "r", "v": f"t{k}"}}}
            for n in range(10)
        ]
    assert not any("error" in r for r in other.bucket("todo").bulk_post(changes))
    with recording() as rec, caplog.at_level("DEBUG", logger="simperium_orm.http"):
        events = listener.poll()
    assert len(events) == len(rec.heard) == 1000
    for n in range(10):  # each object's versions 1..100, in order, each at its state
        mine_n = [e for e in events if e.id == f"b{n}"]
        assert [e.version for e in mine_n] == list(range(1, 101))
        titles = [e.instance.title for e in mine_n if isinstance(e.instance, Todo)]
        assert titles == ["new", *[f"t{k}" for k in range(99)]]
    assert reads(caplog) == []  # no data read at all: every state from the diffs


def test_objects_without_ghosts_cost_one_read_per_round(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = me
    bucket = other.bucket("todo")
    bucket.bulk_post({f"o{n}": {"title": "before"} for n in range(10)})
    listener = so.Listener(Todo, client=mine)
    for round_number in range(3):  # each object changed once a round
        caplog.clear()
        bucket.bulk_post([c for n in range(10) for c in updates(f"o{n}", round_number + 1, 1)])
        with recording(), caplog.at_level("DEBUG", logger="simperium_orm.http"):
            events = listener.poll()
        version = round_number + 2
        assert [(e.id, e.version) for e in events] == [(f"o{n}", version) for n in range(10)]
        # The first round reads the ten at once from the index; then their ghosts are known.
        assert reads(caplog) == (["index"] if round_number == 0 else [])


def test_a_forgotten_ghost_is_read_again(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = me
    ghosts = MemoryGhostStore(max_objects=1)
    listener = so.Listener(Todo, client=mine, ghosts=ghosts)
    other.bucket("todo").write("a", {"title": "a"})
    other.bucket("todo").write("b", {"title": "b"})  # b's ghost pushes a's out
    with recording():
        listener.poll()
    assert len(ghosts) == 1 and ghosts.get(listener.feeds[0].key, "a") is None
    other.bucket("todo").write("a", {"title": "a2"})
    other.bucket("todo").write("a", {"done": True})
    with recording(), caplog.at_level("DEBUG", logger="simperium_orm.http"):
        events = listener.poll()
    assert [(e.version, e.instance.title, e.instance.done) for e in events if e.instance] == [
        (2, "a2", False),
        (3, "a2", True),
    ]
    assert reads(caplog) == ["i/a/v/1"]  # read at the version its first change starts from


@pytest.mark.parametrize("coalesce", [False, True], ids=["per-version", "coalesce"])
def test_versions_the_server_no_longer_keeps_fold_into_its_current_state(
    me: tuple[so.Client, so.Client], caplog: pytest.LogCaptureFixture, coalesce: bool
) -> None:
    mine, other = me
    bucket = other.bucket("todo")
    bucket.write("x", {"title": "before"})
    listener = so.Listener(Todo, client=mine, coalesce=coalesce)
    bucket.bulk_post(updates("x", 1, 70))  # the local server keeps the last 60 (and every 10th)
    with recording() as rec, caplog.at_level("DEBUG", logger="simperium_orm.http"):
        [event] = listener.poll()
    assert (event.kind, event.version, event.changed_fields) == ("updated", 71, {"title"})
    assert isinstance(event.instance, Todo) and event.instance.title == "title 71"
    assert rec.keys() == [("remote_updated", "x", 71)]
    # Folding needs only the last state: the index has it. Per version, v1 is gone: x is
    # read as it is now, and its 70 versions are one signal.
    assert reads(caplog) == (["index"] if coalesce else ["i/x/v/1", "i/x"])
    bucket.write("x", {"done": True})
    with recording():
        [event] = listener.poll()
    assert (event.version, event.changed_fields) == (72, {"done"})


def test_a_restart_without_ghosts_delivers_each_version_once_at_its_state(
    me: tuple[so.Client, so.Client], tmp_path: Path
) -> None:
    mine, other = me
    other.bucket("todo").write("x", {"title": "t0"})
    checkpoint = so.FileCheckpoint(tmp_path / "cp")
    listener = so.Listener(Todo, client=mine, checkpoint=checkpoint)
    other.bucket("todo").bulk_post(updates("x", 1, 5))

    def crash_at_v4(heard: Heard) -> None:
        if heard.kwargs["instance"].version == 4:
            raise SystemExit(3)  # the process dies while v4's receivers run

    with recording() as rec:
        rec.before = crash_at_v4
        with pytest.raises(SystemExit):
            listener.poll()
        rec.before = None
        resumed = so.Listener(Todo, client=mine, checkpoint=so.FileCheckpoint(tmp_path / "cp"))
        events = resumed.poll()  # no ghosts: x is read at v3 (the last delivered is v3)
        assert resumed.poll() == []
    assert [(e.version, e.instance.title) for e in events if e.instance] == [
        (4, "title 4"),
        (5, "title 5"),
        (6, "title 6"),
    ]
    heard = rec.keys()
    assert [version for _, _, version in heard] == [2, 3, 4, 5, 6]
