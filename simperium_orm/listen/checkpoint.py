"""Where a listener keeps its place: the last fully delivered cv, and what it delivered since.

A checkpoint stores, per feed key (``app/bucket``), a :class:`Position`: the cv up to which every
change's signals were delivered, plus the ``id -> version`` pairs already delivered beyond that
cv. After a crash the listener resumes from the cv and skips those pairs, so each version is
delivered once: a change is delivered again only if the process died while its receivers ran.

The listener calls :meth:`Checkpoint.record` after each delivered event and
:meth:`Checkpoint.save` when a round is done (the new cv, with the pairs it no longer needs
left out). :class:`FileCheckpoint` makes ``record`` an append to the file, so a round costs one
small write per event rather than a rewrite of everything delivered so far.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Checkpoint", "FileCheckpoint", "MemoryCheckpoint", "Position"]


@dataclass
class Position:
    """A feed position: ``cv`` and the versions delivered beyond it (id -> version)."""

    cv: str | None = None
    delivered: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Position:
        return Position(self.cv, dict(self.delivered))


class Checkpoint(Protocol):
    """Loads and saves feed positions; implementations must be thread-safe."""

    def load(self, key: str) -> Position:
        """The saved position of feed ``key`` (an empty :class:`Position` when none)."""
        ...

    def save(self, key: str, position: Position) -> None:
        """Replace the position of feed ``key``."""
        ...

    def record(self, key: str, item: str, version: int) -> None:
        """Add ``item -> version`` to the delivered pairs of feed ``key``, durably."""
        ...


class MemoryCheckpoint:
    """Positions kept in memory: the default, good for the life of the process."""

    def __init__(self) -> None:
        self._positions: dict[str, Position] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryCheckpoint keys={sorted(self._positions)}>"

    def load(self, key: str) -> Position:
        with self._lock:
            return self._positions.get(key, Position()).copy()

    def save(self, key: str, position: Position) -> None:
        with self._lock:
            self._positions[key] = position.copy()

    def record(self, key: str, item: str, version: int) -> None:
        with self._lock:
            position = self._positions.get(key)
            if position is None:
                position = self._positions[key] = Position()
            position.delivered[item] = version


class FileCheckpoint:
    """Positions in a JSON file that survives restarts (and, with ``fsync``, power loss).

    The file's first line holds every position; ``save`` replaces the whole file atomically
    (a temporary file renamed over it). Each ``record`` appends one line ``[key, id, version]``,
    read back over the first line on load; a line torn by a crash is ignored. Use one file per
    listener process: two processes writing one file would overwrite each other.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._cache: dict[str, Position] | None = None
        self._on_disk = False

    def __repr__(self) -> str:
        return f"<FileCheckpoint {str(self.path)!r}>"

    def load(self, key: str) -> Position:
        with self._lock:
            return self._read().get(key, Position()).copy()

    def save(self, key: str, position: Position) -> None:
        with self._lock:
            positions = self._read()
            positions[key] = position.copy()
            self._write(positions)

    def record(self, key: str, item: str, version: int) -> None:
        with self._lock:
            positions = self._read()
            positions.setdefault(key, Position()).delivered[item] = version
            if not self._on_disk:
                self._write(positions)
                return
            line = json.dumps([key, item, version], separators=(",", ":")) + "\n"
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())

    # -- file format --------------------------------------------------------------------------

    def _read(self) -> dict[str, Position]:
        if self._cache is not None:
            return self._cache
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        positions = _parse_positions(self.path, lines[0]) if lines else {}
        for number, line in enumerate(lines[1:], 2):
            try:
                key, item, version = json.loads(line)
                positions.setdefault(str(key), Position()).delivered[str(item)] = int(version)
            except (ValueError, TypeError):
                if number < len(lines):  # only the last line can be torn by a crash
                    raise ValueError(f"checkpoint file {self.path}: bad line {number}") from None
        self._cache, self._on_disk = positions, bool(lines)
        return positions

    def _write(self, positions: dict[str, Position]) -> None:
        data = {k: {"cv": p.cv, "delivered": p.delivered} for k, p in positions.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
                fh.write("\n")
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_directory(self.path.parent)
        self._cache, self._on_disk = positions, True


def _parse_positions(path: Path, line: str) -> dict[str, Position]:
    try:
        raw: Any = json.loads(line)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        return {
            str(key): Position(
                value.get("cv"), {str(k): int(v) for k, v in value.get("delivered", {}).items()}
            )
            for key, value in raw.items()
        }
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"checkpoint file {path} is not valid JSON") from exc


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories can't be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
