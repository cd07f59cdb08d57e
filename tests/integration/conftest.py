"""Fixtures for tests that talk to the local server over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from cli_runner import cli, user  # noqa: F401  (fixtures of the CLI tests)

import simperium_orm as so
from simperium_orm.testing import SimperiumServer

LONG_POLL = 1.0  # the server's long-poll timeout in these tests (seconds)


@pytest.fixture(scope="session")
def local_server() -> Iterator[SimperiumServer]:
    """One server for the session, with a short long-poll timeout; each test uses fresh users."""
    with SimperiumServer(long_poll_timeout=LONG_POLL) as server:
        yield server


@pytest.fixture
def client(local_server: SimperiumServer) -> Iterator[so.Client]:
    """A fresh user's client, set as the default for the test (``so.connect``)."""
    client = local_server.client()
    so.connect(client)
    yield client
    so.disconnect()
    client.close()


@dataclass
class Account:
    """A fresh user of a running server, with a keep-alive session and URL helpers."""

    server: SimperiumServer
    username: str
    password: str
    token: str
    userid: str
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Simperium-Token": self.token}

    def url(self, bucket: str, *parts: str) -> str:
        return "/".join((self.server.url, "1", self.server.app_id, bucket, *parts))

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def put_object(self, bucket: str, item: str, data: dict[str, Any]) -> int:
        """POST ``data`` to ``item``; the new version."""
        response = self.post(self.url(bucket, "i", item), json=data)
        assert response.status_code == 200, response.text
        return int(response.headers["X-Simperium-Version"])


def make_account(server: SimperiumServer) -> Account:
    username = f"u-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    info = server.create_account(username, password)
    return Account(server, username, password, info["access_token"], info["userid"])


@pytest.fixture
def new_account() -> Iterator[Callable[[SimperiumServer], Account]]:
    """Creates users on any server (for tests with a server of their own)."""
    made: list[Account] = []

    def factory(server: SimperiumServer) -> Account:
        made.append(make_account(server))
        return made[-1]

    yield factory
    for acc in made:
        acc.http.close()


@pytest.fixture
def account(local_server: SimperiumServer) -> Iterator[Account]:
    """A user created for this test alone."""
    acc = make_account(local_server)
    yield acc
    acc.http.close()


@pytest.fixture
def other_account(local_server: SimperiumServer) -> Iterator[Account]:
    acc = make_account(local_server)
    yield acc
    acc.http.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()
