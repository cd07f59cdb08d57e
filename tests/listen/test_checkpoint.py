"""Checkpoint stores: memory and atomic JSON file."""

from __future__ import annotations

from pathlib import Path

import pytest

from simperium_orm.listen.checkpoint import FileCheckpoint, MemoryCheckpoint, Position


def test_memory_checkpoint_round_trips_copies() -> None:
    cp = MemoryCheckpoint()
    assert cp.load("app/todo") == Position()
    pos = Position("c1", {"a": 2})
    cp.save("app/todo", pos)
    pos.delivered["b"] = 1
    assert cp.load("app/todo") == Position("c1", {"a": 2})


def test_file_checkpoint_survives_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cv.json"
    FileCheckpoint(path).save("app/todo", Position("c9", {"x": 3}))
    FileCheckpoint(path, fsync=False).save("app/other", Position("c1"))
    again = FileCheckpoint(path)
    assert again.load("app/todo") == Position("c9", {"x": 3})
    assert again.load("app/other") == Position("c1", {})
    assert [p.name for p in path.parent.iterdir()] == ["cv.json"]  # no temp files left


def test_corrupt_checkpoint_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cv.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FileCheckpoint(path).load("k")


def test_memory_checkpoint_records_delivered_versions() -> None:
    cp = MemoryCheckpoint()
    cp.record("k", "a", 1)
    cp.record("k", "a", 2)
    assert cp.load("k") == Position(None, {"a": 2})
    cp.save("k", Position("c2"))
    assert cp.load("k") == Position("c2", {})


def test_file_checkpoint_records_are_appended_and_folded_by_save(tmp_path: Path) -> None:
    path = tmp_path / "cv.json"
    cp = FileCheckpoint(path, fsync=False)
    cp.record("k", "first", 1)  # no file yet: written whole
    cp.save("k", Position("c1", {"first": 1}))
    cp.record("k", "a", 3)
    cp.record("other", "b/x", 1)
    assert len(path.read_text().splitlines()) == 3
    assert FileCheckpoint(path).load("k") == Position("c1", {"first": 1, "a": 3})
    assert FileCheckpoint(path).load("other") == Position(None, {"b/x": 1})
    cp.save("k", Position("c2"))
    assert len(path.read_text().splitlines()) == 1
    assert FileCheckpoint(path).load("k") == Position("c2", {})


def test_a_record_torn_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cv.json"
    cp = FileCheckpoint(path, fsync=False)
    cp.save("k", Position("c1"))
    cp.record("k", "a", 1)
    with open(path, "a") as fh:
        fh.write('["k","b",')  # the process died in the middle of this line
    assert FileCheckpoint(path).load("k") == Position("c1", {"a": 1})
    path.write_text(path.read_text() + '\n["k","c",1]\n')
    with pytest.raises(ValueError, match="bad line 3"):
        FileCheckpoint(path).load("k")


def test_a_checkpoint_file_that_is_not_an_object_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cv.json"
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        FileCheckpoint(path).load("k")
