"""The local server as a subprocess on a fixed port and database file: killed and restarted.

A test that kills the server (SIGKILL, as a crash or an out-of-memory kill would) starts it
again with the same port and SQLite file, so clients keep their URL across restarts.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ANNOUNCE = re.compile(r"Simperium server listening on (http://[\d.]+:\d+)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python -m simperium_orm serve --db DB --port PORT`` that a test can kill and restart.

    ``start()`` returns once the server announced itself; ``kill()`` sends SIGKILL and waits
    for the process to be gone; ``stop()`` asks it to stop cleanly (SIGTERM). As a context
    manager it starts on enter and stops on exit (killing it if it does not stop).
    """

    def __init__(
        self,
        db: Path,
        *,
        port: int | None = None,
        long_poll_timeout: float = 2,
        args: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "--db", str(db), "--port", str(self.port),
            "--long-poll-timeout", str(long_poll_timeout), *args,
        ]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ServerProcess {self.url} {state} starts={self.starts}>"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> ServerProcess:
        """Start the server and wait for its announcement line."""
        assert not self.running, "already running"
        process = subprocess.Popen(
            [sys.executable, "-m", "simperium_orm", "serve", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        self.process = process
        if not ANNOUNCE.search(line):
            self._reap(signal.SIGKILL)
            raise RuntimeError(f"the server did not start: {line!r}")
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies at once, whatever it was doing."""
        self._reap(signal.SIGKILL)

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 15 s); the exit code, or None if not running."""
        return self._reap(signal.SIGTERM)

    def _reap(self, sig: int) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(15)
        if process.stdout is not None:
            process.stdout.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
