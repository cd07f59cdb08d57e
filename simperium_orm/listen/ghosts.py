"""Ghosts: the last known server state of each object a listener has seen (version and data).

Simperium's own clients call an object's last known server state its *ghost*. A change from the
feed carries a diff ``v`` from version ``sv`` to version ``ev``: applied to a ghost at ``sv`` it
gives the object at ``ev`` without reading it. A listener keeps one ghost per object it heard of,
per feed (``app/bucket``, or ``app/bucket/all``), and the ghost moves on with every change.

:class:`GhostStore` is the interface: a listener needs nothing more, so another store (a
replica's, on disk) can stand in. :class:`MemoryGhostStore` is the default: the most recently
used ``max_objects`` ghosts in memory, the least recently used forgotten first. A forgotten
ghost costs one read the next time its object changes; it is never guessed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

__all__ = ["DEFAULT_MAX_OBJECTS", "Ghost", "GhostStore", "MemoryGhostStore"]

#: How many objects' ghosts a :class:`MemoryGhostStore` keeps unless told otherwise.
DEFAULT_MAX_OBJECTS = 10_000


class Ghost(NamedTuple):
    """An object as the server had it at ``version``; ``data`` is never changed in place."""

    version: int
    data: Mapping[str, Any]


class GhostStore(Protocol):
    """Where a listener keeps ghosts, by feed key and object id; must be thread-safe.

    A store owns the data it is given (the caller hands over a private copy) and gives it back
    as is: nobody changes it in place.
    """

    def get(self, key: str, id: str) -> Ghost | None:
        """The ghost of object ``id`` on feed ``key``, or None when unknown."""
        ...

    def put(self, key: str, id: str, version: int, data: Mapping[str, Any]) -> None:
        """Remember object ``id`` at ``version`` (replacing what was known)."""
        ...

    def drop(self, key: str, id: str) -> None:
        """Forget object ``id`` (deleted, or its state is no longer known)."""
        ...

    def clear(self, key: str) -> None:
        """Forget every object of feed ``key`` (a whole-bucket operation)."""
        ...


class MemoryGhostStore:
    """Ghosts in memory, at most ``max_objects`` of them: least recently used forgotten first.

    Memory is bounded by ``max_objects`` times the size of an object's data.
    """

    def __init__(self, max_objects: int = DEFAULT_MAX_OBJECTS) -> None:
        if max_objects < 1:
            raise ValueError("max_objects must be at least 1")
        self.max_objects = max_objects
        self._ghosts: OrderedDict[tuple[str, str], Ghost] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryGhostStore {len(self)}/{self.max_objects} objects>"

    def __len__(self) -> int:
        return len(self._ghosts)

    def get(self, key: str, id: str) -> Ghost | None:
        with self._lock:
            ghost = self._ghosts.get((key, id))
            if ghost is not None:
                self._ghosts.move_to_end((key, id))
            return ghost

    def put(self, key: str, id: str, version: int, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._ghosts[key, id] = Ghost(version, data)
            self._ghosts.move_to_end((key, id))
            while len(self._ghosts) > self.max_objects:
                self._ghosts.popitem(last=False)

    def drop(self, key: str, id: str) -> None:
        with self._lock:
            self._ghosts.pop((key, id), None)

    def clear(self, key: str) -> None:
        with self._lock:
            for pair in [pair for pair in self._ghosts if pair[0] == key]:
                del self._ghosts[pair]
