"""Change feeds (GET ``changes``, ``all``) and bulk ``POST changes`` on the local server."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import requests

from simperium_orm.testing import SimperiumServer

if TYPE_CHECKING:
    from conftest import Account

    NewAccount = Callable[[SimperiumServer], Account]

CV = re.compile(r"[0-9a-f]{24}")
LONG_POLL = 1.0  # as configured in conftest


def changes(account: Account, bucket: str = "todo", **params: Any) -> list[dict[str, Any]]:
    params.setdefault("wait", "0")
    response = account.get(account.url(bucket, "changes"), params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def admin_all(
    account: Account, http: requests.Session, bucket: str = "todo", **params: Any
) -> requests.Response:
    params.setdefault("wait", "0")
    headers = {"X-Simperium-Token": account.server.admin_key}
    return http.get(account.url(bucket, "all"), params=params, headers=headers, timeout=30)


# -- GET changes -----------------------------------------------------------------------------


def test_change_objects_have_the_documented_shape(account: Account) -> None:
    url = account.url("todo", "i", "x")
    account.post(url, json={"a": 1}, params={"clientid": "py-me", "ccid": "c1"})
    account.post(url, json={"a": 2}, params={"clientid": "py-me", "ccid": "c2"})
    account.delete(url, params={"clientid": "py-me", "ccid": "c3"})
    create, modify, remove = changes(account)
    assert create == {
        "id": "x",
        "o": "M",
        "v": {"a": {"o": "+", "v": 1}},
        "ev": 1,
        "cv": create["cv"],
        "ccids": ["c1"],
        "clientid": "py-me",
    }
    assert modify == {
        "id": "x",
        "o": "M",
        "v": {"a": {"o": "r", "v": 2}},
        "sv": 1,
        "ev": 2,
        "cv": modify["cv"],
        "ccids": ["c2"],
        "clientid": "py-me",
    }
    assert remove == {
        "id": "x",
        "o": "-",
        "sv": 2,
        "ev": 3,
        "cv": remove["cv"],
        "ccids": ["c3"],
        "clientid": "py-me",
    }
    cvs = [create["cv"], modify["cv"], remove["cv"]]
    assert all(CV.fullmatch(cv) for cv in cvs) and cvs == sorted(set(cvs))


def test_cv_is_exclusive_and_no_cv_starts_from_the_beginning(account: Account) -> None:
    for n in range(3):
        account.put_object("todo", f"x{n}", {"n": n})
    every = changes(account)
    assert [c["id"] for c in every] == ["x0", "x1", "x2"]
    assert [c["id"] for c in changes(account, cv=every[0]["cv"])] == ["x1", "x2"]
    assert changes(account, cv=every[-1]["cv"]) == []


def test_the_empty_buckets_current_is_a_valid_cv(account: Account) -> None:
    current = account.get(account.url("todo", "index")).json()["current"]
    assert changes(account, cv=current) == []
    account.put_object("todo", "x", {"a": 1})
    assert [c["id"] for c in changes(account, cv=current)] == ["x"]


def test_changes_are_per_user_and_per_bucket(account: Account, other_account: Account) -> None:
    account.put_object("todo", "mine", {"a": 1})
    account.put_object("other", "elsewhere", {"a": 1})
    other_account.put_object("todo", "theirs", {"a": 1})
    assert [c["id"] for c in changes(account)] == ["mine"]
    assert [c["id"] for c in changes(account, "TODO")] == ["mine"]


def test_unknown_cv_is_404(account: Account, other_account: Account) -> None:
    account.put_object("todo", "x", {"a": 1})
    foreign = changes(account)[0]["cv"]
    for cv in ("f" * 24, "not-a-cv", foreign):
        response = other_account.get(other_account.url("todo", "changes"), params={"cv": cv})
        assert response.status_code == 404
        assert response.json()["error"] == 404
    response = account.get(account.url("other", "changes"), params={"cv": foreign})
    assert response.status_code == 404  # a cv of another bucket


def test_wait_0_returns_at_once(account: Account) -> None:
    started = time.monotonic()
    assert changes(account, wait="0") == []
    assert time.monotonic() - started < 0.5


def test_long_poll_times_out_with_an_empty_list(account: Account) -> None:
    started = time.monotonic()
    response = account.get(account.url("todo", "changes"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json() == []
    assert LONG_POLL * 0.9 <= elapsed < LONG_POLL + 1.0


def test_long_poll_wakes_as_soon_as_another_client_writes(account: Account) -> None:
    current = account.get(account.url("todo", "index")).json()["current"]
    result: dict[str, Any] = {}

    def poll() -> None:
        with requests.Session() as http:
            response = http.get(
                account.url("todo", "changes"),
                params={"cv": current},
                headers=account.headers,
                timeout=30,
            )
            result["at"] = time.monotonic()
            result["body"] = response.json()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)  # let the poll reach the server and start waiting
    written = time.monotonic()
    account.put_object("todo", "x", {"a": 1})
    poller.join(10)
    assert [c["id"] for c in result["body"]] == ["x"]
    assert result["at"] - written < 0.5  # woke on the write, not on the 1 s timeout


def test_batches_hold_at_most_100_changes(account: Account) -> None:
    body = [{"id": f"x{n}", "o": "M", "v": {"n": {"o": "+", "v": n}}} for n in range(150)]
    assert account.post(account.url("todo", "changes"), json=body).status_code == 200
    first = changes(account)
    assert len(first) == 100
    rest = changes(account, cv=first[-1]["cv"])
    assert len(rest) == 50
    assert len(changes(account, batch="20")) == 20


def test_changes_skip_clientid_and_data(account: Account) -> None:
    url = account.url("todo", "i", "x")
    account.post(url, json={"a": 1}, params={"clientid": "me"})
    account.post(url, json={"a": 2}, params={"clientid": "them"})
    found = changes(account, skip_clientid="me", data="1")
    assert [(c["clientid"], c["d"]) for c in found] == [("them", {"a": 2})]


# -- GET all ---------------------------------------------------------------------------------


@pytest.fixture
def bucket_name() -> str:
    # /all spans every user of the session server: a bucket of the test's own keeps it exact.
    return f"all{time.monotonic_ns()}"


def test_all_needs_the_admin_key(account: Account, http: requests.Session) -> None:
    url = account.url("todo", "all")
    assert http.get(url, params={"wait": "0"}).status_code == 401
    assert account.get(url, params={"wait": "0"}).status_code == 403
    response = http.get(url, params={"wait": "0"}, headers={"X-Simperium-Token": "x" * 32})
    assert response.status_code == 401


def test_all_lists_every_users_changes_with_namespaced_ids(
    account: Account, other_account: Account, http: requests.Session, bucket_name: str
) -> None:
    account.put_object(bucket_name, "a", {"n": 1})
    other_account.put_object(bucket_name, "b", {"n": 2})
    account.delete(account.url(bucket_name, "i", "a"))
    response = admin_all(account, http, bucket_name, data="1", username="1")
    assert response.status_code == 200
    found = response.json()
    assert [(c["id"], c["o"], c["d"], c["username"]) for c in found] == [
        (f"{account.userid}/a", "M", None, account.username),
        (f"{other_account.userid}/b", "M", {"n": 2}, other_account.username),
        (f"{account.userid}/a", "-", None, account.username),
    ]
    rest = admin_all(account, http, bucket_name, cv=found[0]["cv"]).json()
    assert [c["cv"] for c in rest] == [c["cv"] for c in found[1:]]
    assert "d" not in rest[0] and "username" not in rest[0]


def test_all_most_recent_skip_clientid_and_batch(
    account: Account, http: requests.Session, bucket_name: str
) -> None:
    url = account.url(bucket_name, "i", "x")
    for n in range(3):
        account.post(url, json={"n": n}, params={"clientid": "writer"})
    account.post(account.url(bucket_name, "i", "y"), json={"n": 0}, params={"clientid": "me"})
    found = admin_all(account, http, bucket_name, most_recent="1").json()
    assert [(c["id"].split("/")[1], c["ev"]) for c in found] == [("x", 3), ("y", 1)]
    found = admin_all(account, http, bucket_name, skip_clientid=["me", "nobody"]).json()
    assert {c["clientid"] for c in found} == {"writer"}
    found = admin_all(account, http, bucket_name, skip_clientid="writer").json()
    assert [c["clientid"] for c in found] == ["me"]
    assert len(admin_all(account, http, bucket_name, batch="2").json()) == 2


def test_all_unknown_cv_is_404(account: Account, http: requests.Session) -> None:
    assert admin_all(account, http, cv="e" * 24).status_code == 404


def test_all_long_poll_wakes_on_any_users_write(
    account: Account, http: requests.Session, bucket_name: str
) -> None:
    result: dict[str, Any] = {}

    def poll() -> None:
        with requests.Session() as session:
            result["body"] = admin_all(account, session, bucket_name, wait="1").json()
            result["at"] = time.monotonic()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    written = time.monotonic()
    account.put_object(bucket_name, "x", {"a": 1})
    poller.join(10)
    assert [c["id"] for c in result["body"]] == [f"{account.userid}/x"]
    assert result["at"] - written < 0.5


def test_skipped_changes_do_not_end_a_long_poll(
    account: Account, http: requests.Session, bucket_name: str
) -> None:
    result: dict[str, Any] = {}

    def poll() -> None:
        with requests.Session() as session:
            response = admin_all(account, session, bucket_name, wait="1", skip_clientid="me")
            result["body"] = response.json()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    account.post(account.url(bucket_name, "i", "x"), json={"a": 1}, params={"clientid": "me"})
    time.sleep(0.1)
    account.post(account.url(bucket_name, "i", "y"), json={"a": 1}, params={"clientid": "you"})
    poller.join(10)
    assert [c["clientid"] for c in result["body"]] == ["you"]


# -- POST changes (bulk) ---------------------------------------------------------------------


def bulk(account: Account, body: Any, **params: Any) -> requests.Response:
    return account.post(account.url("todo", "changes"), json=body, params=params)


def test_bulk_with_wait_returns_change_objects(account: Account) -> None:
    body = [
        {"id": "a", "o": "M", "ccid": "c1", "v": {"title": {"o": "+", "v": "milk"}}},
        {"id": "b", "o": "M", "ccid": "c2", "v": {"n": {"o": "+", "v": 1}}},
    ]
    response = bulk(account, body, clientid="py-bulk", wait="1")
    assert response.status_code == 200
    first, second = response.json()
    assert first == {
        "id": "a",
        "o": "M",
        "v": {"title": {"o": "+", "v": "milk"}},
        "ev": 1,
        "cv": first["cv"],
        "ccids": ["c1"],
        "clientid": "py-bulk",
    }
    assert second["ev"] == 1 and second["cv"] > first["cv"]
    assert account.get(account.url("todo", "i", "a")).json() == {"title": "milk"}
    assert [c["cv"] for c in changes(account)] == [first["cv"], second["cv"]]


def test_bulk_modify_delete_and_full_object(account: Account) -> None:
    account.put_object("todo", "a", {"text": "hello", "n": 1})
    account.put_object("todo", "b", {"x": 1})
    body = [
        {"id": "a", "o": "M", "ccid": "m1", "sv": 1, "v": {"text": {"o": "d", "v": "=5\t+!"}}},
        {"id": "b", "o": "-", "ccid": "m2"},
        {"id": "c", "o": "M", "ccid": "m3", "d": {"whole": True}},
    ]
    results = bulk(account, body, wait="1").json()
    assert [r.get("error") for r in results] == [None, None, None]
    assert results[0]["sv"] == 1 and results[0]["ev"] == 2
    assert results[1]["o"] == "-" and "v" not in results[1]
    assert account.get(account.url("todo", "i", "a")).json() == {"text": "hello!", "n": 1}
    assert account.get(account.url("todo", "i", "b")).status_code == 404
    assert account.get(account.url("todo", "i", "c")).json() == {"whole": True}


def test_bulk_diff_from_an_old_version_is_transformed(account: Account) -> None:
    account.put_object("todo", "a", {"text": "b"})
    account.post(account.url("todo", "i", "a"), json={"text": "bc"})
    body = [{"id": "a", "o": "M", "ccid": "t1", "sv": 1, "v": {"text": {"o": "d", "v": "=1\t+d"}}}]
    (result,) = bulk(account, body, wait="1").json()
    assert (result["sv"], result["ev"]) == (2, 3)
    assert sorted(account.get(account.url("todo", "i", "a")).json()["text"]) == ["b", "c", "d"]


def test_bulk_error_codes(account: Account) -> None:
    account.put_object("todo", "have", {"n": 1, "s": "abc"})
    account.post(account.url("todo", "i", "seen"), json={"n": 1}, params={"ccid": "used"})
    plus_n = {"n": {"o": "+", "v": 2}}
    cases: list[tuple[Any, int]] = [
        ({"id": "bad id!", "o": "M", "v": plus_n, "ccid": "e1"}, 400),
        ({"id": "x", "o": "M", "v": {"n": {"o": "?"}}, "ccid": "e2"}, 400),
        ({"id": "x", "o": "M", "v": [1], "ccid": "e3"}, 400),
        ({"id": "x", "o": "EMPTY", "ccid": "e4"}, 400),
        ("not an object", 400),
        ({"id": "missing", "o": "M", "sv": 3, "v": plus_n, "ccid": "e5"}, 404),
        ({"id": "missing", "o": "-", "ccid": "e6"}, 404),
        ({"id": "have", "o": "M", "v": {"n": {"o": "r", "v": 2}}, "ccid": "e7"}, 405),
        ({"id": "have", "o": "M", "sv": 9, "v": {"n": {"o": "r", "v": 2}}, "ccid": "e8"}, 405),
        ({"id": "have", "o": "-", "sv": 9, "ccid": "e9"}, 405),
        ({"id": "seen", "o": "M", "sv": 1, "v": {"n": {"o": "r", "v": 5}}, "ccid": "used"}, 409),
        ({"id": "have", "o": "M", "sv": 1, "v": {}, "ccid": "e10"}, 412),
        ({"id": "have", "o": "M", "sv": 1, "v": {"n": {"o": "r", "v": 1}}, "ccid": "e11"}, 412),
        ({"id": "have", "o": "M", "sv": 1, "v": plus_n, "ccid": "e12"}, 440),
        ({"id": "have", "o": "M", "sv": 1, "v": {"s": {"o": "d", "v": "=9"}}, "ccid": "e13"}, 440),
        ({"id": "have", "o": "M", "sv": 1, "v": {"q": {"o": "-"}}, "ccid": "e14"}, 440),
    ]
    results = bulk(account, [case for case, _ in cases], clientid="py-c", wait="1").json()
    assert [r.get("error") for r in results] == [code for _, code in cases]
    assert results[5] == {"id": "missing", "clientid": "py-c", "ccids": ["e5"], "error": 404}
    assert results[4] == {"id": None, "clientid": "py-c", "ccids": [], "error": 400}
    assert account.get(account.url("todo", "i", "have")).json() == {"n": 1, "s": "abc"}
    assert account.get(account.url("todo", "i", "missing")).status_code == 404


def test_bulk_too_large_object_is_413_per_change(account: Account) -> None:
    big = "x" * (4 * 1024 * 1024)
    body = [
        {"id": "big", "o": "M", "ccid": "b1", "v": {"t": {"o": "+", "v": big}}},
        {"id": "ok", "o": "M", "ccid": "b2", "v": {"t": {"o": "+", "v": "small"}}},
    ]
    results = bulk(account, body, wait="1").json()
    assert [r.get("error") for r in results] == [413, None]


def test_bulk_without_wait_applies_and_answers_an_empty_list(account: Account) -> None:
    body = [{"id": "a", "o": "M", "ccid": "w1", "v": {"n": {"o": "+", "v": 1}}}]
    response = bulk(account, body)
    assert (response.status_code, response.json()) == (200, [])
    assert account.get(account.url("todo", "i", "a")).json() == {"n": 1}
    assert [c["ccids"] for c in changes(account)] == [["w1"]]


@pytest.mark.parametrize("body", [{"id": "a"}, "text", None])
def test_bulk_body_must_be_a_list(account: Account, body: Any) -> None:
    response = bulk(account, body, wait="1")
    assert response.status_code == 400


def test_bulk_wakes_long_polls(account: Account) -> None:
    result: dict[str, Any] = {}

    def poll() -> None:
        with requests.Session() as http:
            response = http.get(account.url("todo", "changes"), headers=account.headers, timeout=30)
            result["body"] = response.json()

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    bulk(account, [{"id": f"x{n}", "o": "M", "v": {}} for n in range(3)], wait="1")
    poller.join(10)
    assert [c["id"] for c in result["body"]] == ["x0", "x1", "x2"]


def test_too_many_bulk_changes_is_413(
    new_account: NewAccount,
) -> None:
    with SimperiumServer(max_bulk_changes=3) as server:
        acc = new_account(server)
        response = acc.post(
            acc.url("todo", "changes"), json=[{"id": f"x{n}", "o": "-"} for n in range(4)]
        )
        assert response.status_code == 413


def test_an_abandoned_long_poll_stops_waiting(new_account: NewAccount) -> None:
    with SimperiumServer(long_poll_timeout=30) as server:
        acc = new_account(server)
        feed = server._running.server.state.wakeups  # type: ignore[union-attr]
        host, port = server.url.removeprefix("http://").split(":")
        request = (
            f"GET /1/demo/todo/changes HTTP/1.1\r\nHost: x\r\n"
            f"X-Simperium-Token: {acc.token}\r\n\r\n"
        )
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(request.encode())
            deadline = time.monotonic() + 5
            while feed.waiting == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert feed.waiting == 1
        deadline = time.monotonic() + 5
        while feed.waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        assert feed.waiting == 0
        assert time.monotonic() < deadline - 4  # released within a second, not after 30
