"""Proxy settings from the environment: read once per origin, ``NO_PROXY`` honoured.

A one-shot proxy on a loopback socket records the request line it receives; a request sent
through a proxy names the absolute URL, a direct one only the path.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

import simperium_orm as so
from simperium_orm.wire.transport import Transport

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


class RecordingProxy:
    """Answers each connection with ``{}`` and keeps the first line of each request."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.lines.append(data.split(b"\r\n", 1)[0].decode())
                conn.sendall(REPLY)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    running = RecordingProxy()
    yield running
    running.close()


def test_http_proxy_from_the_environment_is_used(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = Transport(retries=0)
    try:
        for _ in range(2):
            response = transport.request("GET", "http://simperium.invalid/1/app/todo/index")
            assert response.json() == {}
    finally:
        transport.close()
    assert proxy.lines == ["GET http://simperium.invalid/1/app/todo/index HTTP/1.1"] * 2


def test_no_proxy_sends_directly(proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    transport = Transport(retries=0)
    try:
        assert transport.request("GET", f"{proxy.url}/1/app/todo/index").json() == {}
    finally:
        transport.close()
    assert proxy.lines == ["GET /1/app/todo/index HTTP/1.1"]


def test_environment_is_read_when_the_origin_is_first_used(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "")
    transport = Transport(retries=0)
    try:
        transport.request("GET", f"{proxy.url}/first")
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        transport.request("GET", f"{proxy.url}/second")  # same origin: settings already read
    finally:
        transport.close()
    assert proxy.lines == ["GET /first HTTP/1.1", "GET /second HTTP/1.1"]


def test_an_unreachable_proxy_is_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = Transport(retries=0)
    try:
        with pytest.raises(so.TransportError):
            transport.request("GET", "http://simperium.invalid/x")
    finally:
        transport.close()
