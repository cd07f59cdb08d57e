"""Fixtures of the listener tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer


@pytest.fixture
def me(local_server: SimperiumServer) -> Iterator[tuple[so.Client, so.Client]]:
    """Two clients of one fresh user: the listener's, and another device's."""
    token = local_server.create_user()
    mine, other = local_server.client(token), local_server.client(token)
    yield mine, other
    mine.close()
    other.close()
