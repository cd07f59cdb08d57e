"""A TCP proxy in front of the local server that drops, delays or cuts connections on a plan.

The proxy relays bytes between a client and the server. Each accepted connection is numbered
(from 1) and gets the :class:`Fault` that ``plan(n)`` returns:

- ``pass``: relay both ways;
- ``delay``: wait ``delay`` seconds, then relay;
- ``drop``: close the client's connection before anything reaches the server;
- ``cut``: relay the request, then relay only the first ``cut_after`` bytes of the response
  and close both connections (``reset=True`` aborts with a TCP RST instead of a FIN). The
  cut waits for the server's first response byte, so the server has handled the request (a
  write is committed) and its answer is lost: the case where retrying could apply a write twice;
- ``answer``: read the request head and answer ``answer`` (a whole HTTP response) itself,
  the server never asked (by default a ``503``);
- ``trickle``: read the request head, then send a response head one byte every 50 ms, for as
  long as the client waits (a stalled server).

So that a fault hits one request, not a random point of a keep-alive stream, the proxy adds
``Connection: close`` to each response head: the client then sends one request per connection.

One thread accepts, one thread serves each connection; ``close()`` wakes them all and joins
them, so no thread or socket outlives the proxy.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["pass", "delay", "drop", "cut", "answer", "trickle"]

_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: 38\r\n\r\n"
    b'{"error": 503, "message": "try again"}'
)


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one connection."""

    kind: FaultKind = "pass"
    delay: float = 0.0
    cut_after: int = 0
    reset: bool = False
    answer: bytes = _UNAVAILABLE


PASS = Fault()
Plan = Callable[[int], Fault]


def schedule(*faults: Fault) -> Plan:
    """The n-th connection gets ``faults[n - 1]``; every later one passes."""
    return lambda n: faults[n - 1] if n <= len(faults) else PASS


@dataclass(frozen=True)
class SeededFaults:
    """Faults drawn per connection from ``random.Random(f"{seed}/{n}")``.

    ``cut`` is the share of connections cut: a quarter of them dropped before forwarding,
    the rest cut mid-response after 0 to ``max_cut_after`` bytes (half with a reset).
    ``delay`` is the share delayed by up to ``max_delay`` seconds. Connection n's fault
    depends only on the seed and n, not on timing.
    """

    seed: int
    cut: float = 0.2
    delay: float = 0.0
    max_delay: float = 0.02
    max_cut_after: int = 400

    def __call__(self, n: int) -> Fault:
        rng = random.Random(f"{self.seed}/{n}")
        draw = rng.random()
        if draw < self.cut:
            if rng.random() < 0.25:
                return Fault("drop")
            return Fault(
                "cut", cut_after=rng.randint(0, self.max_cut_after), reset=rng.random() < 0.5
            )
        if draw < self.cut + self.delay:
            return Fault("delay", delay=rng.uniform(0, self.max_delay))
        return PASS


@dataclass
class Stats:
    """What the proxy did: faults by kind, and the cut requests the server had answered."""

    connections: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    #: cut connections by request method, counted only when the server had begun its answer
    answered_then_cut: Counter[str] = field(default_factory=Counter)

    @property
    def cut_rate(self) -> float:
        """The share of connections dropped or cut."""
        lost = self.faults["drop"] + self.faults["cut"]
        return lost / self.connections if self.connections else 0.0


class FaultProxy:
    """Relays ``127.0.0.1:<port>`` to ``target_url`` with the faults ``plan`` picks."""

    def __init__(self, target_url: str, plan: Plan = lambda n: PASS) -> None:
        host, port = target_url.rsplit("//", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.plan = plan
        self.stats = Stats()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        # Never read: once written, it stays readable and wakes every select() at once.
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: set[threading.Thread] = set()
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._acceptor.start()

    def __repr__(self) -> str:
        return f"<FaultProxy {self.url} -> {self.target[0]}:{self.target[1]}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting, end every relayed connection and join every thread."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake_w.send(b"x")
        self._acceptor.join(10)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- accepting ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            ready, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self.stats.connections += 1
                number = self.stats.connections
            fault = self.plan(number)
            thread = threading.Thread(
                target=self._serve, args=(conn, fault), name=f"fault-proxy-{number}", daemon=True
            )
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket, fault: Fault) -> None:
        try:
            with conn:
                self._count(fault.kind)
                if fault.kind == "drop":
                    return
                if fault.kind in ("answer", "trickle"):
                    self._answer(conn, fault)
                    return
                if fault.kind == "delay" and self._closing.wait(fault.delay):
                    return
                try:
                    upstream = socket.create_connection(self.target, timeout=10)
                except OSError:
                    return  # the server is down: the client sees its connection closed
                with upstream:
                    upstream.settimeout(None)
                    cut = _Relay(conn, upstream, fault, self._wake_r).run()
                    if cut is not None:
                        with self._lock:
                            self.stats.answered_then_cut[cut] += 1
                        if fault.reset:
                            _abort(conn)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _answer(self, conn: socket.socket, fault: Fault) -> None:
        """Answer in the server's place: ``fault.answer``, or a head that never ends."""
        data = b""
        while b"\r\n\r\n" not in data:
            ready, _, _ = select.select([conn, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        try:
            if fault.kind == "answer":
                conn.sendall(fault.answer)
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._closing.wait(0.05):
                conn.sendall(b"a")
        except OSError:
            return

    def _count(self, kind: str) -> None:
        with self._lock:
            self.stats.faults[kind] += 1


class _Relay:
    """One connection's byte pump, which rewrites the response head and applies a cut."""

    def __init__(
        self, client: socket.socket, upstream: socket.socket, fault: Fault, wake: socket.socket
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.fault = fault
        self.wake = wake
        self.request_start = b""
        self.head = b""  # the response head, held until complete
        self.head_sent = False
        self.sent = 0  # response bytes given to the client
        self.cut_at = fault.cut_after

    def run(self) -> str | None:
        """Relay until either side closes; the request's method when the relay cut it."""
        sockets = [self.client, self.upstream, self.wake]
        while True:
            ready, _, _ = select.select(sockets, [], [])
            if self.wake in ready:
                return None
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return None
                if not data:
                    return None
                if sock is self.client:
                    if len(self.request_start) < 16:
                        self.request_start += data[:16]
                    try:
                        self.upstream.sendall(data)
                    except OSError:
                        return None
                elif self._respond(data):
                    return self.request_start.split(b" ", 1)[0].decode("ascii", "replace")

    def _respond(self, data: bytes) -> bool:
        """Pass response bytes on (rewriting the head); True when the cut happened."""
        if not self.head_sent:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0 and self.fault.kind != "cut":
                return False
            if end >= 0:
                head = _close_after(self.head[: end + 4])
                data = head + self.head[end + 4 :]
                self.head_sent = True
                # A cut lands inside the response, whatever its length: at most at its end less
                # one byte.
                self.cut_at = min(self.cut_at, len(head) + _content_length(head) - 1)
            else:
                data, self.head = self.head, b""  # a cut inside an unfinished head
        if self.fault.kind == "cut":
            data = data[: max(0, self.cut_at - self.sent)]
        try:
            self.client.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return self.fault.kind == "cut" and self.sent >= self.cut_at


def _close_after(head: bytes) -> bytes:
    """The response head with ``Connection: close`` instead of any Connection header."""
    lines = head[:-4].split(b"\r\n")
    kept = [line for line in lines[1:] if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _abort(sock: socket.socket) -> None:
    """Close with a TCP RST (linger 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
