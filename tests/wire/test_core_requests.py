"""The exact requests the seed-compatible core sends, pinned with ``responses``."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

import simperium_orm as so
from simperium_orm.core import Admin, Api, Auth, Bucket, SPUser
from simperium_orm.wire.bucket import encode_changes
from simperium_orm.wire.transport import Transport

API = "https://api.simperium.com/1/myapp"
AUTH = "https://auth.simperium.com/1/myapp"
TOKEN = "84f27d20f93b414f8b7bc3441f87c9e1"


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url or "").query)


def path(call: responses.Call) -> str:
    return urlsplit(call.request.url or "").path


@pytest.fixture
def api() -> Api:
    return Api("myapp", TOKEN, clientid="py-test", transport=Transport(sleep=lambda s: None))


@responses.activate
def test_auth_create_posts_json_with_api_key_header() -> None:
    responses.post(
        f"{AUTH}/create/",
        json={"username": "a@b.com", "access_token": "tok", "userid": "u1"},
        match=[
            matchers.header_matcher({"X-Simperium-API-Key": "secret-key"}),
            matchers.json_params_matcher({"username": "a@b.com", "password": "pw"}),
        ],
    )
    assert Auth("myapp", "secret-key").create("a@b.com", "pw") == "tok"


@responses.activate
def test_auth_authorize_returns_token_and_maps_401() -> None:
    responses.post(f"{AUTH}/authorize/", json={"access_token": "tok2", "userid": "u"})
    assert Auth("myapp", "k").authorize("a@b.com", "pw") == "tok2"
    responses.post(f"{AUTH}/authorize/", body="invalid password", status=401)
    with pytest.raises(so.AuthError) as err:
        Auth("myapp", "k").authorize("a@b.com", "wrong")
    assert err.value.status_code == 401
    assert "invalid password" in str(err.value)


@responses.activate
def test_auth_create_existing_user_is_conflict() -> None:
    responses.post(f"{AUTH}/create/", body="user exists", status=409)
    with pytest.raises(so.Conflict):
        Auth("myapp", "k").create("a@b.com", "pw")


@responses.activate
def test_auth_admin_calls() -> None:
    ok = {"status": "success"}
    responses.post(
        f"{AUTH}/reset_password/",
        json=ok,
        match=[matchers.json_params_matcher({"username": "a@b.com", "new_password": "n"})],
    )
    responses.post(
        f"{AUTH}/delete/", json=ok, match=[matchers.json_params_matcher({"username": "a@b.com"})]
    )
    responses.post(
        f"{AUTH}/update/",
        json=ok,
        match=[
            matchers.json_params_matcher(
                {"username": "a@b.com", "password": "p", "new_password": "q"}
            )
        ],
    )
    auth = Auth("myapp", "admin")
    auth.reset_password("a@b.com", "n")
    auth.delete("a@b.com")
    auth.update("a@b.com", "p", new_password="q")


@responses.activate
def test_new_posts_whole_object_with_clientid_ccid_and_token(api: Api) -> None:
    responses.post(
        re.compile(rf"{API}/todo/i/[0-9a-f]{{32}}\?.*"),
        json={"title": "x"},
        headers={"X-Simperium-Version": "1"},
    )
    item = api.todo.new({"title": "x"})
    assert isinstance(item, str) and len(item) == 32
    call = responses.calls[0]
    assert path(call) == f"/1/myapp/todo/i/{item}"
    q = query(call)
    assert q["clientid"] == ["py-test"]
    assert len(q["ccid"][0]) == 32
    assert call.request.headers["X-Simperium-Token"] == TOKEN
    assert json.loads(call.request.body or b"") == {"title": "x"}


@responses.activate
def test_set_with_version_and_replace(api: Api) -> None:
    responses.post(f"{API}/todo/i/t1/v/3", json={"c": 3}, headers={"X-Simperium-Version": "4"})
    assert api.todo.set("t1", {"c": 3}, version=3, replace=True, include_response=True) == (
        "t1",
        {"c": 3},
    )
    q = query(responses.calls[0])
    assert q["replace"] == ["1"] and q["response"] == ["1"]


@responses.activate
def test_write_returns_document_with_version(api: Api) -> None:
    responses.post(f"{API}/todo/i/t1", json={"a": 1, "b": 2}, headers={"X-Simperium-Version": "7"})
    bucket = api["todo"]
    assert isinstance(bucket, Bucket)
    doc = bucket.write("t1", {"b": 2})
    assert (doc.id, doc.version, doc.data) == ("t1", 7, {"a": 1, "b": 2})


@responses.activate
def test_write_of_unchanged_object_returns_current_document(api: Api) -> None:
    responses.post(f"{API}/todo/i/t1", status=412, json={"message": "empty change"})
    responses.get(f"{API}/todo/i/t1", json={"a": 1}, headers={"X-Simperium-Version": "2"})
    bucket = api["todo"]
    assert isinstance(bucket, Bucket)
    assert bucket.write("t1", {"a": 1}).version == 2


@responses.activate
def test_get_latest_version_and_default_on_404(api: Api) -> None:
    responses.get(f"{API}/todo/i/t1", json={"a": 1}, headers={"X-Simperium-Version": "2"})
    responses.get(f"{API}/todo/i/t1/v/1", json={"a": 0}, headers={"X-Simperium-Version": "1"})
    responses.get(f"{API}/todo/i/gone", status=404, json={"message": "not found"})
    assert api.todo.get("t1") == {"a": 1}
    assert api.todo.get("t1", version=1) == {"a": 0}
    assert api.todo.get("gone") is None
    assert api.todo.get("gone", default={}) == {}


@responses.activate
def test_delete_sends_clientid_and_ccid_and_returns_ccid(api: Api) -> None:
    responses.delete(f"{API}/todo/i/t1", body="", headers={"X-Simperium-Version": "3"})
    responses.delete(f"{API}/todo/i/t2/v/5", status=412, json={"message": "bad version"})
    ccid = api.todo.delete("t1")
    q = query(responses.calls[0])
    assert q["clientid"] == ["py-test"] and q["ccid"] == [ccid]
    with pytest.raises(so.PreconditionFailed):
        api.todo.delete("t2", version=5)


@responses.activate
def test_index_parameters(api: Api) -> None:
    page = {"current": "c" * 24, "index": [{"id": "a", "v": 1, "d": {}}], "mark": "m" * 24}
    responses.get(f"{API}/todo/index", json=page)
    assert api.todo.index(data=True, mark="m1", limit=10, since="s1") == page
    assert query(responses.calls[0]) == {
        "data": ["1"],
        "mark": ["m1"],
        "limit": ["10"],
        "since": ["s1"],
    }
    with pytest.raises(ValueError):
        api.todo.index(limit=0)


@responses.activate
def test_changes_and_all_parameters(api: Api) -> None:
    responses.get(f"{API}/todo/changes", json=[{"id": "a", "o": "-", "cv": "1" * 24}])
    responses.get(f"{API}/todo/all", json=[])
    assert api.todo.changes(cv="c1", timeout=5)[0]["id"] == "a"
    assert query(responses.calls[0]) == {"clientid": ["py-test"], "cv": ["c1"]}
    api.todo.all(cv="c2", data=True, username=True, most_recent=True, skip_clientids=["x", "y"])
    assert query(responses.calls[1]) == {
        "clientid": ["py-test"],
        "cv": ["c2"],
        "skip_clientid": ["x", "y"],
        "batch": ["100"],
        "username": ["1"],
        "data": ["1"],
        "most_recent": ["1"],
    }


@responses.activate
def test_bulk_post_official_map_and_change_list(api: Api) -> None:
    responses.post(f"{API}/todo/changes", json=[{"id": "a", "ev": 1}])
    api.todo.bulk_post({"a": {"x": 1}})
    sent = json.loads(responses.calls[0].request.body or b"")
    assert sent[0]["id"] == "a" and sent[0]["o"] == "M"
    assert sent[0]["v"] == {"x": {"o": "+", "v": 1}} and len(sent[0]["ccid"]) == 32
    assert query(responses.calls[0]) == {"clientid": ["py-test"], "wait": ["1"]}
    api.todo.bulk_post([{"id": "b", "o": "-", "ccid": "c1"}])
    assert json.loads(responses.calls[1].request.body or b"") == [
        {"id": "b", "o": "-", "ccid": "c1"}
    ]


@responses.activate
def test_bulk_post_encoded_sends_the_bytes_as_given(api: Api) -> None:
    responses.post(f"{API}/todo/changes", json=[{"id": "b", "ev": 1}])
    body = encode_changes([{"id": "b", "o": "-", "ccid": "c1"}])
    assert api.todo.bulk_post_encoded(body) == [{"id": "b", "ev": 1}]
    request = responses.calls[0].request
    assert request.body == body == b'[{"id":"b","o":"-","ccid":"c1"}]'
    assert request.headers["Content-Type"] == "application/json"
    assert query(responses.calls[0]) == {"clientid": ["py-test"], "wait": ["1"]}


@responses.activate
def test_admin_as_user_sends_user_header() -> None:
    responses.get(f"{API}/todo/i/t1", json={}, headers={"X-Simperium-Version": "1"})
    admin = Admin("myapp", "admin-key")
    admin.as_user("u123").todo.get("t1")
    headers = responses.calls[0].request.headers
    assert headers["X-Simperium-User"] == "u123"
    assert headers["X-Simperium-Token"] == "admin-key"


@responses.activate
def test_spuser_reads_and_writes_info(api: Api) -> None:
    responses.get(f"{API}/spuser/i/info", json={"x": 1}, headers={"X-Simperium-Version": "1"})
    responses.post(f"{API}/spuser/i/info", json={"x": 2}, headers={"X-Simperium-Version": "2"})
    user = api.spuser
    assert isinstance(user, SPUser)
    assert user.get() == {"x": 1}
    assert user.post({"x": 2}) == "info"


def test_bad_identifiers_raise_before_sending(api: Api) -> None:
    with responses.RequestsMock() as mock:
        with pytest.raises(so.InvalidIdentifier):
            api.todo.get("has space")
        with pytest.raises(so.InvalidIdentifier):
            api["bad/bucket"]
        with pytest.raises(ValueError):
            api.todo.get("ok", version=0)
        assert len(mock.calls) == 0


def test_reprs_hide_secrets() -> None:
    client = so.Client("myapp", TOKEN)
    for obj in (client, client.bucket("todo"), Api("myapp", TOKEN), Auth("myapp", TOKEN)):
        assert TOKEN not in repr(obj)


@responses.activate
def test_client_bucket_is_a_core_bucket_sharing_clientid() -> None:
    client = so.Client("myapp", TOKEN, clientid="py-mine", userid="u9")
    bucket = client.bucket("Todo")
    assert isinstance(bucket, Bucket)
    assert bucket is client.bucket("todo")
    assert bucket.clientid == "py-mine"
    other = client.as_user("u10")
    assert other.userid == "u10" and other.clientid != client.clientid
