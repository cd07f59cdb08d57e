"""Arbitrary client input never makes the local server fail (no 500) or half-write."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simperium_orm.testing import SimperiumServer

if TYPE_CHECKING:
    from conftest import Account

scalars = st.none() | st.booleans() | st.integers() | st.text()
json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
ops = st.fixed_dictionaries(
    {"o": st.sampled_from(["+", "-", "r", "I", "O", "L", "d", "dL", "?"])},
    optional={"v": json_values | st.text(alphabet="=+-0123456789\tabc%", max_size=12)},
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["a", "b", "bad id", "", 5]),
        "o": st.sampled_from(["M", "-", "EMPTY", None]),
        "v": st.dictionaries(st.sampled_from(["x", "y", "t"]), ops, max_size=3) | json_values,
        "sv": st.sampled_from([None, 0, 1, 2, 3, "1", True, 99]),
        "ccid": st.sampled_from(["c1", "c2", "", 7, None]),
        "d": json_values,
    },
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def seeded(account: Account) -> Account:
    account.put_object("fuzz", "a", {"x": 1, "t": "hello", "y": [1, 2]})
    account.put_object("fuzz", "a", {"x": 2})
    return account


@SETTINGS
@given(body=st.lists(changes | json_values, max_size=5))
def test_bulk_changes_never_fail_the_server(seeded: Account, body: list[Any]) -> None:
    before = seeded.get(seeded.url("fuzz", "changes"), params={"wait": "0"}).json()
    response = seeded.post(seeded.url("fuzz", "changes"), json=body, params={"wait": "1"})
    assert response.status_code == 200, response.text
    results = response.json()
    assert len(results) == len(body)
    after = seeded.get(seeded.url("fuzz", "changes"), params={"wait": "0"}).json()
    applied = [r for r in results if "error" not in r]
    assert len(after) == len(before) + len(applied)  # every success logged, no failure
    for result in results:
        assert set(result) >= {"id", "ccids", "clientid"}


@SETTINGS
@given(body=json_values, replace=st.booleans(), version=st.sampled_from([None, 1, 2, 5]))
def test_object_posts_never_fail_the_server(
    seeded: Account, body: Any, replace: bool, version: int | None
) -> None:
    parts = ["i", "a"] + (["v", str(version)] if version else [])
    params = {"replace": "1" if replace else "0", "response": "1"}
    response = seeded.post(seeded.url("fuzz", *parts), data=json.dumps(body), params=params)
    assert response.status_code in (200, 400, 404, 412), response.text
    if response.status_code == 200:
        assert seeded.get(seeded.url("fuzz", "i", "a")).json() == response.json()


@SETTINGS
@given(
    path=st.text(alphabet="abc/%.-_@iv0123456789 ", max_size=30),
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    query=st.dictionaries(
        st.sampled_from(["cv", "mark", "limit", "since", "data", "wait", "batch", "ccid"]),
        st.text(max_size=30),
        max_size=3,
    ),
)
def test_odd_paths_and_queries_never_fail_the_server(
    seeded: Account, path: str, method: str, query: dict[str, str]
) -> None:
    query = {**query, "wait": "0"}
    url = f"{seeded.server.url}/1/{seeded.server.app_id}/{path}"
    response = seeded.request(method, url, params=query, data=b"{}")
    assert response.status_code < 500, (path, query, response.text)
    if response.status_code >= 400 and response.headers["content-type"] == "application/json":
        assert response.json()["error"] == response.status_code


def test_binary_garbage_never_fails_the_server(account: Account) -> None:
    for body in (b"\x00\xff\xfe", "é".encode("latin-1"), b'{"a": "\\udc00"}', b"{" * 3000):
        for path in (("i", "x"), ("changes",)):
            response = account.post(account.url("fuzz", *path), data=body)
            assert response.status_code < 500


def test_a_session_server_survives_all_of_it(local_server: SimperiumServer) -> None:
    assert local_server.create_user()
