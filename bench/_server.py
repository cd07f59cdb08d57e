"""The local server in its own process for the benchmarks, so its CPU is not the client's."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

APP, API_KEY = "demo", "demo-api-key"


def start_server(long_poll_timeout: float = 30) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m simperium_orm serve`` on a free port; return the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simperium_orm", "serve", "--port", "0", "--db", ":memory:",
         "--app-id", APP, "--api-key", API_KEY, "--long-poll-timeout", str(long_poll_timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    match = re.search(r"http://[\d.]+:\d+", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError("the server did not announce itself")
    return proc, match.group(0)


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


@contextmanager
def running_server(long_poll_timeout: float = 30) -> Iterator[str]:
    """A server for the ``with`` block; yields its URL."""
    proc, url = start_server(long_poll_timeout)
    try:
        yield url
    finally:
        stop_server(proc)
