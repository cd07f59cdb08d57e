"""User isolation on every data endpoint, over raw HTTP: A never reads, lists, changes or hears B.

Both users use the same bucket and the same object ids. B's objects carry a marker string;
every answer A ever receives (recorded by a response hook) is checked never to contain it, and
B's objects, versions and change log are checked unchanged after each of A's attempts.

Endpoints covered: ``index`` (plain, ``data=1``, paging with B's ``mark``, ``since`` B's cv),
``GET i/{id}``, ``GET i/{id}/v/{n}``, ``POST i/{id}`` (set and new), ``POST i/{id}/v/{n}``,
``DELETE i/{id}`` and ``i/{id}/v/{n}``, ``GET /changes`` (immediate, with B's cv, and a
long-poll B's writes must not wake), ``POST /changes`` (bulk changes naming B's ids), ``/all``
and ``/user``; and every one of them naming B explicitly (``X-Simperium-User`` header, or
``i/{userid}/{id}`` in the path), which is 403 for a user's token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

import pytest
import requests

from simperium_orm.server.app import build_app
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.wakeups import Wakeups
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account, make_account

BUCKET = "todo"
SHARED = "shared"  # the id both users use
B_ONLY = "b-only"


class Spy:
    """Records the body of every answer a session receives."""

    def __init__(self, session: requests.Session) -> None:
        self.bodies: list[bytes] = []
        session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.bodies.append(response.content)

    def assert_never_saw(self, marker: str) -> None:
        assert self.bodies, "nothing was recorded"
        for body in self.bodies:
            assert marker.encode() not in body, body[:300]


class Victim:
    """B, with three versions of ``shared`` and one more object, each holding ``marker``."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.marker = f"b-secret-{uuid.uuid4().hex}"
        for n in range(3):
            account.put_object(BUCKET, SHARED, {"owner": "B", "n": n, "secret": self.marker})
        account.put_object(BUCKET, B_ONLY, {"owner": "B", "secret": self.marker})
        self.before = self.state()

    def state(self) -> tuple[Any, ...]:
        """B's index with data, each version of ``shared``, and B's whole change log."""
        acc = self.account
        index = acc.get(acc.url(BUCKET, "index"), params={"data": "1"}).json()
        versions = [acc.get(acc.url(BUCKET, "i", SHARED, "v", str(n))).json() for n in (1, 2, 3)]
        log = acc.get(acc.url(BUCKET, "changes"), params={"wait": "0", "batch": "1000"}).json()
        return index, versions, log

    def assert_untouched(self) -> None:
        assert self.state() == self.before

    @property
    def cv(self) -> str:
        return str(self.before[2][-1]["cv"])


@pytest.fixture(scope="module")
def server() -> Iterator[SimperiumServer]:
    """A server of this module, with a long-poll timeout no busy machine outlasts."""
    with SimperiumServer(long_poll_timeout=30) as running:
        yield running


@pytest.fixture
def pair(server: SimperiumServer) -> Iterator[tuple[Account, Victim, Spy]]:
    a, b = make_account(server), make_account(server)
    victim = Victim(b)
    spy = Spy(a.http)
    yield a, victim, spy
    spy.assert_never_saw(victim.marker)
    victim.assert_untouched()
    a.http.close()
    b.http.close()


def _ids(answer: requests.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {entry["id"] for entry in answer.json()["index"]}


def test_index_lists_only_own_objects(pair: tuple[Account, Victim, Spy]) -> None:
    a, victim, _ = pair
    url = a.url(BUCKET, "index")
    for params in ({}, {"data": "1"}, {"limit": "1"}, {"data": "1", "since": victim.cv}):
        answer = a.get(url, params=params)
        assert _ids(answer) == set() and answer.json()["current"] == "0" * 24
    a.put_object(BUCKET, SHARED, {"owner": "A"})
    a.put_object(BUCKET, "a-only", {"owner": "A"})
    b_page = victim.account.get(url, params={"limit": "1"}).json()
    assert "mark" in b_page
    for params in (
        {},
        {"data": "1"},
        {"data": "1", "mark": b_page["mark"]},
        {"mark": b_page["mark"], "limit": "1000"},
        {"since": "0" * 24, "data": "1"},
    ):
        assert _ids(a.get(url, params=params)) <= {SHARED, "a-only"}
    entries = a.get(url, params={"data": "1"}).json()["index"]
    assert {e["id"]: (e["v"], e["d"]) for e in entries} == {
        SHARED: (1, {"owner": "A"}),
        "a-only": (1, {"owner": "A"}),
    }


def test_objects_and_versions_of_another_user_are_404(pair: tuple[Account, Victim, Spy]) -> None:
    a, _, _ = pair
    for item in (SHARED, B_ONLY):
        for parts in (("i", item), *(("i", item, "v", str(n)) for n in (1, 2, 3))):
            assert a.get(a.url(BUCKET, *parts)).status_code == 404
    a.put_object(BUCKET, SHARED, {"owner": "A"})
    answer = a.get(a.url(BUCKET, "i", SHARED))
    assert answer.json() == {"owner": "A"} and answer.headers["X-Simperium-Version"] == "1"
    assert a.get(a.url(BUCKET, "i", SHARED, "v", "1")).json() == {"owner": "A"}
    for n in (2, 3):  # B's versions of the same id
        assert a.get(a.url(BUCKET, "i", SHARED, "v", str(n))).status_code == 404


def test_writes_to_the_same_id_create_own_objects(pair: tuple[Account, Victim, Spy]) -> None:
    a, _, _ = pair
    answer = a.post(a.url(BUCKET, "i", SHARED), params={"response": "1"}, json={"owner": "A"})
    assert answer.status_code == 200 and answer.json() == {"owner": "A"}
    assert answer.headers["X-Simperium-Version"] == "1"  # B's object is at version 3
    replaced = a.post(a.url(BUCKET, "i", B_ONLY), params={"replace": "1"}, json={"owner": "A"})
    assert replaced.status_code == 200 and replaced.headers["X-Simperium-Version"] == "1"
    new = a.post(a.url(BUCKET, "i", uuid.uuid4().hex), json={"owner": "A"})  # Bucket.new
    assert new.status_code == 200


def test_versioned_writes_never_reach_another_users_version(
    pair: tuple[Account, Victim, Spy],
) -> None:
    """A write based on one of B's versions finds no such version of A's object: 404."""
    a, _, _ = pair
    for item in (SHARED, B_ONLY):
        for n in (1, 2, 3):
            answer = a.post(a.url(BUCKET, "i", item, "v", str(n)), json={"owner": "A"})
            assert answer.status_code == 404, answer.text
            assert "X-Simperium-Version" not in answer.headers
        assert a.get(a.url(BUCKET, "i", item)).status_code == 404


def test_deletes_of_another_users_ids_are_404(pair: tuple[Account, Victim, Spy]) -> None:
    a, _, _ = pair
    for item in (SHARED, B_ONLY):
        assert a.delete(a.url(BUCKET, "i", item)).status_code == 404
        for n in (1, 2, 3):
            assert a.delete(a.url(BUCKET, "i", item, "v", str(n))).status_code == 404


def test_change_feed_shows_only_own_changes(pair: tuple[Account, Victim, Spy]) -> None:
    a, victim, _ = pair
    url = a.url(BUCKET, "changes")
    assert a.get(url, params={"wait": "0"}).json() == []
    answer = a.get(url, params={"cv": victim.cv, "wait": "0"})  # B's position means nothing to A
    assert answer.status_code == 404
    a.put_object(BUCKET, SHARED, {"owner": "A"})
    feed = a.get(url, params={"wait": "0", "data": "1"}).json()
    assert [(c["id"], c["ev"], c["d"]) for c in feed] == [(SHARED, 1, {"owner": "A"})]
    assert a.get(url, params={"cv": victim.cv, "wait": "0"}).status_code == 404


def _state_of(server: SimperiumServer) -> Any:
    return server._running.server.state  # type: ignore[union-attr]


class NotifySpy:
    """Records the feed keys every write wakes, on the running server."""

    def __init__(self, feed: Wakeups, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys: list[Hashable] = []
        original = feed.notify

        def notify(keys: Iterable[Hashable]) -> None:
            keys = list(keys)
            self.keys.extend(keys)
            original(keys)

        monkeypatch.setattr(feed, "notify", notify)


def test_long_poll_is_not_woken_by_another_users_writes(
    server: SimperiumServer, pair: tuple[Account, Victim, Spy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waits on its feed; B's three writes wake only B's keys; A's own write answers A."""
    a, victim, _ = pair
    feed: Wakeups = _state_of(server).wakeups
    spy = NotifySpy(feed, monkeypatch)
    answers: list[requests.Response] = []
    poll = threading.Thread(target=lambda: answers.append(a.get(a.url(BUCKET, "changes"))))
    poll.start()
    deadline = time.monotonic() + 20
    while feed.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.waiting == 1
    b = victim.account
    b.put_object(BUCKET, SHARED, {"n": 99})
    b.put_object(BUCKET, "b-new", {"secret": victim.marker})
    assert b.delete(b.url(BUCKET, "i", "b-new")).status_code == 200
    bulk = [{"id": "b-bulk", "o": "M", "v": {"secret": {"o": "+", "v": victim.marker}}}]
    assert b.post(b.url(BUCKET, "changes"), json=bulk).status_code == 200
    assert spy.keys and ("user", a.userid, BUCKET) not in spy.keys
    assert set(spy.keys) == {("user", b.userid, BUCKET), ("bucket", BUCKET)}
    assert poll.is_alive()
    a.put_object(BUCKET, "a-own", {"owner": "A"})
    poll.join(30)
    [answer] = answers
    assert [(c["id"], c["ev"]) for c in answer.json()] == [("a-own", 1)]
    victim.before = victim.state()  # B wrote on purpose in this test


def test_bulk_changes_naming_another_users_ids_touch_only_own_objects(
    pair: tuple[Account, Victim, Spy],
) -> None:
    a, _, _ = pair
    changes = [
        {"id": SHARED, "o": "M", "v": {"owner": {"o": "+", "v": "A"}}, "ccid": "c1"},
        {"id": B_ONLY, "o": "M", "sv": 1, "v": {"n": {"o": "+", "v": 1}}, "ccid": "c2"},
        {"id": B_ONLY, "o": "-", "ccid": "c3"},
        {"id": B_ONLY, "o": "-", "sv": 1, "ccid": "c4"},
        {"id": SHARED, "o": "M", "d": {"owner": "A", "replaced": True}, "ccid": "c5"},
    ]
    answer = a.post(a.url(BUCKET, "changes"), params={"wait": "1"}, json=changes)
    assert answer.status_code == 200
    results = answer.json()
    assert [r.get("error") for r in results] == [None, 404, 404, 404, None]
    assert [r.get("ev") for r in results if "error" not in r] == [1, 2]
    assert a.get(a.url(BUCKET, "i", SHARED)).json() == {"owner": "A", "replaced": True}
    assert a.get(a.url(BUCKET, "i", B_ONLY)).status_code == 404


def test_all_feed_refuses_user_tokens(pair: tuple[Account, Victim, Spy]) -> None:
    a, _, _ = pair
    for params in ({}, {"data": "1", "username": "1", "wait": "0"}):
        answer = a.get(a.url(BUCKET, "all"), params=params)
        assert answer.status_code == 403 and answer.json()["error"] == 403


NAMING_B = [
    ("GET", ("index",), {"data": "1"}),
    ("GET", ("i", SHARED), {}),
    ("GET", ("i", SHARED, "v", "3"), {}),
    ("POST", ("i", SHARED), {}),
    ("POST", ("i", SHARED, "v", "3"), {}),
    ("DELETE", ("i", SHARED), {}),
    ("DELETE", ("i", SHARED, "v", "3"), {}),
    ("GET", ("changes",), {"wait": "0"}),
    ("POST", ("changes",), {"wait": "1"}),
    ("GET", ("all",), {"wait": "0"}),
]


@pytest.mark.parametrize(("method", "parts", "params"), NAMING_B)
def test_naming_another_user_in_the_header_is_403(
    pair: tuple[Account, Victim, Spy], method: str, parts: tuple[str, ...], params: dict[str, str]
) -> None:
    a, victim, _ = pair
    body: Any = [{"id": SHARED, "o": "-"}] if parts == ("changes",) else {"x": 1}
    answer = a.request(
        method,
        a.url(BUCKET, *parts),
        params=params,
        headers={"X-Simperium-User": victim.account.userid},
        json=body if method == "POST" else None,
    )
    assert answer.status_code == 403 and answer.json()["error"] == 403


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("version", [None, "3"])
def test_naming_another_user_in_the_path_is_403(
    pair: tuple[Account, Victim, Spy], method: str, version: str | None
) -> None:
    a, victim, _ = pair
    parts = ["i", victim.account.userid, SHARED, *(["v", version] if version else [])]
    answer = a.request(method, a.url(BUCKET, *parts), json={"x": 1} if method == "POST" else None)
    assert answer.status_code == 403 and answer.json()["error"] == 403


def test_naming_oneself_is_allowed(pair: tuple[Account, Victim, Spy]) -> None:
    """The check compares users, it does not refuse the header: one's own userid works."""
    a, _, _ = pair
    a.put_object(BUCKET, SHARED, {"owner": "A"})
    mine = a.get(a.url(BUCKET, "i", a.userid, SHARED))
    assert mine.status_code == 200 and mine.json() == {"owner": "A"}
    header = a.get(a.url(BUCKET, "i", SHARED), headers={"X-Simperium-User": a.userid})
    assert header.json() == {"owner": "A"}


def test_user_endpoint_names_only_oneself(
    server: SimperiumServer, pair: tuple[Account, Victim, Spy]
) -> None:
    a, victim, _ = pair
    url = f"{server.url}/1/{server.app_id}/user"
    assert a.get(url).json() == {"userid": a.userid}
    answer = a.get(url, headers={"X-Simperium-User": victim.account.userid})
    assert answer.status_code == 403


def test_isolation_covers_every_data_route() -> None:
    """The routes above are all the data routes there are (a new one must be added here)."""
    app = build_app(ServerConfig(db=":memory:"))
    try:
        paths = {str(getattr(route, "path", "")) for route in app.routes}
    finally:
        app.state.simperium.close()
    data = {path for path in paths if "{bucket}" in path or path.endswith("/user")}
    assert data == {
        "/1/{app}/user",
        "/1/{app}/{bucket}/index",
        "/1/{app}/{bucket}/changes",
        "/1/{app}/{bucket}/all",
        "/1/{app}/{bucket}/i/{item}",
        "/1/{app}/{bucket}/i/{item}/v/{version}",
        "/1/{app}/{bucket}/i/{user}/{item}",
        "/1/{app}/{bucket}/i/{user}/{item}/v/{version}",
    }
