"""No secret reaches any log, with every logger at DEBUG, over a whole session.

Every logger (root, ``simperium_orm.*``, ``uvicorn.*`` with its access log on, ``urllib3``)
is captured at DEBUG while a server started with uvicorn's debug logging serves a session:
create a user, authorize, saves and reads through the ORM and the core, refusals with 401,
403, 404, 409 and 412, retries after 503s from a stub server, and a listener round. The
captured text (messages and their arguments) must contain no password, token or key.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.core import Auth
from simperium_orm.server import runner
from simperium_orm.testing import SimperiumServer


class Item(so.Model, bucket="logged"):
    title: str = ""


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 twice, then an empty index page."""

    calls = 0

    def do_GET(self) -> None:
        Flaky.calls += 1
        if Flaky.calls <= 2:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"current": "000000000000000000000000", "index": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def flaky_url() -> Iterator[str]:
    Flaky.calls = 0
    stub = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{stub.server_address[1]}"
    stub.shutdown()
    stub.server_close()


class Capture(logging.Handler):
    """Every record of every logger, as its message and its raw arguments."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.args!r}")
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    noisy = ["uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "urllib3"]
    saved = {name: logging.getLogger(name).level for name in noisy}
    monkeypatch.setattr(
        runner,
        "make_server",
        functools.partial(runner.make_server, log_level="debug", access_log=True),
    )
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = True


def test_a_whole_session_logs_no_secret(capture: Capture, flaky_url: str) -> None:
    api_key, admin_key = f"api-{uuid.uuid4().hex}", f"admin-{uuid.uuid4().hex}"
    password, new_password = f"pw-{uuid.uuid4().hex}", f"pw2-{uuid.uuid4().hex}"
    username = f"log-{uuid.uuid4().hex[:8]}@example.com"
    with SimperiumServer(api_key=api_key, admin_key=admin_key) as server:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "urllib3"):
            logging.getLogger(name).setLevel(logging.DEBUG)
            logging.getLogger(name).propagate = True
        auth = Auth(server.app_id, api_key, auth_url=server.url)
        token = auth.create(username, password)
        second = auth.authorize(username, password)
        secrets = [api_key, admin_key, password, new_password, token, second]
        with pytest.raises(so.Conflict):
            auth.create(username, password)
        with pytest.raises(so.AuthError):
            auth.authorize(username, password + "x")
        with pytest.raises(so.AuthError):
            Auth(server.app_id, api_key + "x", auth_url=server.url).authorize(username, password)
        with pytest.raises(so.AuthError):
            auth.reset_password(username, new_password)
        auth.update(username, password, new_password=new_password)

        client = server.client(token)
        device = server.client(second)
        listener = so.Listener(Item, client=client)
        item = Item(title="first")
        item.save(using=client)
        item.title = "second"
        item.save(using=client)
        Item(title="from another device").save(using=device)
        assert [e.kind for e in listener.poll()] == ["created"]
        with pytest.raises(Item.DoesNotExist):
            Item.objects.using(client).get("missing")
        with pytest.raises(so.PreconditionFailed):
            client.bucket("logged").delete(item.id or "", version=1)
        with pytest.raises(so.AuthError):
            server.client(token[:-1] + "x").bucket("logged").index()
        with pytest.raises(so.AuthError):
            client.bucket("logged").all(timeout=0.01)
        with server.admin_client() as admin:
            assert admin.bucket("logged").all(timeout=0.01)
        assert server.client(token, retries=0).bucket("logged").changes(wait=False)
        client.close()
        device.close()

    retrying = so.Client("demo", token, api_url=flaky_url, retries=3)
    assert retrying.bucket("logged").index()["index"] == []
    retrying.close()

    text = "\n".join(capture.lines)
    for secret in secrets:
        assert secret not in text, secret
    # The capture worked: client lines, a retry, uvicorn's access and debug lines.
    assert "simperium_orm.http" in text and " retry" in text
    assert "uvicorn.access" in text and "uvicorn.error" in text
