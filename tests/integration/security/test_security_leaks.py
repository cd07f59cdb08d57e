"""Secrets never show in reprs, error messages, error reprs or tracebacks.

The secrets are a user's password and tokens, the app's API key and admin key, all random
markers. Objects whose repr is checked: ``Client`` (plain, admin, ``as_user``), ``Auth``,
``Api``, ``Admin``, ``Bucket``, ``SPUser``, ``Transport``, ``Manager``, ``QuerySet``, a model,
``Listener``, ``SimperiumServer`` (running and stopped) and ``ServerConfig``. Errors raised by
refused keys, tokens and passwords, by 404/409/412 answers and by an unreachable server are
checked through ``str``, ``repr``, the formatted traceback and the kept response.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import simperium_orm as so
from simperium_orm.core import Admin, Api, Auth
from simperium_orm.server.config import ServerConfig
from simperium_orm.testing import SimperiumServer


@dataclass
class Secrets:
    server: SimperiumServer
    username: str
    password: str
    token: str
    second_token: str

    def all(self) -> list[str]:
        return [
            self.password,
            self.token,
            self.second_token,
            self.server.api_key,
            self.server.admin_key,
        ]

    def assert_absent(self, text: str) -> None:
        for secret in self.all():
            assert secret not in text, (secret, text[:500])


class Item(so.Model, bucket="todo"):
    title: str = ""


@pytest.fixture(scope="module")
def secrets() -> Iterator[Secrets]:
    server = SimperiumServer(
        api_key=f"api-{uuid.uuid4().hex}", admin_key=f"admin-{uuid.uuid4().hex}"
    )
    with server:
        username, password = f"leak-{uuid.uuid4().hex[:8]}@example.com", f"pw-{uuid.uuid4().hex}"
        auth = Auth(server.app_id, server.api_key, auth_url=server.url)
        token = auth.create(username, password)
        yield Secrets(server, username, password, token, auth.authorize(username, password))


def test_reprs_show_no_secret(secrets: Secrets) -> None:
    server = secrets.server
    client = server.client(secrets.token)
    admin = server.admin_client()
    objects: list[object] = [
        client,
        admin,
        admin.as_user("someone"),
        client.bucket("todo"),
        client.transport,
        client.auth(server.api_key),
        Auth(server.app_id, server.admin_key, auth_url=server.url),
        Api(server.app_id, secrets.token, api_url=server.url),
        Api(server.app_id, secrets.token, api_url=server.url)["spuser"],
        Admin(server.app_id, server.admin_key, api_url=server.url),
        Item.objects.using(client),
        Item.objects.using(client).filter(title=secrets.password),
        Item(title="x"),
        so.Listener(Item, client=client),
        server,
        ServerConfig(api_key=server.api_key, admin_key=server.admin_key),
    ]
    try:
        for obj in objects:
            secrets.assert_absent(repr(obj))
            secrets.assert_absent(str(obj))
    finally:
        client.close()
        admin.close()
    stopped = SimperiumServer(api_key=server.api_key, admin_key=server.admin_key)
    secrets.assert_absent(repr(stopped))


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def _failures(secrets: Secrets) -> list[Callable[[], object]]:
    server = secrets.server
    url = server.url
    wrong_key = Auth(server.app_id, server.api_key + "x", auth_url=url)
    admin_auth = Auth(server.app_id, server.admin_key, auth_url=url)
    right = Auth(server.app_id, server.api_key, auth_url=url)
    user = server.client(secrets.token)
    bad_token = server.client(secrets.token[:-1] + "x")
    user.bucket("todo").set("here", {"a": 1})
    gone = so.Client(server.app_id, secrets.token, api_url="http://127.0.0.1:9", retries=0)
    return [
        lambda: wrong_key.authorize(secrets.username, secrets.password),
        lambda: wrong_key.create("x@example.com", secrets.password),
        lambda: right.authorize(secrets.username, secrets.password + "x"),
        lambda: right.create(secrets.username, secrets.password),  # 409
        lambda: right.reset_password(secrets.username, secrets.password),  # 403
        lambda: admin_auth.delete("nobody@example.com"),  # 404
        lambda: bad_token.bucket("todo").index(),
        lambda: bad_token.bucket("todo").set("x", {"a": 1}),
        lambda: Item.objects.using(bad_token).get("x"),
        lambda: Item.objects.using(user).get("missing"),
        lambda: user.bucket("todo").fetch("missing"),
        lambda: user.bucket("todo").delete("here", version=99),  # 412
        lambda: user.bucket("todo").all(timeout=0.01),  # 403
        lambda: user.bucket("todo").get("a/b"),  # invalid id
        lambda: user.bucket("todo").changes(cv="f" * 24, wait=False),  # 404
        lambda: gone.bucket("todo").index(),  # cannot connect
        lambda: Item.objects.using(gone).count(),
    ]


def test_errors_show_no_secret(secrets: Secrets) -> None:
    failures = _failures(secrets)
    for call in failures:
        exc = _raised(call)
        assert isinstance(exc, so.SimperiumError), repr(exc)
        text = "".join(traceback.format_exception(exc))
        secrets.assert_absent(f"{exc}\n{exc!r}\n{text}")
        response = getattr(exc, "response", None)
        if response is not None:
            secrets.assert_absent(f"{response!r} {response.text}")
