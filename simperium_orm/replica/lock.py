"""One syncing process per replica file: an exclusive lock on a file beside it.

The lock is an advisory ``flock`` on ``PATH.lock``, held for as long as the replica syncs and
released by the operating system when the process dies (a kill -9 leaves no stale lock).
Readers never take it. A replica in memory belongs to one process and needs none.
"""

from __future__ import annotations

import contextlib
import os

from simperium_orm.errors import ReplicaLocked

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per file is the caller's care
    fcntl = None  # type: ignore[assignment]

__all__ = ["SyncLock"]


class SyncLock:
    """The right to sync one replica file, taken with :meth:`acquire`."""

    def __init__(self, path: str) -> None:
        self.path = None if path == ":memory:" else f"{path}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self.path is None

    def acquire(self) -> None:
        """Take the lock; :class:`ReplicaLocked` when another process holds it."""
        if self.held or fcntl is None:
            return
        assert self.path is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ReplicaLocked(
                f"another process syncs {self.path[:-5]!r}; this one can read it, not sync it"
            ) from None
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
