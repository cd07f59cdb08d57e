"""Deeply nested JSON is refused with 400, never a 500, and nothing is written.

Merging, diffing and transforming recurse per level, so the server refuses request bodies
nested deeper than ``MAX_DEPTH`` (100) arrays/objects; at that depth and below every path
(create, merge, stale-version transform, feeds with data, index with data) works.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

import simperium_orm as so
from simperium_orm.server.changes import MAX_DEPTH, TooDeep, decode

if TYPE_CHECKING:
    from conftest import Account

    from simperium_orm.testing import SimperiumServer


def nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    """An object ``depth`` levels deep: ``{"a": {"a": ... leaf}}``."""
    value: Any = leaf
    for _ in range(depth):
        value = {"a": value}
    assert isinstance(value, dict)
    return value


def assert_refused_as_too_deep(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": 400,
        "message": f"request body is nested deeper than {MAX_DEPTH} levels",
    }


def test_decode_counts_levels_of_arrays_and_objects() -> None:
    assert decode(json.dumps(nested(MAX_DEPTH))) == nested(MAX_DEPTH)
    assert decode(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    for raw in (json.dumps(nested(MAX_DEPTH + 1)), "[" * 100_000, "[" * 5000 + "]" * 5000):
        with pytest.raises(TooDeep):
            decode(raw)
    # Many brackets side by side are not depth: a wide body is fine.
    assert len(decode(json.dumps([[{"x": [1]}] for _ in range(1000)]))) == 1000


def test_an_object_at_the_limit_goes_through_every_path(account: Account) -> None:
    """Create, merge, stale-version transform, /changes, /all and index, all at the limit."""
    url = account.url("deep", "i", "x")
    assert account.post(url, json=nested(MAX_DEPTH, 1)).status_code == 200
    assert account.post(url, json=nested(MAX_DEPTH, 2)).status_code == 200
    stale = account.post(url + "/v/1", json={**nested(MAX_DEPTH, 1), "b": 1})
    assert stale.status_code == 200, stale.text
    assert account.get(url).json() == {**nested(MAX_DEPTH, 2), "b": 1}
    feed = account.get(account.url("deep", "changes"), params={"wait": "0"})
    assert feed.status_code == 200 and len(feed.json()) == 3
    index = account.get(account.url("deep", "index"), params={"data": "1"})
    assert index.status_code == 200 and index.json()["index"][0]["d"]["b"] == 1
    admin = {"X-Simperium-Token": account.server.admin_key}
    every = account.get(
        account.url("deep", "all"), params={"wait": "0", "data": "1"}, headers=admin
    )
    assert every.status_code == 200 and every.json()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 950])
def test_a_deeper_object_is_refused_and_not_written(account: Account, depth: int) -> None:
    """500 levels used to crash the server (RecursionError -> 500 and a reset connection)."""
    url = account.url("deep", "i", "x")
    assert_refused_as_too_deep(account.post(url, json=nested(depth)))
    assert account.get(url).status_code == 404
    account.put_object("deep", "x", {"a": 1})
    assert_refused_as_too_deep(account.post(url, json=nested(depth)))
    assert_refused_as_too_deep(account.post(url + "/v/1", json=nested(depth)))
    assert account.get(url).json() == {"a": 1}


def test_deep_bulk_changes_are_refused_whole(account: Account) -> None:
    changes = [
        {"id": "ok", "o": "M", "v": {"a": {"o": "+", "v": 1}}},
        {"id": "deep", "o": "M", "d": nested(MAX_DEPTH)},
    ]
    response = account.post(account.url("deep", "changes"), json=changes, params={"wait": "1"})
    assert_refused_as_too_deep(response)
    assert account.get(account.url("deep", "index")).json()["index"] == []


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' + b"[" * 100_000, b'{"a":' * 100_000])
def test_hundred_thousand_open_brackets_answer_400(account: Account, body: bytes) -> None:
    for parts in (("i", "x"), ("changes",)):
        assert_refused_as_too_deep(account.post(account.url("deep", *parts), data=body))


def test_brackets_that_are_not_json_are_not_json(account: Account) -> None:
    response = account.post(account.url("deep", "i", "x"), data=b"{" * 100_000)
    assert response.status_code == 400
    assert response.json()["message"] == "request body is not valid JSON"


def test_the_client_raises_bad_request_and_keeps_the_object(
    local_server: SimperiumServer,
) -> None:
    class Deep(so.Model, bucket="deep"):
        tree: dict[str, Any]

    with local_server.client() as client:
        obj = Deep(tree=nested(MAX_DEPTH))
        with pytest.raises(so.BadRequest, match=f"nested deeper than {MAX_DEPTH} levels"):
            obj.save(using=client)
        assert obj.version is None and obj.tree == nested(MAX_DEPTH)
        obj.tree = nested(3)
        obj.save(using=client)
        assert Deep.objects.using(client).get(obj.id or "").tree == nested(3)
