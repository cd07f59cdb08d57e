"""Published clients against the local server, unchanged apart from host and scheme.

The PyPI ``Simperium3`` client (the official Python client ported to Python 3) and this
library's own seed-compatible core and ``Client`` run their main flows against it.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests

import simperium_orm as so
from simperium_orm.core import Admin, Api, Auth
from simperium_orm.testing import SimperiumServer

simperium3 = pytest.importorskip("simperium.core")


def hostport(server: SimperiumServer) -> str:
    return server.url.removeprefix("http://")


def new_username() -> str:
    return f"c-{uuid.uuid4().hex[:10]}@example.com"


# -- Simperium3 (PyPI) -----------------------------------------------------------------------


def test_simperium3_auth(local_server: SimperiumServer) -> None:
    auth = simperium3.Auth(
        local_server.app_id, local_server.api_key, host=hostport(local_server), scheme="http"
    )
    name = new_username()
    token = auth.create(name, "secret")
    assert isinstance(token, str) and len(token) == 32
    assert auth.authorize(name, "secret") != token
    with pytest.raises(requests.HTTPError):
        auth.authorize(name, "wrong")
    with pytest.raises(requests.HTTPError):
        auth.create(name, "again")


def test_simperium3_bucket_flow(local_server: SimperiumServer) -> None:
    host = hostport(local_server)
    token = local_server.create_user()
    api = simperium3.Api(local_server.app_id, token, host=host, scheme="http")
    todo = api.todo
    assert todo.post("item0", {"age": 23}) == "item0"
    assert todo.set("item0", {"name": "x"}) == "item0"
    assert todo.get("item0") == {"age": 23, "name": "x"}
    assert todo.get("item0", version=1) == {"age": 23}
    item, data = todo.post("item0", {"age": 25}, include_response=True)
    assert (item, data) == ("item0", {"age": 25, "name": "x"})
    todo.post("item0", {"c": 3}, replace=True)
    assert todo.get("item0") == {"c": 3}
    new_id = todo.new({"title": "milk"})
    assert todo.get(new_id) == {"title": "milk"}
    # Stale version: the server merges.
    todo.post("note", {"text": "b"})
    todo.post("note", {"text": "bc"}, version=1)
    todo.post("note", {"text": "bd"}, version=1)
    assert sorted(todo.get("note")["text"]) == ["b", "c", "d"]
    assert todo.get("missing", default="nope") == "nope"

    first = todo.index(limit=2)
    assert [e["id"] for e in first["index"]] == ["note", new_id]
    assert "mark" in first
    rest = todo.index(limit=2, mark=first["mark"], data=True)
    assert rest["index"] == [{"id": "item0", "v": 4, "d": {"c": 3}}]
    assert "mark" not in rest

    assert todo.delete(new_id)  # the ccid: the body was empty
    assert todo.get(new_id) is None
    assert [e["id"] for e in todo.index()["index"]] == ["note", "item0"]


def test_simperium3_changes_bulk_and_all(local_server: SimperiumServer) -> None:
    host = hostport(local_server)
    token = local_server.create_user()
    api = simperium3.Api(local_server.app_id, token, host=host, scheme="http")
    bucket_name = f"b{uuid.uuid4().hex[:8]}"
    bucket = api[bucket_name]
    results = bucket.bulk_post({"a": {"n": 1}, "b": {"n": 2}})
    assert [r["id"] for r in results] == ["a", "b"]
    assert all("error" not in r for r in results)
    changes = bucket.changes(timeout=5)
    assert [c["id"] for c in changes] == ["a", "b"]
    assert bucket.changes(cv=changes[-1]["cv"], timeout=5) == []  # the server's timeout: 1 s

    # Simperium3's Admin[...] recurses forever (it never sets .userid): use Bucket and Api.
    admin = simperium3.Bucket(
        local_server.app_id, local_server.admin_key, bucket_name, host=host, scheme="http"
    )
    everything = admin.all(data=True, username=True, timeout=5)
    userid = everything[0]["id"].split("/")[0]
    assert [c["id"] for c in everything] == [f"{userid}/a", f"{userid}/b"]
    assert everything[0]["d"] == {"n": 1}
    as_user = simperium3.Api(
        local_server.app_id, local_server.admin_key, userid=userid, host=host, scheme="http"
    )
    assert as_user[bucket_name].get("a") == {"n": 1}


def test_simperium3_spuser(local_server: SimperiumServer) -> None:
    token = local_server.create_user()
    api = simperium3.Api(local_server.app_id, token, host=hostport(local_server), scheme="http")
    api.spuser.post({"x": 1})
    assert api.spuser.get() == {"x": 1}


# -- this library's core ---------------------------------------------------------------------


def test_core_auth_and_bucket_flow(local_server: SimperiumServer) -> None:
    auth = Auth(local_server.app_id, local_server.api_key, auth_url=local_server.url)
    name = new_username()
    token = auth.create(name, "pw")
    assert auth.authorize(name, "pw")
    with pytest.raises(so.AuthError):
        auth.authorize(name, "bad")
    with pytest.raises(so.Conflict):
        auth.create(name, "pw")
    api = Api(local_server.app_id, token, api_url=local_server.url)
    todo = api.todo
    item = todo.new({"title": "x"})
    todo.set(item, {"done": True})
    assert todo.get(item) == {"title": "x", "done": True}
    doc = todo.fetch(item)
    assert doc.version == 2
    assert todo.get(item, version=1) == {"title": "x"}
    index = todo.index(data=True)
    assert index["index"] == [{"id": item, "v": 2, "d": {"title": "x", "done": True}}]
    todo.delete(item)
    assert todo.get(item) is None
    with pytest.raises(so.NotFound):
        todo.fetch(item)
    with pytest.raises(so.NotFound):
        todo.delete(item)


def test_core_merges_a_stale_write(local_server: SimperiumServer) -> None:
    api = Api(local_server.app_id, local_server.create_user(), api_url=local_server.url)
    notes = api.notes
    notes.post("n", {"text": "b"})
    notes.write("n", {"text": "bc"}, version=1)
    doc = notes.write("n", {"text": "bd"}, version=1)
    assert doc.version == 3 and sorted(doc.data["text"]) == ["b", "c", "d"]
    # An unchanged write (412) comes back as the current document.
    assert notes.write("n", {"text": doc.data["text"]}).version == 3


def test_core_changes_bulk_and_admin(local_server: SimperiumServer) -> None:
    token = local_server.create_user()
    api = Api(local_server.app_id, token, api_url=local_server.url)
    bucket_name = f"b{uuid.uuid4().hex[:8]}"
    bucket = api[bucket_name]
    assert isinstance(bucket, so.core.Bucket)
    results = bucket.bulk_post({"a": {"n": 1}, "b": {"n": 2}})
    assert [r["ev"] for r in results] == [1, 1]
    changes = bucket.changes(wait=False)
    assert [c["id"] for c in changes] == ["a", "b"]
    assert bucket.changes(cv=changes[-1]["cv"], wait=False) == []
    with pytest.raises(so.NotFound):
        bucket.changes(cv="0123456789abcdef01234567", wait=False)

    admin = Admin(local_server.app_id, local_server.admin_key, api_url=local_server.url)
    found = admin[bucket_name].all(data=True, wait=False)  # type: ignore[union-attr]
    userid = found[0]["id"].split("/")[0]
    assert admin.as_user(userid)[bucket_name].get("b") == {"n": 2}
    with pytest.raises(so.AuthError):
        bucket.all(wait=False)  # a user token is not enough


def test_core_long_poll_wakes_on_a_write(local_server: SimperiumServer) -> None:
    token = local_server.create_user()
    reader = Api(local_server.app_id, token, api_url=local_server.url).todo
    writer = Api(local_server.app_id, token, api_url=local_server.url).todo
    current = reader.index()["current"]
    got: dict[str, Any] = {}

    def poll() -> None:
        got["changes"] = reader.changes(cv=current, timeout=10)
        got["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.2)
    written = time.monotonic()
    writer.new({"x": 1})
    thread.join(10)
    assert len(got["changes"]) == 1
    assert got["at"] - written < 0.5


def test_core_spuser(local_server: SimperiumServer) -> None:
    api = Api(local_server.app_id, local_server.create_user(), api_url=local_server.url)
    api.spuser.post({"x": 1})  # type: ignore[union-attr]
    assert api.spuser.get() == {"x": 1}  # type: ignore[union-attr]


# -- the pytest plugin -----------------------------------------------------------------------


def test_fixtures_give_a_fresh_users_client(
    simperium_server: SimperiumServer, simperium_client: so.Client
) -> None:
    assert simperium_client.api_url == simperium_server.url
    todo = simperium_client.bucket("todo")
    assert todo.index()["index"] == []  # nobody else's data
    item = todo.new({"title": "x"})
    assert todo.get(item) == {"title": "x"}


def test_server_client_helpers(simperium_server: SimperiumServer) -> None:
    info = simperium_server.create_account()
    assert set(info) == {"username", "access_token", "userid"}
    admin = simperium_server.admin_client(info["userid"])
    user = simperium_server.client(info["access_token"])
    user.bucket("todo").post("x", {"a": 1})
    assert admin.bucket("todo").get("x") == {"a": 1}
    with pytest.raises(so.Conflict):
        simperium_server.create_user(info["username"])
