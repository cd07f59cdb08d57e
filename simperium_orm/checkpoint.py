"""Where a listener keeps its place: the last fully delivered cv, and what it delivered since.

A checkpoint stores, per feed key (``app/bucket``), a :class:`Position`: the cv up to which every
change's signals were delivered, plus the ``(id, version)`` pairs already delivered after that
cv. After a crash the listener resumes from the cv and skips those pairs, so each version is
delivered once: a change is re-delivered only if the process died while its receivers ran.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class Position:
    """A feed position: ``cv`` and the versions delivered since it (id -> version)."""

    cv: str | None = None
    delivered: dict[str, int] = field(default_factory=dict)


class Checkpoint(Protocol):
    """Loads and saves feed positions; implementations must be thread-safe."""

    def load(self, key: str) -> Position: ...

    def save(self, key: str, position: Position) -> None: ...


class MemoryCheckpoint:
    """Positions kept in memory: the default, good for the life of the process."""

    def __init__(self) -> None:
        self._positions: dict[str, Position] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryCheckpoint keys={sorted(self._positions)}>"

    def load(self, key: str) -> Position:
        with self._lock:
            pos = self._positions.get(key, Position())
            return Position(pos.cv, dict(pos.delivered))

    def save(self, key: str, position: Position) -> None:
        with self._lock:
            self._positions[key] = Position(position.cv, dict(position.delivered))


class FileCheckpoint:
    """Positions in a JSON file, replaced atomically on every save.

    After a restart a listener given the same file resumes where it stopped. ``fsync=True``
    (the default) also survives a power loss, at the cost of a disk flush per save.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._cache: dict[str, Position] | None = None

    def __repr__(self) -> str:
        return f"<FileCheckpoint {str(self.path)!r}>"

    def load(self, key: str) -> Position:
        with self._lock:
            pos = self._read().get(key, Position())
            return Position(pos.cv, dict(pos.delivered))

    def save(self, key: str, position: Position) -> None:
        with self._lock:
            positions = self._read()
            positions[key] = Position(position.cv, dict(position.delivered))
            self._write(positions)

    def _read(self) -> dict[str, Position]:
        if self._cache is None:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raw = {}
            except ValueError as exc:
                raise ValueError(f"checkpoint file {self.path} is not valid JSON") from exc
            self._cache = {
                key: Position(value.get("cv"), dict(value.get("delivered", {})))
                for key, value in raw.items()
            }
        return self._cache

    def _write(self, positions: dict[str, Position]) -> None:
        data = {k: {"cv": p.cv, "delivered": p.delivered} for k, p in positions.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache = positions
