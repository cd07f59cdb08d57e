"""The CLI and the library find hosts and credentials by one rule, against the local server.

Each environment a user might set is given to both ``simperium-orm`` and ``so.connect()``:
both act as the same user on the same hosts, or both refuse in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import simperium_orm as so
from tests.support.cli_runner import CLI, SIMPERIUM_VARS, User, assert_one_error_line


@pytest.fixture
def connected() -> Iterator[list[so.Client]]:
    made: list[so.Client] = []
    yield made
    so.disconnect()
    for client in made:
        client.close()


def only(cli: CLI, env: dict[str, str]) -> None:
    """Exactly these SIMPERIUM_* variables for the CLI and the library alike."""
    for name in SIMPERIUM_VARS:
        cli.monkeypatch.delenv(name, raising=False)
    cli.env(**env)


def _environments(user: User) -> dict[str, dict[str, str]]:
    server = user.server
    place = {"SIMPERIUM_APP_ID": server.app_id, "SIMPERIUM_API_URL": server.url}
    sign_in = {
        "SIMPERIUM_API_KEY": server.api_key,
        "SIMPERIUM_USERNAME": user.username,
        "SIMPERIUM_PASSWORD": user.password,
    }
    return {
        "token": {**place, "SIMPERIUM_TOKEN": user.token},
        "sign in": {**place, **sign_in},
        "token beats sign-in": {**place, **sign_in, "SIMPERIUM_TOKEN": user.token},
        "official host names": {
            "SIMPERIUM_APP_ID": server.app_id,
            "SIMPERIUM_APIHOST": server.url,
            **sign_in,
        },
    }


@pytest.mark.parametrize("case", ["token", "sign in", "token beats sign-in", "official host names"])
def test_cli_and_connect_act_as_the_same_user(
    cli: CLI, user: User, case: str, connected: list[so.Client]
) -> None:
    only(cli, _environments(user)[case])
    item = "from-cli-" + case.replace(" ", "-")
    written = cli("set", "todo", item, json.dumps({"case": case}))
    assert written.code == 0, written.err
    client = so.connect()
    connected.append(client)
    assert (client.app_id, client.api_url, client.auth_url) == (
        user.server.app_id,
        user.server.url,
        user.server.url,  # signing in went to the local server, not auth.simperium.com
    )
    assert client.bucket("todo").get(item) == {"case": case}


def test_cli_and_connect_refuse_a_wrong_password_alike(
    cli: CLI, user: User, connected: list[so.Client]
) -> None:
    only(cli, {**_environments(user)["sign in"], "SIMPERIUM_PASSWORD": "not-" + user.password})
    refused = cli("get", "todo", "x")
    assert refused.code == 1
    assert_one_error_line(refused.err, contains=f"sign-in refused for {user.username!r}")
    with pytest.raises(so.AuthError):
        so.connect()


def test_cli_and_connect_name_what_is_missing(cli: CLI, user: User) -> None:
    only(cli, {"SIMPERIUM_API_URL": user.server.url})
    for missing, words in [("no app id", "app id"), ("no credentials", "credentials")]:
        result = cli("get", "todo", "x")
        assert result.code == 2
        assert_one_error_line(result.err, contains=f"no {words}: pass --")
        with pytest.raises(so.NotConnected, match=f"{missing}: pass "):
            so.connect()
        cli.env(SIMPERIUM_APP_ID=user.server.app_id)


def test_connect_signs_in_with_arguments_and_the_official_auth_follows_the_data_host(
    cli: CLI, user: User, connected: list[so.Client]
) -> None:
    server = user.server
    only(cli, {"SIMPERIUM_API_URL": server.url, "SIMPERIUM_APP_ID": server.app_id})
    # Only the data host is set: creating a user goes to the local server too.
    token = so.Auth(server.app_id, server.api_key).create("follow-" + user.username, "pw-1")
    assert server.client(token).bucket("todo").index()["index"] == []
    client = so.connect(api_key=server.api_key, username=user.username, password=user.password)
    connected.append(client)
    client.bucket("todo").post("by-connect", {"n": 1})
    assert cli("get", "todo", "by-connect", "--token", user.token).json() == {"n": 1}
