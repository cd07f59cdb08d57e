"""Path tricks in object ids and bucket names never reach another object, bucket or user.

Client side: ``.``, ``..``, slashes, backslashes, NUL, spaces and over-long names are refused
with :class:`so.InvalidIdentifier` before anything is sent; legal names holding ``%`` go out
percent-encoded, so ``t%6Fdo`` is a bucket of its own and never an alias of ``todo``.

Server side: the same tricks sent raw (literal or percent-encoded, in the bucket, the object id
or the version segment, with GET, POST and DELETE, and in a bulk change) answer a 4xx JSON
error, never a 500, and leave every user's data as it was.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account, make_account

BAD_NAMES = [
    "..",
    ".",
    "a/b",
    "../b",
    "a\\b",
    "a\x00b",
    "\x00",
    "",
    "a b",
    "a?b",
    "a#b",
    "caf\u00e9",
    "a\nb",
]

# Raw path segments: literal dots, percent-encoded dots, slashes, NUL and backslashes,
# doubly encoded separators and an over-long name.
RAW_SEGMENTS = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e",
    "%2e",
    ".%2e",
    "%2F",
    "a%2Fb",
    "..%2F..%2Fother",
    "%2e%2e%2Fother",
    "%00",
    "a%00b",
    "%5C",
    "a%5C..%5Cb",
    "\\",
    "a\\b",
    "%20",
    "a" * 257,
    "a" * 5000,
]

BUCKET = "todo"
ITEM = "target"


def _seed(account: Account, marker: str) -> None:
    assert account.put_object(BUCKET, ITEM, {"marker": marker}) == 1


def _snapshot(account: Account) -> Any:
    """Everything the user holds in the seeded bucket (ids, versions and data)."""
    response = account.get(account.url(BUCKET, "index"), params={"data": "1", "limit": "1000"})
    assert response.status_code == 200
    return response.json()["index"]


class Raw:
    """Sends a request line exactly as given (no normalising of dots or escapes)."""

    def __init__(self, server: SimperiumServer) -> None:
        parts = urlsplit(server.url)
        assert parts.hostname and parts.port
        self.host, self.port = parts.hostname, parts.port
        self.app = server.app_id

    def send(
        self, method: str, path: str, token: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            headers = {"X-Simperium-Token": token, "Content-Type": "application/json"}
            conn.putrequest(method, f"/1/{self.app}/{path}", skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture
def pair(local_server: SimperiumServer) -> Iterator[tuple[Account, Account]]:
    """Two users, each with an object ``todo/target`` of their own."""
    a, b = make_account(local_server), make_account(local_server)
    _seed(a, "a-data")
    _seed(b, "b-data")
    yield a, b
    a.http.close()
    b.http.close()


# -- client side --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*BAD_NAMES, "a" * 257])
def test_client_refuses_bad_ids_before_sending(client: so.Client, name: str) -> None:
    bucket = client.bucket(BUCKET)
    calls: list[Callable[[], object]] = [
        lambda: bucket.get(name),
        lambda: bucket.get(name, version=1),
        lambda: bucket.set(name, {"x": 1}),
        lambda: bucket.delete(name),
        lambda: bucket.bulk_post({name: {"x": 1}}),
        lambda: bucket.bulk_post([{"id": name, "o": "-"}]),
    ]
    for call in calls:
        with pytest.raises(so.InvalidIdentifier):
            call()


@pytest.mark.parametrize("name", [*BAD_NAMES, "a" * 65])
def test_client_refuses_bad_bucket_names_before_sending(client: so.Client, name: str) -> None:
    with pytest.raises(so.InvalidIdentifier):
        client.bucket(name)
    with pytest.raises(so.InvalidIdentifier):

        class Bad(so.Model, bucket=name):
            title: str = ""


@pytest.mark.parametrize("name", ["..", ".", "a/b", "\x00"])
def test_models_refuse_bad_ids(client: so.Client, name: str) -> None:
    class Note(so.Model, bucket="note"):
        title: str = ""

    with pytest.raises(so.InvalidIdentifier):
        Note(title="x").id = name
    with pytest.raises(so.InvalidIdentifier):
        Note.objects.using(client).get(name)


def test_percent_ids_are_literal_and_never_alias(client: so.Client) -> None:
    """``%2e%2e``, ``%2E%2E``, ``%41`` and ``A`` are four objects, each with its own data."""
    bucket = client.bucket(BUCKET)
    names = ["%2e%2e", "%2E%2E", "%41", "A", "%2F", "%252F", "%00"]
    for name in names:
        bucket.set(name, {"name": name})
    for name in names:
        assert bucket.get(name) == {"name": name}
    assert sorted(entry["id"] for entry in bucket.index()["index"]) == sorted(names)


def test_percent_bucket_names_are_literal_and_never_alias(client: so.Client) -> None:
    """A bucket called ``t%6Fdo`` is not ``todo``; ``%2e%2e`` is not ``..``."""
    client.bucket("todo").set("x", {"in": "todo"})
    for name in ("t%6Fdo", "todo%20", "%2e%2e", "%2F", "todo%00"):
        bucket = client.bucket(name)
        assert bucket.get("x") is None, name
        assert bucket.index()["index"] == [], name
        bucket.set("x", {"in": name})
        assert bucket.get("x") == {"in": name}
    assert client.bucket("todo").get("x") == {"in": "todo"}


# -- server side, sent raw ----------------------------------------------------------------------


def _assert_refused(status: int, body: bytes, what: str) -> None:
    assert 400 <= status < 500, (what, status, body[:200])
    parsed = json.loads(body)
    assert parsed["error"] == status and isinstance(parsed["message"], str), what


@pytest.mark.parametrize("segment", RAW_SEGMENTS)
def test_server_refuses_tricky_object_ids(
    local_server: SimperiumServer, pair: tuple[Account, Account], segment: str
) -> None:
    a, b = pair
    before = _snapshot(a), _snapshot(b)
    raw = Raw(local_server)
    body = b'{"marker": "overwritten"}'
    for path in (f"{BUCKET}/i/{segment}", f"{BUCKET}/i/{segment}/v/1"):
        for method in ("GET", "POST", "DELETE"):
            status, answer = raw.send(method, path, a.token, body if method == "POST" else None)
            _assert_refused(status, answer, f"{method} {path}")
            assert b"b-data" not in answer and b"a-data" not in answer
    assert (_snapshot(a), _snapshot(b)) == before


@pytest.mark.parametrize("segment", [*RAW_SEGMENTS[:-2], "a" * 65, "a" * 5000])
def test_server_refuses_tricky_bucket_names(
    local_server: SimperiumServer, pair: tuple[Account, Account], segment: str
) -> None:
    a, b = pair
    before = _snapshot(a), _snapshot(b)
    raw = Raw(local_server)
    for method, path in [
        ("GET", f"{segment}/index?data=1"),
        ("GET", f"{segment}/changes?wait=0"),
        ("POST", f"{segment}/changes"),
        ("GET", f"{segment}/i/{ITEM}"),
        ("POST", f"{segment}/i/{ITEM}"),
        ("DELETE", f"{segment}/i/{ITEM}"),
        ("GET", f"{segment}/{BUCKET}/i/{ITEM}"),
        ("GET", f"{segment}%2F{BUCKET}/i/{ITEM}"),
    ]:
        body = b'[{"id": "target", "o": "-"}]' if path.endswith("changes") else b'{"m": 1}'
        status, answer = raw.send(method, path, a.token, body if method == "POST" else None)
        _assert_refused(status, answer, f"{method} {path}")
        assert b"b-data" not in answer and b"a-data" not in answer
    assert (_snapshot(a), _snapshot(b)) == before


def test_encoded_slashes_cannot_name_another_user(
    local_server: SimperiumServer, pair: tuple[Account, Account]
) -> None:
    """``{B's userid}%2Ftarget`` as an id, or a bucket hiding ``/i/{B's userid}``, is 403."""
    a, b = pair
    before = _snapshot(b)
    raw = Raw(local_server)
    for method in ("GET", "POST", "DELETE"):
        for path in (
            f"{BUCKET}/i/{b.userid}%2F{ITEM}",
            f"{BUCKET}%2Fi%2F{b.userid}/{ITEM}",
            f"{BUCKET}/i/{b.userid}%2F{ITEM}/v/1",
        ):
            status, answer = raw.send(method, path, a.token, b"{}" if method == "POST" else None)
            _assert_refused(status, answer, f"{method} {path}")
            assert status == 403 and b"b-data" not in answer
    assert _snapshot(b) == before


def test_over_long_request_line_is_refused_without_a_crash(
    local_server: SimperiumServer, account: Account
) -> None:
    """A 100 kB id is refused by the HTTP parser (4xx); the server answers on afterwards."""
    status, _ = Raw(local_server).send("GET", f"{BUCKET}/i/{'a' * 100_000}", account.token)
    assert 400 <= status < 500
    assert account.get(account.url(BUCKET, "index")).status_code == 200


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "a\x00b", "", "a" * 257])
def test_bulk_changes_refuse_tricky_ids(account: Account, name: str) -> None:
    before = _snapshot(account)
    change = {"id": name, "o": "M", "v": {"x": {"o": "+", "v": 1}}, "ccid": "c1"}
    response = account.post(account.url(BUCKET, "changes"), params={"wait": "1"}, json=[change])
    assert response.status_code == 200
    [result] = response.json()
    assert result["error"] == 400
    assert _snapshot(account) == before
