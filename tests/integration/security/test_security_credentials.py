"""Wrong API keys and wrong tokens are refused, on every endpoint, as typed errors.

API keys (auth host): empty or missing (400 ``missing api key``), truncated, one character
off at each end, changed case, another app's keys, a user's token, with control or non-ASCII
characters: 401 ``invalid app credentials``, :class:`so.AuthError` from ``so.Auth``.

Tokens (data host): missing, empty, truncated, one character off, changed case, doubled,
the stored digest of the right token, the userid, the app's API key, another app's tokens and
admin key, a deleted user's token, non-ASCII: 401 JSON on every data route and
:class:`so.AuthError` from the client. Tokens stay valid after a password change or reset
(documented in docs/server.md) and die with their user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

import simperium_orm as so
from simperium_orm.core import Auth
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account, make_account

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture(scope="module")
def other_app() -> Iterator[SimperiumServer]:
    """A second app with keys of its own."""
    with SimperiumServer(app_id="other", api_key="other-api-key", admin_key="other-admin") as s:
        yield s


def _off_by_one(secret: str) -> list[str]:
    """The secret with its first or last character changed, truncated, extended, re-cased."""
    flip = {"0": "1"}

    def change(char: str) -> str:
        return flip.get(char, "0")

    return [
        change(secret[0]) + secret[1:],
        secret[:-1] + change(secret[-1]),
        secret[:-1],
        secret[1:],
        secret + "0",
        secret + secret,
        secret.upper() if secret.upper() != secret else secret.lower(),
    ]


def _wrong_api_keys(server: SimperiumServer, other: SimperiumServer, token: str) -> list[str]:
    return [
        *_off_by_one(server.api_key),
        *_off_by_one(server.admin_key),
        other.api_key,
        other.admin_key,
        token,
        "demo",
        "x" * 5000,
        "k\u00e9y",
    ]


def _auth_post(
    server: SimperiumServer, endpoint: str, key: str | None, body: dict[str, str]
) -> requests.Response:
    headers = {} if key is None else {"X-Simperium-API-Key": key.encode("utf-8").decode("latin-1")}
    return requests.post(
        f"{server.url}/1/{server.app_id}/{endpoint}/", json=body, headers=headers, timeout=30
    )


@pytest.mark.parametrize("endpoint", ["create", "authorize", "update", "reset_password", "delete"])
def test_auth_endpoints_refuse_wrong_api_keys(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account, endpoint: str
) -> None:
    body = {
        "username": account.username,
        "password": account.password,
        "new_password": "changed",
    }
    for key in _wrong_api_keys(local_server, other_app, account.token):
        answer = _auth_post(local_server, endpoint, key, body)
        assert (answer.status_code, answer.text) == (401, "invalid app credentials"), key
    for missing in (None, ""):
        answer = _auth_post(local_server, endpoint, missing, body)
        assert (answer.status_code, answer.text) == (400, "missing api key")
    # Nothing changed: the old password still signs in.
    answer = _auth_post(local_server, "authorize", local_server.api_key, body)
    assert answer.status_code == 200


def test_legacy_client_id_form_refuses_wrong_keys(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account
) -> None:
    for key in _wrong_api_keys(local_server, other_app, account.token):
        form = {"client_id": key, "username": account.username, "password": account.password}
        answer = requests.post(
            f"{local_server.url}/1/{local_server.app_id}/authorize/", data=form, timeout=30
        )
        assert answer.status_code == 401, key


def test_keys_of_one_app_are_refused_by_another(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account
) -> None:
    """The right key under another app id is refused too: a key belongs to one app."""
    body = {"username": account.username, "password": account.password}
    for key in (local_server.api_key, local_server.admin_key):
        answer = requests.post(
            f"{local_server.url}/1/{other_app.app_id}/authorize/",
            json=body,
            headers={"X-Simperium-API-Key": key},
            timeout=30,
        )
        assert (answer.status_code, answer.text) == (401, "invalid app credentials")
        answer = _auth_post(other_app, "authorize", key, body)
        assert answer.status_code == 401


def test_client_auth_raises_auth_error_for_wrong_keys(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account
) -> None:
    for key in _wrong_api_keys(local_server, other_app, account.token)[:-1]:
        auth = Auth(local_server.app_id, key, auth_url=local_server.url)
        with pytest.raises(so.AuthError) as caught:
            auth.authorize(account.username, account.password)
        assert caught.value.status_code == 401
        with pytest.raises(so.AuthError):
            auth.reset_password(account.username, "changed")
    with pytest.raises(so.BadRequest):
        Auth(local_server.app_id, "", auth_url=local_server.url).authorize(account.username, "x")


def test_wrong_password_is_auth_error(local_server: SimperiumServer, account: Account) -> None:
    auth = Auth(local_server.app_id, local_server.api_key, auth_url=local_server.url)
    for password in ("", account.password[:-1], account.password.upper(), account.password * 2):
        with pytest.raises((so.AuthError, so.BadRequest)):
            auth.authorize(account.username, password)
    with pytest.raises(so.AuthError):
        auth.authorize(account.username.replace("@", "x@"), account.password)


# -- tokens -------------------------------------------------------------------------------------


DATA_CALLS: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
    ("GET", ("index",), {}),
    ("GET", ("index",), {"data": "1"}),
    ("GET", ("i", "x"), {}),
    ("GET", ("i", "x", "v", "1"), {}),
    ("POST", ("i", "x"), {}),
    ("POST", ("i", "x", "v", "1"), {}),
    ("DELETE", ("i", "x"), {}),
    ("GET", ("changes",), {"wait": "0"}),
    ("POST", ("changes",), {"wait": "1"}),
    ("GET", ("all",), {"wait": "0"}),
]


def _wrong_tokens(server: SimperiumServer, other: SimperiumServer, acc: Account) -> list[str]:
    other_token = other.create_user()
    return [
        *_off_by_one(acc.token),
        *_off_by_one(server.admin_key),
        hashlib.sha256(acc.token.encode()).hexdigest(),  # what the database holds
        acc.userid,
        server.api_key,
        other_token,
        other.admin_key,
        other.api_key,
        "t\u00f6k\u00e9n",
        "-",
    ]


def _data_call(
    acc: Account, method: str, parts: tuple[str, ...], params: dict[str, str], token: str | None
) -> requests.Response:
    headers = {} if token is None else {"X-Simperium-Token": token}
    body = [{"id": "x", "o": "-"}] if parts == ("changes",) else {"x": 1}
    return acc.http.request(
        method,
        acc.url("todo", *parts),
        params=params,
        headers=headers,
        json=body if method == "POST" else None,
        timeout=30,
    )


def test_data_routes_refuse_wrong_tokens(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account
) -> None:
    account.put_object("todo", "x", {"secret": "kept"})
    tokens: list[str | None] = [None, "", *_wrong_tokens(local_server, other_app, account)]
    for token in tokens:
        for method, parts, params in DATA_CALLS:
            answer = _data_call(account, method, parts, params, token)
            assert answer.status_code == 401, (token, method, parts, answer.text)
            assert answer.json()["error"] == 401 and "kept" not in answer.text
    assert account.get(account.url("todo", "i", "x")).json() == {"secret": "kept"}
    user_url = f"{local_server.url}/1/{local_server.app_id}/user"
    for token in tokens:
        headers = {} if token is None else {"X-Simperium-Token": token}
        assert requests.get(user_url, headers=headers, timeout=30).status_code == 401


def test_right_token_under_another_app_id_is_refused(
    local_server: SimperiumServer, account: Account
) -> None:
    url = f"{local_server.url}/1/other/todo/index"
    assert account.get(url).status_code == 401


def test_client_raises_auth_error_for_wrong_tokens(
    local_server: SimperiumServer, other_app: SimperiumServer, account: Account
) -> None:
    class Item(so.Model, bucket="todo"):
        secret: str = ""

    for token in _wrong_tokens(local_server, other_app, account)[:-2]:
        with local_server.client(token) as client:
            for call in _client_calls(client, Item):
                with pytest.raises(so.AuthError) as caught:
                    call()
                assert caught.value.status_code == 401


def _client_calls(client: so.Client, model: type[so.Model]) -> list[Callable[[], object]]:
    bucket = client.bucket("todo")
    return [
        lambda: bucket.index(),
        lambda: bucket.get("x"),
        lambda: bucket.set("x", {"a": 1}),
        lambda: bucket.delete("x"),
        lambda: bucket.changes(wait=False),
        lambda: model.objects.using(client).count(),
        lambda: model().save(using=client),
    ]


def _auth(server: SimperiumServer, key: str | None = None) -> Auth:
    return Auth(server.app_id, key or server.api_key, auth_url=server.url)


def test_deleted_users_tokens_are_refused(local_server: SimperiumServer) -> None:
    acc = make_account(local_server)
    second = _auth(local_server).authorize(acc.username, acc.password)
    _auth(local_server, local_server.admin_key).delete(acc.username)
    for token in (acc.token, second):
        with local_server.client(token) as client, pytest.raises(so.AuthError):
            client.bucket("todo").index()
    # A new user with the same name gets a new userid; the old tokens stay dead.
    fresh = local_server.create_account(acc.username, acc.password)
    assert fresh["userid"] != acc.userid
    with local_server.client(acc.token) as client, pytest.raises(so.AuthError):
        client.bucket("todo").index()
    acc.http.close()


def test_tokens_survive_a_password_change_as_documented(local_server: SimperiumServer) -> None:
    """``update`` and ``reset_password`` keep existing tokens (docs/server.md says so)."""
    acc = make_account(local_server)
    _auth(local_server).update(acc.username, acc.password, new_password="second")
    with local_server.client(acc.token) as client:
        assert client.bucket("todo").index()["index"] == []
    _auth(local_server, local_server.admin_key).reset_password(acc.username, "third")
    with local_server.client(acc.token) as client:
        assert client.bucket("todo").index()["index"] == []
    with pytest.raises(so.AuthError):
        _auth(local_server).authorize(acc.username, acc.password)
    assert _auth(local_server).authorize(acc.username, "third")
    documented = " ".join((DOCS / "server.md").read_text().split())
    assert "tokens never expire and stay valid after a password change" in documented
    assert "deleting the user revokes them" in documented
    acc.http.close()
