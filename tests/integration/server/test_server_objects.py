"""Objects and versions on the local server: GET/POST/DELETE ``i/{id}[/v/{n}]`` over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
import requests

from simperium_orm.testing import SimperiumServer

if TYPE_CHECKING:
    from conftest import Account

    NewAccount = Callable[[SimperiumServer], Account]

VERSION = "X-Simperium-Version"


def test_create_then_get(account: Account) -> None:
    url = account.url("todo", "i", "item1")
    response = account.post(url, json={"title": "milk"}, params={"clientid": "py-x", "ccid": "c1"})
    assert response.status_code == 200
    assert response.headers[VERSION] == "1"
    assert response.text == "1"  # without response=1: the new version as text
    response = account.get(url)
    assert response.status_code == 200
    assert response.json() == {"title": "milk"}
    assert response.headers[VERSION] == "1"
    assert response.headers["content-type"] == "application/json"


def test_response_1_returns_the_resulting_object(account: Account) -> None:
    url = account.url("todo", "i", "item1")
    account.put_object("todo", "item1", {"a": 1})
    response = account.post(url, json={"b": 2}, params={"response": "1"})
    assert response.status_code == 200
    assert response.json() == {"a": 1, "b": 2}
    assert response.headers[VERSION] == "2"


def test_post_merges_keys_and_replace_removes_omitted_ones(account: Account) -> None:
    url = account.url("todo", "i", "x")
    account.put_object("todo", "x", {"a": 1})
    account.put_object("todo", "x", {"b": 2})
    assert account.get(url).json() == {"a": 1, "b": 2}
    response = account.post(url, json={"c": 3}, params={"replace": "1", "response": "1"})
    assert response.json() == {"c": 3}
    assert account.get(url).json() == {"c": 3}
    assert account.get(url).headers[VERSION] == "3"


def test_data_host_bodies_are_json_whatever_the_content_type(account: Account) -> None:
    # The official Python client posts JSON with urllib's form content type.
    url = account.url("todo", "i", "x")
    response = account.post(
        url,
        data=b'{"a": [1, 2]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert account.get(url).json() == {"a": [1, 2]}


def test_old_versions_stay_readable(account: Account) -> None:
    for n in range(1, 4):
        assert account.put_object("todo", "x", {"n": n}) == n
    for n in range(1, 4):
        response = account.get(account.url("todo", "i", "x", "v", str(n)))
        assert response.status_code == 200
        assert response.json() == {"n": n}
        assert response.headers[VERSION] == str(n)
    assert account.get(account.url("todo", "i", "x", "v", "4")).status_code == 404
    assert account.get(account.url("todo", "i", "x", "v", "9999")).status_code == 404


def test_missing_object_is_404_json(account: Account) -> None:
    response = account.get(account.url("todo", "i", "nothing"))
    assert response.status_code == 404
    assert response.json() == {"error": 404, "message": "object does not exist"}
    assert VERSION not in response.headers
    assert account.get(account.url("todo", "i", "nothing", "v", "1")).status_code == 404


def test_concurrent_text_edits_from_an_old_version_both_survive(account: Account) -> None:
    account.put_object("note", "n", {"text": "b", "tags": []})
    stale = account.url("note", "i", "n", "v", "1")
    first = account.post(stale, json={"text": "bc"}, params={"response": "1"})
    assert first.json() == {"text": "bc", "tags": []}
    second = account.post(stale, json={"text": "bd"}, params={"response": "1"})
    assert second.status_code == 200
    assert second.headers[VERSION] == "3"
    merged = second.json()["text"]
    assert sorted(merged) == ["b", "c", "d"] and merged.startswith("b")
    assert account.get(account.url("note", "i", "n")).json()["text"] == merged


def test_stale_post_keeps_fields_changed_since(account: Account) -> None:
    account.put_object("note", "n", {"title": "t", "done": False})
    account.post(account.url("note", "i", "n", "v", "1"), json={"done": True})
    response = account.post(
        account.url("note", "i", "n", "v", "1"), json={"title": "new"}, params={"response": "1"}
    )
    assert response.json() == {"title": "new", "done": True}


def test_post_to_a_version_that_does_not_exist_is_404(account: Account) -> None:
    account.put_object("todo", "x", {"a": 1})
    response = account.post(account.url("todo", "i", "x", "v", "7"), json={"a": 2})
    assert response.status_code == 404
    assert response.headers[VERSION] == "1"
    response = account.post(account.url("todo", "i", "new", "v", "1"), json={"a": 2})
    assert response.status_code == 404
    assert account.get(account.url("todo", "i", "new")).status_code == 404


def test_duplicate_ccid_is_409_and_applies_once(account: Account) -> None:
    url = account.url("todo", "i", "x")
    params = {"clientid": "py-1", "ccid": "same-ccid"}
    assert account.post(url, json={"n": 1}, params=params).status_code == 200
    response = account.post(url, json={"n": 2}, params=params)
    assert response.status_code == 409
    assert response.headers[VERSION] == "1"
    assert response.json()["error"] == 409
    assert account.get(url).json() == {"n": 1}
    delete = account.delete(url, params=params)
    assert delete.status_code == 409


def test_ccids_are_per_bucket(account: Account) -> None:
    params = {"ccid": "c-1"}
    assert account.post(account.url("a", "i", "x"), json={"n": 1}, params=params).ok
    assert account.post(account.url("b", "i", "x"), json={"n": 1}, params=params).ok


def test_empty_change_is_412_and_keeps_the_version(account: Account) -> None:
    url = account.url("todo", "i", "x")
    account.put_object("todo", "x", {"a": 1, "b": "text"})
    response = account.post(url, json={"a": 1})
    assert response.status_code == 412
    assert response.headers[VERSION] == "1"
    assert response.json() == {"error": 412, "message": "empty change, object was not modified"}
    response = account.post(url, json={"a": 1, "b": "text"}, params={"replace": "1"})
    assert response.status_code == 412
    assert account.get(url).headers[VERSION] == "1"


def test_empty_object_can_be_created(account: Account) -> None:
    url = account.url("todo", "i", "x")
    response = account.post(url, json={})
    assert (response.status_code, response.headers[VERSION]) == (200, "1")
    assert account.get(url).json() == {}


def test_delete(account: Account) -> None:
    url = account.url("todo", "i", "x")
    account.put_object("todo", "x", {"a": 1})
    response = account.delete(url, params={"clientid": "py-1", "ccid": "d1"})
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers[VERSION] == "2"
    assert account.get(url).status_code == 404
    assert account.get(account.url("todo", "i", "x", "v", "1")).status_code == 404
    assert account.delete(url).status_code == 404


def test_versions_go_on_after_a_delete(account: Account) -> None:
    account.put_object("todo", "x", {"a": 1})
    account.delete(account.url("todo", "i", "x"))
    assert account.put_object("todo", "x", {"b": 1}) == 3
    assert account.get(account.url("todo", "i", "x")).json() == {"b": 1}


def test_delete_of_a_version_only_while_it_is_current(account: Account) -> None:
    account.put_object("todo", "x", {"a": 1})
    account.put_object("todo", "x", {"a": 2})
    response = account.delete(account.url("todo", "i", "x", "v", "1"))
    assert response.status_code == 412
    assert response.headers[VERSION] == "2"
    assert account.get(account.url("todo", "i", "x")).status_code == 200
    response = account.delete(account.url("todo", "i", "x", "v", "2"))
    assert response.status_code == 200
    assert account.get(account.url("todo", "i", "x")).status_code == 404


def test_bucket_names_ignore_case(account: Account) -> None:
    account.put_object("Note", "x", {"a": 1})
    assert account.get(account.url("note", "i", "x")).json() == {"a": 1}
    assert account.get(account.url("NOTE", "i", "x")).json() == {"a": 1}
    index = account.get(account.url("nOtE", "index")).json()
    assert [e["id"] for e in index["index"]] == ["x"]


def test_object_ids_use_the_documented_characters(account: Account) -> None:
    for item in ("a.b_c-d", "user@example.com", "x" * 256, "key.with.periods"):
        assert account.put_object("todo", item, {"ok": True}) == 1
        assert account.get(account.url("todo", "i", item)).json() == {"ok": True}


@pytest.mark.parametrize("item", ["x" * 257, "a b", "a!b", "ключ", "a+b"])
def test_invalid_ids_are_400(account: Account, item: str) -> None:
    response = account.post(account.url("todo", "i", item), json={"a": 1})
    assert response.status_code == 400
    assert response.json()["error"] == 400
    assert account.get(account.url("todo", "i", item)).status_code == 400


@pytest.mark.parametrize("bucket", ["b" * 65, "a b", "a@b", "a!b"])
def test_invalid_bucket_names_are_400(account: Account, bucket: str) -> None:
    assert account.post(account.url(bucket, "i", "x"), json={"a": 1}).status_code == 400
    assert account.get(account.url(bucket, "index")).status_code == 400


@pytest.mark.parametrize("version", ["0", "-1", "abc", "1.5", "99999999999999999999999"])
def test_invalid_versions_are_400(account: Account, version: str) -> None:
    account.put_object("todo", "x", {"a": 1})
    assert account.get(account.url("todo", "i", "x", "v", version)).status_code == 400


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b'{"a": NaN}', b'{"a": 1e999}', b"[" * 5000],
)
def test_bodies_that_are_not_json_objects_are_400(account: Account, body: bytes) -> None:
    response = account.post(account.url("todo", "i", "x"), data=body)
    assert response.status_code == 400
    assert response.json()["error"] == 400
    assert account.get(account.url("todo", "i", "x")).status_code == 404  # nothing written


@pytest.mark.parametrize(
    "params", [{"response": "maybe"}, {"ccid": "x" * 257}, {"clientid": "a b"}]
)
def test_bad_query_parameters_are_400_and_write_nothing(
    account: Account, params: dict[str, str]
) -> None:
    response = account.post(account.url("todo", "i", "x"), json={"a": 1}, params=params)
    assert response.status_code == 400
    assert account.get(account.url("todo", "i", "x")).status_code == 404


def test_unicode_and_lone_surrogates_round_trip(account: Account) -> None:
    data = {"text": "héllo 😀 中文", "odd": "\ud800"}
    url = account.url("todo", "i", "u")
    response = account.post(
        url, data=b'{"text": "h\\u00e9llo \\ud83d\\ude00 \\u4e2d\\u6587", "odd": "\\ud800"}'
    )
    assert response.status_code == 200
    assert account.get(url).json() == data


def test_missing_or_bad_token_is_401(account: Account, http: requests.Session) -> None:
    url = account.url("todo", "i", "x")
    assert http.get(url).status_code == 401
    response = http.get(url, headers={"X-Simperium-Token": "0" * 32})
    assert response.status_code == 401
    assert response.json()["error"] == 401
    assert http.post(url, json={"a": 1}, headers={"X-Simperium-Token": "bad"}).status_code == 401


def test_unknown_app_is_401(account: Account, http: requests.Session) -> None:
    url = f"{account.server.url}/1/other-app/todo/i/x"
    response = http.get(url, headers=account.headers)
    assert response.status_code == 401
    assert response.json()["message"] == "unknown app id"


def test_app_id_ignores_case(account: Account, http: requests.Session) -> None:
    account.put_object("todo", "x", {"a": 1})
    url = f"{account.server.url}/1/{account.server.app_id.upper()}/todo/i/x"
    assert http.get(url, headers=account.headers).json() == {"a": 1}


def test_users_do_not_see_each_other(account: Account, other_account: Account) -> None:
    account.put_object("todo", "x", {"mine": True})
    assert other_account.get(other_account.url("todo", "i", "x")).status_code == 404
    assert other_account.get(other_account.url("todo", "index")).json()["index"] == []


def test_a_user_cannot_act_as_another(account: Account, other_account: Account) -> None:
    headers = {"X-Simperium-User": other_account.userid}
    response = account.get(account.url("todo", "i", "x"), headers=headers)
    assert response.status_code == 403
    headers = {"X-Simperium-User": account.userid}  # naming yourself is fine
    assert account.get(account.url("todo", "i", "x"), headers=headers).status_code == 404


def test_admin_key_acts_as_a_user(account: Account, http: requests.Session) -> None:
    account.put_object("todo", "x", {"a": 1})
    server = account.server
    admin = {"X-Simperium-Token": server.admin_key, "X-Simperium-User": account.userid}
    url = account.url("todo", "i", "x")
    assert http.get(url, headers=admin).json() == {"a": 1}
    response = http.post(url, json={"b": 2}, headers=admin, params={"response": "1"})
    assert response.json() == {"a": 1, "b": 2}
    # The path form: i/{userid}/{id}
    path_url = account.url("todo", "i", account.userid, "x")
    response = http.get(path_url, headers={"X-Simperium-Token": server.admin_key})
    assert (response.status_code, response.json()) == (200, {"a": 1, "b": 2})
    versioned = account.url("todo", "i", account.userid, "x", "v", "1")
    assert http.get(versioned, headers={"X-Simperium-Token": server.admin_key}).json() == {"a": 1}
    response = http.get(url, headers={"X-Simperium-Token": server.admin_key})
    assert response.status_code == 400  # which user?
    response = http.get(url, headers={**admin, "X-Simperium-User": "f" * 32})
    assert response.status_code == 400
    assert http.get(path_url, headers=account.headers).status_code == 200  # own id in the path


def test_spuser_info_is_a_normal_object(account: Account) -> None:
    account.put_object("spuser", "info", {"x": 1})
    assert account.get(account.url("spuser", "i", "info")).json() == {"x": 1}


def test_user_endpoint(account: Account) -> None:
    url = f"{account.server.url}/1/{account.server.app_id}/user"
    assert account.get(url).json() == {"userid": account.userid}


def test_unknown_paths_and_methods_answer_json(account: Account) -> None:
    response = account.get(account.url("todo", "nothing", "here"))
    assert response.status_code == 404
    assert response.json()["error"] == 404
    response = account.request("PUT", account.url("todo", "i", "x"), json={})
    assert response.status_code == 405
    assert response.json()["error"] == 405


# -- limits ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server() -> Iterator[SimperiumServer]:
    with SimperiumServer(
        max_object_size=1000, max_body_size=5000, version_max=5, version10_max=2
    ) as server:
        yield server


def test_too_large_objects_are_413_and_write_nothing(
    small_server: SimperiumServer, new_account: NewAccount
) -> None:
    acc = new_account(small_server)
    url = acc.url("todo", "i", "big")
    assert acc.post(url, json={"text": "x" * 2000}).status_code == 413
    assert acc.get(url).status_code == 404
    acc.put_object("todo", "big", {"text": "x" * 500})
    response = acc.post(url, json={"more": "y" * 600})  # the merged object is too large
    assert response.status_code == 413
    assert response.json()["error"] == 413
    assert response.headers[VERSION] == "1"
    assert acc.get(url).json() == {"text": "x" * 500}
    assert acc.post(url, data=b" " * 6000).status_code == 413  # body over max_body_size


def test_version_retention_keeps_recent_and_every_tenth(
    small_server: SimperiumServer, new_account: NewAccount
) -> None:
    acc = new_account(small_server)
    for n in range(1, 51):
        acc.put_object("todo", "x", {"n": n})
    kept = [
        n
        for n in range(1, 51)
        if acc.get(acc.url("todo", "i", "x", "v", str(n))).status_code == 200
    ]
    # The 5 newest contiguously, then the 2 newest multiples of ten below them.
    assert kept == [30, 40, 46, 47, 48, 49, 50]
    assert acc.get(acc.url("todo", "i", "x", "v", "40")).json() == {"n": 40}
    # A post based on a pruned version is refused; one based on a kept snapshot merges.
    assert acc.post(acc.url("todo", "i", "x", "v", "35"), json={"m": 1}).status_code == 404
    response = acc.post(
        acc.url("todo", "i", "x", "v", "40"), json={"m": 1}, params={"response": "1"}
    )
    assert response.json() == {"n": 50, "m": 1}


@pytest.mark.parametrize("version", ["\u00b2", "\u0661", "1\u00b2"])
def test_non_ascii_digits_are_not_versions(account: Account, version: str) -> None:
    account.put_object("todo", "x", {"a": 1})
    assert account.get(account.url("todo", "i", "x", "v", version)).status_code == 400
