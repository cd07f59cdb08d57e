"""Running the server with uvicorn: in the foreground (``serve``) or in a background thread.

The listening socket is bound before uvicorn starts, so the real port is known when
``--port 0`` picks one. Shutdown first wakes every waiting long-poll (they answer ``[]``), so
stopping never waits for a long-poll to time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import signal
import socket
import threading
from collections.abc import Callable, Generator
from types import FrameType

import uvicorn

from simperium_orm.server.app import build_app
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.state import State

#: httptools (C) parses HTTP in a fraction of h11's (pure Python) time: 2,700 -> 3,300 single
#: writes a second. h11 stays the fallback where httptools is not installed.
HTTP_PARSER = "httptools" if importlib.util.find_spec("httptools") else "h11"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found.sort(key=lambda entry: entry[0] != socket.AF_INET)  # "localhost": prefer 127.0.0.1
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class Server(uvicorn.Server):
    """uvicorn's server with prompt shutdown and a readiness callback.

    Signals (main thread only) stop it gracefully without re-raising afterwards, so the
    process exits 0; a second Ctrl-C forces the exit.
    """

    def __init__(
        self, config: uvicorn.Config, state: State, on_ready: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.state = state
        self.on_ready = on_ready
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.request_stop()

    def request_stop(self) -> None:
        """Ask the server to stop; callable from any thread or a signal handler."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; sleep on an event instead, ticking each second.
        assert self._wake is not None
        while not await self.on_tick(0):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.state.wakeups.close()
        await super().shutdown(sockets)


def make_server(
    config: ServerConfig,
    *,
    on_ready: Callable[[], None] | None = None,
    log_level: str = "warning",
    access_log: bool = False,
) -> Server:
    state = State(config)
    uv_config = uvicorn.Config(
        build_app(config, state),
        http=HTTP_PARSER,
        # Simperium's streaming protocol over the websockets library (the server extra).
        # Compression is off: on a local socket it costs time and saves nothing.
        ws="websockets-sansio",
        ws_max_size=config.max_body_size,
        ws_per_message_deflate=False,
        loop="asyncio",
        lifespan="off",
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=5,
    )
    return Server(uv_config, state, on_ready)


def serve(
    config: ServerConfig,
    host: str,
    port: int,
    announce: Callable[[str], None],
    *,
    log_level: str = "warning",
    access_log: bool = False,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM; ``announce(url)`` once accepting."""
    sock = bind_socket(host, port)
    url = url_of(sock)
    server = make_server(
        config, on_ready=lambda: announce(url), log_level=log_level, access_log=access_log
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        server.state.close()


class BackgroundServer:
    """The server on its own event loop in a daemon thread (used by ``testing``)."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind_socket(host, port)
        self.url = url_of(self.sock)
        self._ready = threading.Event()
        self.server = make_server(config, on_ready=self._ready.set)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="simperium-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # reported by start(), or lost at interpreter exit
            self.error = exc
        finally:
            self._ready.set()
            self.sock.close()
            self.server.state.close()

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        if not self._ready.wait(timeout) or self.error is not None or not self.server.started:
            self.stop()
            raise RuntimeError("the Simperium server did not start") from self.error

    def stop(self, timeout: float = 10.0) -> None:
        self.server.request_stop()
        if self.thread.is_alive():
            self.thread.join(timeout)
