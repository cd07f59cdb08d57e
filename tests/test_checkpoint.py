"""Checkpoint stores: memory and atomic JSON file."""

from __future__ import annotations

from pathlib import Path

import pytest

from simperium_orm.checkpoint import FileCheckpoint, MemoryCheckpoint, Position


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
