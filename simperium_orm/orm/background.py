"""One request run in a background thread while the calling thread works on something else.

Used to overlap the server's work with the client's: a scan reads the next index page while it
validates the current one, and ``bulk_save`` sends one batch while it prepares the next and
settles the last. The calling thread waits only when it needs the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Background"]

T = TypeVar("T")

_NOTHING = object()


class Background(Generic[T]):
    """``fn()`` running in a daemon thread; :meth:`result` waits for it and returns or raises.

    The constructor returns once the thread has begun: a request holds the interpreter until
    it is sent and waits for its answer with the interpreter released, so the request is on
    its way before the caller goes on with its own work. A result never asked for is dropped
    (the thread ends on its own).
    """

    def __init__(self, fn: Callable[[], T], name: str = "simperium-orm-background") -> None:
        self._fn = fn
        self._value: object = _NOTHING
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        self._started.set()
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the waiting thread in result()
            self._error = exc

    def result(self) -> T:
        """Wait for ``fn()``; its value, or the exception it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not _NOTHING
        return self._value  # type: ignore[return-value]
