"""``user create`` against the local server: the token on stdout, one-line refusals."""

from __future__ import annotations

import sys
import uuid

import pytest

from simperium_orm.testing import SimperiumServer
from tests.support.cli_runner import CLI, SIMPERIUM_VARS, assert_one_error_line


@pytest.fixture
def anonymous(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    simperium_server: SimperiumServer,
) -> CLI:
    """The CLI pointed at the local server's app, with no user yet."""
    for name in SIMPERIUM_VARS:
        monkeypatch.delenv(name, raising=False)
    return CLI(
        capsys,
        monkeypatch,
        {"SIMPERIUM_APP_ID": simperium_server.app_id, "SIMPERIUM_API_URL": simperium_server.url},
    )


def email() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.com"


def test_create_prints_a_working_token_alone_on_stdout(
    anonymous: CLI, simperium_server: SimperiumServer
) -> None:
    name = email()
    made = anonymous(
        "user", "create", name, "--api-key", simperium_server.api_key, "--password", "pw-1"
    )
    assert made.code == 0, made.err
    token = made.out.strip()
    assert made.out == token + "\n" and token
    assert made.err == (
        f"simperium-orm: created the user {name!r} in app 'demo' at {simperium_server.url}\n"
    )
    with simperium_server.client(token) as client:  # the token is the new user's
        client.bucket("todo").post("x", {"a": 1})
    anonymous.env(SIMPERIUM_TOKEN=token)
    assert anonymous("get", "todo", "x").json() == {"a": 1}


def created_from_the_environment(cli: CLI, server: SimperiumServer) -> str:
    """A new user made by ``user create`` with the API key and password in the environment."""
    cli.env(SIMPERIUM_API_KEY=server.api_key, SIMPERIUM_PASSWORD="env-pw")
    name = email()
    assert cli("user", "create", name).code == 0
    return name


def test_the_key_and_password_come_from_the_environment(
    anonymous: CLI, simperium_server: SimperiumServer
) -> None:
    name = created_from_the_environment(anonymous, simperium_server)
    # Signing in with that password works, through the same environment.
    anonymous.env(SIMPERIUM_USERNAME=name)
    assert anonymous("index", "todo").json()["index"] == []


def test_an_existing_user_is_one_line_and_status_1(
    anonymous: CLI, simperium_server: SimperiumServer
) -> None:
    name = created_from_the_environment(anonymous, simperium_server)
    again = anonymous("user", "create", name)
    assert (again.code, again.out) == (1, "")
    assert_one_error_line(again.err, contains=f"the user {name!r} already exists in app 'demo'")


def test_refusals_are_one_line_and_show_no_secret(
    anonymous: CLI, simperium_server: SimperiumServer
) -> None:
    wrong_key = anonymous(
        "user", "create", email(), "--api-key", "wrong-api-key", "--password", "hunter2-pw"
    )
    assert (wrong_key.code, wrong_key.out) == (1, "")
    assert_one_error_line(wrong_key.err, contains="not authorized (401")
    assert "wrong-api-key" not in wrong_key.err and "hunter2-pw" not in wrong_key.err
    bad_name = anonymous(
        "user", "create", "not an email", "--api-key", simperium_server.api_key, "--password", "p"
    )
    assert bad_name.code == 1
    assert_one_error_line(bad_name.err, contains="username must be a valid email address")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["user"], {}, "the following arguments are required: ACTION"),
        (["user", "create"], {}, "the following arguments are required: EMAIL"),
        (["user", "create", "a@example.com"], {"SIMPERIUM_APP_ID": ""}, "no app id: pass --app-id"),
        (["user", "create", "a@example.com"], {}, "no API key: pass --api-key"),
        (
            ["user", "create", "a@example.com", "--api-key", "k"],
            {},
            "no password: pass --password or set SIMPERIUM_PASSWORD",
        ),
    ],
)
def test_missing_settings_are_usage_errors(
    anonymous: CLI, argv: list[str], env: dict[str, str], message: str
) -> None:
    anonymous.env(**env)
    result = anonymous(*argv, stdin="")  # not a terminal: nothing is asked
    assert (result.code, result.out) == (2, "")
    assert_one_error_line(result.err, contains=message)


class Terminal:
    """stdin as a terminal on which the user types ``answers`` at the password prompts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        monkeypatch.setattr("getpass.getpass", self.getpass)
        monkeypatch.setattr(sys, "stdin", self)

    def isatty(self) -> bool:
        return True

    def getpass(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)


def test_the_password_is_asked_twice_on_a_terminal(
    anonymous: CLI, simperium_server: SimperiumServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous.env(SIMPERIUM_API_KEY=simperium_server.api_key)
    name = email()
    typed = Terminal(monkeypatch, "typed-pw", "typed-pw")
    assert anonymous("user", "create", name).code == 0
    assert typed.prompts == [f"Password for {name}: ", "Again: "]
    Terminal(monkeypatch, "one", "other")
    result = anonymous("user", "create", email())
    assert result.code == 2
    assert_one_error_line(result.err, contains="the passwords typed do not match")
    anonymous.env(SIMPERIUM_USERNAME=name, SIMPERIUM_PASSWORD="typed-pw")
    assert anonymous("index", "todo").code == 0
