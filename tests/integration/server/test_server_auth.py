"""The auth endpoints of the local server, over HTTP: bodies, keys, errors."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from simperium_orm.testing import SimperiumServer

HEX32 = re.compile(r"[0-9a-f]{32}")


def new_name() -> str:
    return f"a-{uuid.uuid4().hex[:10]}@example.com"


def auth_url(server: SimperiumServer, endpoint: str) -> str:
    return f"{server.url}/1/{server.app_id}/{endpoint}/"


def key(server: SimperiumServer, admin: bool = False) -> dict[str, str]:
    return {"X-Simperium-API-Key": server.admin_key if admin else server.api_key}


def create(http: requests.Session, server: SimperiumServer, username: str, password: str) -> str:
    response = http.post(
        auth_url(server, "create"),
        json={"username": username, "password": password},
        headers=key(server),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def can_read(http: requests.Session, server: SimperiumServer, token: str) -> int:
    url = f"{server.url}/1/{server.app_id}/todo/index"
    return http.get(url, headers={"X-Simperium-Token": token}).status_code


def test_create_answers_username_token_and_userid(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    response = http.post(
        auth_url(local_server, "create"),
        json={"username": name, "password": "pw"},
        headers=key(local_server),
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"username", "access_token", "userid"}
    assert body["username"] == name
    assert HEX32.fullmatch(body["access_token"]) and HEX32.fullmatch(body["userid"])
    assert response.headers["content-type"] == "application/json"
    assert can_read(http, local_server, body["access_token"]) == 200


def test_authorize_gives_a_new_working_token_for_the_same_user(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    first = create(http, local_server, name, "secret")
    response = http.post(
        auth_url(local_server, "authorize"),
        json={"username": name, "password": "secret"},
        headers=key(local_server),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] != first
    assert can_read(http, local_server, body["access_token"]) == 200
    assert can_read(http, local_server, first) == 200  # tokens do not expire


def test_existing_user_is_409(local_server: SimperiumServer, http: requests.Session) -> None:
    name = new_name()
    create(http, local_server, name, "pw")
    for username in (name, name.upper()):  # usernames ignore case
        response = http.post(
            auth_url(local_server, "create"),
            json={"username": username, "password": "other"},
            headers=key(local_server),
        )
        assert response.status_code == 409


def test_wrong_password_is_401_plain_text(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    create(http, local_server, name, "right")
    for username in (name, "nobody@example.com"):
        response = http.post(
            auth_url(local_server, "authorize"),
            json={"username": username, "password": "wrong"},
            headers=key(local_server),
        )
        assert response.status_code == 401
        assert response.text == "invalid password"
        assert response.headers["content-type"].startswith("text/plain")


def test_missing_and_bad_api_keys(local_server: SimperiumServer, http: requests.Session) -> None:
    body = {"username": new_name(), "password": "pw"}
    response = http.post(auth_url(local_server, "create"), json=body)
    assert (response.status_code, response.text) == (400, "missing api key")
    response = http.post(
        auth_url(local_server, "create"), json=body, headers={"X-Simperium-API-Key": "nope"}
    )
    assert (response.status_code, response.text) == (401, "invalid app credentials")
    other_app = f"{local_server.url}/1/another-app/create/"
    response = http.post(other_app, json=body, headers=key(local_server))
    assert (response.status_code, response.text) == (401, "invalid app credentials")


def test_legacy_form_body_with_client_id(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    # The original Python and Ruby clients: urlencoded body, the key as client_id, no header.
    name = new_name()
    form = {"client_id": local_server.api_key, "username": name, "password": "pw"}
    response = http.post(auth_url(local_server, "create"), data=form)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == name
    response = http.post(auth_url(local_server, "authorize"), data=form)
    assert response.status_code == 200
    assert can_read(http, local_server, response.json()["access_token"]) == 200
    form["client_id"] = "wrong"
    response = http.post(auth_url(local_server, "authorize"), data=form)
    assert response.status_code == 401


def test_form_body_with_header(local_server: SimperiumServer, http: requests.Session) -> None:
    name = new_name()
    create(http, local_server, name, "pw")
    response = http.post(
        auth_url(local_server, "authorize"),
        data={"username": name, "password": "pw"},
        headers=key(local_server),
    )
    assert response.status_code == 200
    assert response.json()["username"] == name


def test_json_body_labelled_as_form_is_read_as_json(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    response = http.post(
        auth_url(local_server, "create"),
        data=f'{{"username": "{name}", "password": "pw"}}',
        headers={**key(local_server), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["username"] == name


@pytest.mark.parametrize("username", ["not-an-email", "", "a b@c.com", "@example.com"])
def test_username_must_look_like_an_email(
    local_server: SimperiumServer, http: requests.Session, username: str
) -> None:
    response = http.post(
        auth_url(local_server, "create"),
        json={"username": username, "password": "pw"},
        headers=key(local_server),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "username" and body["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x@example.com"},
        {"username": "x@example.com", "password": ""},
        {"username": "x@example.com", "password": 5},
        {"username": ["x@example.com"], "password": "pw"},
    ],
)
def test_bad_fields_are_400_json(
    local_server: SimperiumServer, http: requests.Session, body: dict[str, object]
) -> None:
    response = http.post(auth_url(local_server, "create"), json=body, headers=key(local_server))
    assert response.status_code == 400
    assert set(response.json()) == {"field", "message"}


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"{" * 50000, b"{}"])
def test_garbage_bodies_are_400(
    local_server: SimperiumServer, http: requests.Session, raw: bytes
) -> None:
    response = http.post(auth_url(local_server, "authorize"), data=raw, headers=key(local_server))
    assert response.status_code == 400


def test_huge_auth_body_is_413(local_server: SimperiumServer, http: requests.Session) -> None:
    body = {"username": new_name(), "password": "x" * 100_000}
    response = http.post(auth_url(local_server, "create"), json=body, headers=key(local_server))
    assert response.status_code == 413


def test_endpoints_work_without_trailing_slash(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    url = f"{local_server.url}/1/{local_server.app_id}/create"
    response = http.post(
        url, json={"username": new_name(), "password": "pw"}, headers=key(local_server)
    )
    assert response.status_code == 200


def test_update_changes_password_and_username(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name, new = new_name(), new_name()
    create(http, local_server, name, "old")
    wrong = {"username": name, "password": "bad", "new_password": "new"}
    response = http.post(auth_url(local_server, "update"), json=wrong, headers=key(local_server))
    assert (response.status_code, response.text) == (401, "invalid password")
    body = {"username": name, "password": "old", "new_password": "new", "new_username": new}
    response = http.post(auth_url(local_server, "update"), json=body, headers=key(local_server))
    assert response.status_code == 200
    assert response.json() == {"status": "success"}
    login = {"username": new, "password": "new"}
    response = http.post(auth_url(local_server, "authorize"), json=login, headers=key(local_server))
    assert response.status_code == 200
    old_login = {"username": name, "password": "old"}
    response = http.post(
        auth_url(local_server, "authorize"), json=old_login, headers=key(local_server)
    )
    assert response.status_code == 401


def test_update_to_a_taken_username_is_409(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    a, b = new_name(), new_name()
    create(http, local_server, a, "pw")
    create(http, local_server, b, "pw")
    body = {"username": a, "password": "pw", "new_username": b}
    response = http.post(auth_url(local_server, "update"), json=body, headers=key(local_server))
    assert response.status_code == 409


def test_reset_password_needs_the_admin_key(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    create(http, local_server, name, "old")
    body = {"username": name, "new_password": "fresh"}
    response = http.post(
        auth_url(local_server, "reset_password"), json=body, headers=key(local_server)
    )
    assert response.status_code == 403
    response = http.post(
        auth_url(local_server, "reset_password"), json=body, headers=key(local_server, admin=True)
    )
    assert response.status_code == 200
    assert response.json() == {"status": "success"}
    login = {"username": name, "password": "fresh"}
    response = http.post(auth_url(local_server, "authorize"), json=login, headers=key(local_server))
    assert response.status_code == 200
    missing = {"username": new_name(), "new_password": "x"}
    response = http.post(
        auth_url(local_server, "reset_password"),
        json=missing,
        headers=key(local_server, admin=True),
    )
    assert response.status_code == 404


def test_delete_removes_the_user_its_tokens_and_data(
    local_server: SimperiumServer, http: requests.Session
) -> None:
    name = new_name()
    token = create(http, local_server, name, "pw")
    item_url = f"{local_server.url}/1/{local_server.app_id}/todo/i/one"
    headers = {"X-Simperium-Token": token}
    assert http.post(item_url, json={"a": 1}, headers=headers).status_code == 200
    response = http.post(
        auth_url(local_server, "delete"), json={"username": name}, headers=key(local_server)
    )
    assert response.status_code == 403
    response = http.post(
        auth_url(local_server, "delete"),
        json={"username": name},
        headers=key(local_server, admin=True),
    )
    assert (response.status_code, response.json()) == (200, {"status": "success"})
    assert can_read(http, local_server, token) == 401
    token = create(http, local_server, name, "pw")  # the name is free again, with no data
    assert http.get(item_url, headers={"X-Simperium-Token": token}).status_code == 404


def test_admin_key_may_create_users(local_server: SimperiumServer, http: requests.Session) -> None:
    response = http.post(
        auth_url(local_server, "create"),
        json={"username": new_name(), "password": "pw"},
        headers=key(local_server, admin=True),
    )
    assert response.status_code == 200


def test_secrets_are_never_echoed(local_server: SimperiumServer, http: requests.Session) -> None:
    secret = "sup3r-s3cret-value"
    name = new_name()
    create(http, local_server, name, "right")
    answers = [
        http.post(
            auth_url(local_server, "authorize"),
            json={"username": name, "password": secret},
            headers=key(local_server),
        ),
        http.post(
            auth_url(local_server, "create"),
            json={"username": name, "password": "x"},
            headers={"X-Simperium-API-Key": secret},
        ),
        http.get(
            f"{local_server.url}/1/{local_server.app_id}/todo/index",
            headers={"X-Simperium-Token": secret},
        ),
    ]
    for response in answers:
        assert response.status_code in (401, 403)
        assert secret not in response.text
        assert local_server.api_key not in response.text
    assert local_server.api_key not in repr(local_server)
    assert local_server.admin_key not in repr(local_server)
