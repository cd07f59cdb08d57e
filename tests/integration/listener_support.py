"""Shared pieces of the listener tests: models, a signal recorder and a fault-injecting proxy."""

from __future__ import annotations

import contextlib
import select
import socket
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


class FaultyProxy:
    """A TCP proxy to ``target`` whose n-th connection (from 1) follows ``plan(n)``.

    ``"forward"`` relays bytes both ways, ``"503"`` answers one 503 and closes, ``"trickle"``
    starts an answer and sends one more byte of a header every 50 ms, forever.
    """

    def __init__(self, target_url: str, plan: Callable[[int], str]) -> None:
        host, port = target_url.rsplit("//", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.plan = plan
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.count = 0
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.count += 1
            mode = self.plan(self.count)
            if mode == "trickle":
                self._spawn(self._trickle, conn)
            elif mode == "503":
                self._spawn(self._refuse, conn)
            else:
                self._spawn(self._relay, conn)

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        return True

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            if not self._read_request(conn):
                return
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self._closing.wait(0.05):
                    conn.sendall(b"a")

    def _refuse(self, conn: socket.socket) -> None:
        with conn:
            if not self._read_request(conn):
                return
            body = b'{"error": 503, "message": "try again"}'
            conn.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )

    def _relay(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(self.target) as upstream:
            pair = {conn: upstream, upstream: conn}
            while not self._closing.is_set():
                ready, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    pair[sock].sendall(data)

    def close(self) -> None:
        self._closing.set()
        self.sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
