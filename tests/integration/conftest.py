"""Fixtures for tests that talk to the local server over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account, make_account
from tests.support.cli_runner import cli, user  # noqa: F401  (fixtures of the CLI tests)

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
