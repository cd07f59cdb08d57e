"""Shared pieces of the listener tests: models, a signal recorder and a fault-injecting proxy."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from blinker import ANY

import simperium_orm as so
from simperium_orm import signals

REMOTE = ("remote_created", "remote_updated", "remote_deleted")


class Todo(so.Model, bucket="todo"):
    title: str
    done: bool = False


@dataclass(frozen=True)
class Heard:
    """One received signal: its name, sender and keyword arguments."""

    signal: str
    sender: Any
    kwargs: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, int | None]:
        """``(signal, id, version)``: what exactly-once is about."""
        instance = self.kwargs.get("instance")
        if instance is not None:
            return self.signal, instance.id, instance.version
        return self.signal, self.kwargs["id"], self.kwargs["change"].get("ev")


class Recorder:
    """Records the remote signals of some models and every ``listener_error``."""

    def __init__(self) -> None:
        self.heard: list[Heard] = []
        self.errors: list[Heard] = []
        self._changed = threading.Condition()
        #: called before a remote signal is recorded (a test may raise from it)
        self.before: Callable[[Heard], None] | None = None

    def _remote(self, name: str) -> Callable[..., None]:
        def receiver(sender: Any, **kwargs: Any) -> None:
            event = Heard(name, sender, kwargs)
            if self.before is not None:
                self.before(event)
            with self._changed:
                self.heard.append(event)
                self._changed.notify_all()

        return receiver

    def _error(self, sender: Any, **kwargs: Any) -> None:
        with self._changed:
            self.errors.append(Heard("listener_error", sender, kwargs))
            self._changed.notify_all()

    @contextlib.contextmanager
    def connected(self, *models: type[so.Model]) -> Iterator[Recorder]:
        receivers = [(getattr(signals, n), self._remote(n), m) for n in REMOTE for m in models]
        for signal, receiver, model in receivers:
            signal.connect(receiver, sender=model, weak=False)
        signals.listener_error.connect(self._error, sender=ANY, weak=False)
        try:
            yield self
        finally:
            for signal, receiver, model in receivers:
                signal.disconnect(receiver, sender=model)
            signals.listener_error.disconnect(self._error)

    def wait_for(self, predicate: Callable[[Recorder], bool], timeout: float = 15.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def wait_count(self, count: int, timeout: float = 15.0) -> bool:
        return self.wait_for(lambda r: len(r.heard) >= count, timeout)

    def titles(self, signal: str = "remote_created") -> list[str]:
        return [h.kwargs["instance"].title for h in self.heard if h.signal == signal]

    def keys(self) -> list[tuple[str, str, int | None]]:
        return [h.key for h in self.heard]


@contextlib.contextmanager
def recording(*models: type[so.Model]) -> Iterator[Recorder]:
    with Recorder().connected(*models or (Todo,)) as recorder:
        yield recorder


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("simperium-listener")]
