"""Admin-only endpoints refuse users' tokens and the plain API key; the admin key works.

Auth host: ``reset_password`` and ``delete`` need the admin key as ``X-Simperium-API-Key``
(the API key: 403; a user's token: 401). Data host: ``/all``, acting as a user through
``X-Simperium-User`` or ``i/{userid}/{id}`` need the admin key as ``X-Simperium-Token`` (a
user's token: 403; the API key is no token: 401). Through the client the same refusals raise
:class:`so.AuthError`, and ``admin_client`` / ``as_user`` work.
"""

from __future__ import annotations

import uuid

import pytest
import requests

import simperium_orm as so
from simperium_orm.core import Auth
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account

BUCKET = f"admin-{uuid.uuid4().hex[:8]}"  # /all lists every user's: a bucket of its own


def _auth_call(
    server: SimperiumServer, endpoint: str, key: str, username: str
) -> requests.Response:
    return requests.post(
        f"{server.url}/1/{server.app_id}/{endpoint}/",
        json={"username": username, "new_password": "taken-over"},
        headers={"X-Simperium-API-Key": key},
        timeout=30,
    )


@pytest.mark.parametrize("endpoint", ["reset_password", "delete"])
def test_admin_auth_calls_refuse_users_and_the_api_key(
    local_server: SimperiumServer, account: Account, other_account: Account, endpoint: str
) -> None:
    refused = {
        local_server.api_key: (403, "this call needs the admin key"),
        account.token: (401, "invalid app credentials"),
        other_account.token: (401, "invalid app credentials"),
    }
    for key, expected in refused.items():
        answer = _auth_call(local_server, endpoint, key, account.username)
        assert (answer.status_code, answer.text) == expected
        with pytest.raises(so.AuthError):
            auth = Auth(local_server.app_id, key, auth_url=local_server.url)
            if endpoint == "delete":
                auth.delete(account.username)
            else:
                auth.reset_password(account.username, "taken-over")
    # The victim is intact: same password, data readable.
    auth = Auth(local_server.app_id, local_server.api_key, auth_url=local_server.url)
    assert auth.authorize(account.username, account.password)
    answer = _auth_call(local_server, endpoint, local_server.admin_key, account.username)
    assert answer.status_code == 200


def _admin_get(
    server: SimperiumServer, token: str, path: str, user: str | None = None
) -> requests.Response:
    headers = {"X-Simperium-Token": token}
    if user is not None:
        headers["X-Simperium-User"] = user
    return requests.get(
        f"{server.url}/1/{server.app_id}/{BUCKET}/{path}", headers=headers, timeout=30
    )


def test_data_admin_routes_refuse_user_tokens_and_the_api_key(
    local_server: SimperiumServer, account: Account, other_account: Account
) -> None:
    other_account.put_object(BUCKET, "x", {"secret": "other's"})
    cases = [
        ("all?wait=0", None),
        ("all?wait=0&data=1&username=1", None),
        ("i/x", other_account.userid),
        ("index?data=1", other_account.userid),
        (f"i/{other_account.userid}/x", None),
    ]
    for path, user in cases:
        answer = _admin_get(local_server, account.token, path, user)
        assert answer.status_code == 403 and "other's" not in answer.text, path
        answer = _admin_get(local_server, local_server.api_key, path, user)
        assert answer.status_code == 401 and "other's" not in answer.text, path
        answer = _admin_get(local_server, local_server.admin_key, path, user)
        assert answer.status_code == 200 and "other's" in answer.text, path


def test_admin_key_needs_a_user_for_user_routes(
    local_server: SimperiumServer, account: Account
) -> None:
    for path in ("index", "i/x", "changes?wait=0"):
        answer = _admin_get(local_server, local_server.admin_key, path)
        assert answer.status_code == 400
        answer = _admin_get(local_server, local_server.admin_key, path, "0" * 32)
        assert answer.status_code == 400  # no such user


def test_client_admin_calls(
    local_server: SimperiumServer, account: Account, other_account: Account
) -> None:
    other_account.put_object(BUCKET, "x", {"secret": "other's"})
    with local_server.client(account.token) as user:
        with pytest.raises(so.AuthError):
            user.bucket(BUCKET).all(timeout=0.01)
        with pytest.raises(so.AuthError):
            user.as_user(other_account.userid).bucket(BUCKET).get("x")
    keyed = local_server.client(local_server.api_key, userid=other_account.userid)
    with keyed, pytest.raises(so.AuthError):
        keyed.bucket(BUCKET).get("x")
    with local_server.admin_client() as admin:
        assert admin.as_user(other_account.userid).bucket(BUCKET).get("x") == {"secret": "other's"}
        ids = [c["id"] for c in admin.bucket(BUCKET).all(data=True, timeout=5)]
        assert f"{other_account.userid}/x" in ids
