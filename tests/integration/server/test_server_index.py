"""GET ``{bucket}/index`` on the local server: order, paging marks, data, since."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Account

CV = re.compile(r"[0-9a-f]{24}")


def index(account: Account, bucket: str = "todo", **params: Any) -> dict[str, Any]:
    response = account.get(account.url(bucket, "index"), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [entry["id"] for entry in page["index"]]


def all_pages(account: Account, **params: Any) -> list[dict[str, Any]]:
    pages = [index(account, **params)]
    while "mark" in pages[-1]:
        pages.append(index(account, mark=pages[-1]["mark"], **params))
    return pages


def test_empty_bucket(account: Account) -> None:
    page = index(account)
    assert set(page) == {"current", "index"}
    assert page["index"] == []
    assert CV.fullmatch(page["current"])


def test_newest_first_with_a_mark_only_while_pages_remain(account: Account) -> None:
    # As the official client's integration test: item0..2, limit 2.
    for n in range(3):
        account.put_object("todo", f"item{n}", {"n": n})
    first = index(account, limit=2)
    assert set(first) == {"current", "index", "mark"}
    assert first["index"] == [{"id": "item2", "v": 1}, {"id": "item1", "v": 1}]
    second = index(account, limit=2, mark=first["mark"])
    assert set(second) == {"current", "index"}
    assert second["index"] == [{"id": "item0", "v": 1}]
    assert second["current"] == first["current"]


def test_order_follows_the_last_change(account: Account) -> None:
    for name in ("a", "b", "c"):
        account.put_object("todo", name, {"v": 1})
    account.put_object("todo", "a", {"v": 2})
    assert ids(index(account)) == ["a", "c", "b"]
    assert index(account)["index"][0] == {"id": "a", "v": 2}


@pytest.mark.parametrize("flag", ["1", "true", "True"])
def test_data_includes_each_object(account: Account, flag: str) -> None:
    account.put_object("todo", "x", {"title": "milk", "tags": ["a"]})
    page = index(account, data=flag)
    assert page["index"] == [{"id": "x", "v": 1, "d": {"title": "milk", "tags": ["a"]}}]
    assert "d" not in index(account, data="0")["index"][0]


def test_current_is_the_head_cv_of_the_bucket(account: Account) -> None:
    account.put_object("todo", "x", {"a": 1})
    changes = account.get(account.url("todo", "changes"), params={"wait": "0"}).json()
    assert index(account)["current"] == changes[-1]["cv"]
    account.delete(account.url("todo", "i", "x"))
    changes = account.get(account.url("todo", "changes"), params={"wait": "0"}).json()
    assert index(account)["current"] == changes[-1]["cv"]  # a delete moves it too


def test_deleted_objects_are_absent(account: Account) -> None:
    for name in ("a", "b"):
        account.put_object("todo", name, {"x": 1})
    account.delete(account.url("todo", "i", "a"))
    assert ids(index(account)) == ["b"]


def test_since_lists_only_objects_changed_after_a_cv(account: Account) -> None:
    for name in ("a", "b", "c"):
        account.put_object("todo", name, {"x": 1})
    since = index(account)["current"]
    account.put_object("todo", "a", {"x": 2})
    account.put_object("todo", "d", {"x": 1})
    page = index(account, since=since)
    assert ids(page) == ["d", "a"]
    assert index(account, since=page["current"])["index"] == []


def test_paging_visits_every_object_once(account: Account) -> None:
    names = [f"o{n:03d}" for n in range(25)]
    for name in names:
        account.put_object("todo", name, {"n": name})
    pages = all_pages(account, limit=7, data=1)
    assert [len(p["index"]) for p in pages] == [7, 7, 7, 4]
    seen = [e["id"] for p in pages for e in p["index"]]
    assert seen == list(reversed(names))
    assert all(e["d"] == {"n": e["id"]} for p in pages for e in p["index"])


def test_marks_stay_exact_when_writes_happen_between_pages(account: Account) -> None:
    names = [f"o{n:02d}" for n in range(10)]
    for name in names:
        account.put_object("todo", name, {"n": 0})
    first = index(account, limit=4)  # o09..o06
    assert ids(first) == ["o09", "o08", "o07", "o06"]
    # Between pages: a new object, an edit to an unseen and to a seen one, a delete.
    account.put_object("todo", "new", {"n": 0})
    account.put_object("todo", "o02", {"n": 1})
    account.put_object("todo", "o08", {"n": 1})
    account.delete(account.url("todo", "i", "o04"))
    rest = [first]
    while "mark" in rest[-1]:
        rest.append(index(account, limit=4, mark=rest[-1]["mark"]))
    later = [e for p in rest[1:] for e in p["index"]]
    # Every object that existed when paging began is listed once, in its place; the
    # deleted one is gone; the new one waits for /changes after `current`.
    assert [e["id"] for e in later] == ["o05", "o03", "o02", "o01", "o00"]
    assert {e["id"]: e["v"] for e in later}["o02"] == 2  # with its current version
    assert all(p["current"] == first["current"] for p in rest)
    changes = account.get(
        account.url("todo", "changes"), params={"cv": first["current"], "wait": "0"}
    ).json()
    assert [c["id"] for c in changes] == ["new", "o02", "o08", "o04"]


def test_a_plain_cv_works_as_a_mark(account: Account) -> None:
    for n in range(3):
        account.put_object("todo", f"item{n}", {"n": n})
    changes = account.get(account.url("todo", "changes"), params={"wait": "0"}).json()
    page = index(account, mark=changes[1]["cv"])
    assert ids(page) == ["item1", "item0"]


def test_default_limit_is_100_and_large_limits_are_clamped(account: Account) -> None:
    for start in (0, 1000):
        changes = [
            {"id": f"x{n}", "o": "M", "v": {"n": {"o": "+", "v": n}}}
            for n in range(start, min(start + 1000, 1005))
        ]
        assert account.post(account.url("todo", "changes"), json=changes).status_code == 200
    page = index(account)
    assert len(page["index"]) == 100 and "mark" in page
    page = index(account, limit=5000)
    assert len(page["index"]) == 1000 and "mark" in page
    assert len(index(account, mark=page["mark"], limit=1000)["index"]) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-3"},
        {"limit": "ten"},
        {"mark": "zz"},
        {"mark": "g" * 24},
        {"since": "123"},
        {"data": "perhaps"},
    ],
)
def test_bad_parameters_are_400(account: Account, params: dict[str, str]) -> None:
    response = account.get(account.url("todo", "index"), params=params)
    assert response.status_code == 400
    assert response.json()["error"] == 400


def test_index_needs_a_token(account: Account) -> None:
    response = account.http.get(account.url("todo", "index"))
    assert response.status_code == 401
