"""The Python stream channel against the local server: the same changes as GET /changes,
from the head or a cv, each once, through heartbeats, reconnects and a server restart."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import simperium_orm as so
from simperium_orm.listen.stream import StreamChannel, stream_url
from simperium_orm.testing import SimperiumServer

ZERO = "0" * 24


@pytest.fixture(scope="module")
def server() -> Iterator[SimperiumServer]:
    with SimperiumServer(long_poll_timeout=1) as server:
        yield server


@pytest.fixture
def client(server: SimperiumServer) -> Iterator[so.Client]:
    client = server.client(retries=2, backoff=0.05)
    yield client
    client.close()


def wait_for(stream: StreamChannel, count: int, timeout: float = 10) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += stream.changes(timeout=deadline - time.monotonic())
    return got


def test_the_url_follows_the_api_url() -> None:
    assert stream_url("https://api.simperium.com", "app") == (
        "wss://api.simperium.com/sock/1/app/websocket"
    )
    assert stream_url("http://127.0.0.1:8000/", "demo") == (
        "ws://127.0.0.1:8000/sock/1/demo/websocket"
    )


def test_from_the_head_only_new_changes_arrive_as_the_http_feed_gives_them(
    client: so.Client,
) -> None:
    todo = client.bucket("todo")
    todo.set("old", {"t": 1})
    with StreamChannel(client, "todo") as stream:
        assert stream.changes(timeout=0.2) == []
        head = stream.cv
        todo.set("new", {"t": 2})
        todo.set("new", {"t": 3})
        todo.delete("old")
        streamed = wait_for(stream, 3)
        assert streamed == todo.changes(cv=head)
        assert stream.cv == streamed[-1]["cv"]
        assert stream.changes(timeout=0.1) == []


def test_it_catches_up_from_a_cv_in_batches(client: so.Client) -> None:
    todo = client.bucket("todo")
    for n in range(7):
        todo.set(f"o{n}", {"n": n})
    with StreamChannel(client, "todo", cv=ZERO) as stream:
        first = stream.changes(timeout=5, batch=3)
        assert len(first) == 3
        rest = wait_for(stream, 4)
        assert first + rest == todo.changes(cv=ZERO)
        # asked again from an older cv, as Bucket.changes(cv=...) would read
        assert stream.changes(cv=first[0]["cv"], timeout=5, batch=100) == first[1:] + rest


def test_an_unknown_cv_is_not_found_and_a_bad_token_is_an_auth_error(
    server: SimperiumServer, client: so.Client
) -> None:
    with StreamChannel(client, "todo", cv="f" * 24) as stream, pytest.raises(so.NotFound):
        stream.changes(timeout=5)
    bad = server.client("not-a-valid-token")
    with StreamChannel(bad, "todo") as stream, pytest.raises(so.AuthError) as refused:
        stream.changes(timeout=5)
    assert "not-a-valid-token" not in str(refused.value)
    bad.close()


def test_heartbeats_keep_a_quiet_socket_and_a_dropped_one_resumes_without_loss(
    client: so.Client,
) -> None:
    todo = client.bucket("todo")
    with StreamChannel(client, "todo", heartbeat=0.1) as stream:
        stream.changes(timeout=0.1)
        socket_before = stream._ws
        assert stream.changes(timeout=0.6) == []  # six heartbeats' worth of silence
        assert stream._ws is socket_before
        todo.set("a", {"n": 1})
        todo.set("b", {"n": 1})
        [first] = stream.changes(timeout=5, batch=1)
        assert socket_before is not None
        socket_before.close()  # the network drops; b's change was received but not returned
        todo.set("c", {"n": 1})
        rest = wait_for(stream, 2)
        assert [c["id"] for c in [first, *rest]] == ["a", "b", "c"]


def test_close_from_another_thread_ends_a_wait(client: so.Client) -> None:
    stream = StreamChannel(client, "todo")
    stream.changes(timeout=0.1)
    threading.Timer(0.2, stream.close).start()
    started = time.monotonic()
    assert stream.changes(timeout=30) == []
    assert time.monotonic() - started < 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_server_restart_is_bridged_and_a_dead_server_is_a_transport_error(
    tmp_path: Path,
) -> None:
    port, db = _free_port(), str(tmp_path / "s.sqlite3")
    with SimperiumServer(port=port, db=db) as first:
        token = first.create_user()
        writer = first.client(token)
        writer.bucket("todo").set("before", {"n": 1})
    client = so.Client("demo", token, api_url=f"http://127.0.0.1:{port}", retries=20, backoff=0.1)
    with StreamChannel(client, "todo", cv=ZERO) as stream:
        with SimperiumServer(port=port, db=db) as second:
            assert [c["id"] for c in stream.changes(timeout=5)] == ["before"]
            second.client(token).bucket("todo").set("during", {"n": 2})
            assert [c["id"] for c in wait_for(stream, 1)] == ["during"]
        with SimperiumServer(port=port, db=db) as third:
            third.client(token).bucket("todo").set("after", {"n": 3})
            assert [c["id"] for c in wait_for(stream, 1)] == ["after"]
        client.transport.policy = client.transport.policy.__class__(retries=1, backoff=0.01)
        with pytest.raises(so.TransportError):
            stream.changes(timeout=5)
    client.close()
    writer.close()
