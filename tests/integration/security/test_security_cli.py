"""The CLI prints no secret, and the server binds loopback unless told otherwise.

Data commands run with a token, or an API key, username and password, given as flags or in
the environment, succeeding and failing (wrong token, wrong password, missing object, bad id,
unreachable server); ``serve`` runs as a real process with its keys as flags and debug
logging while a session signs up, signs in and is refused. Neither stdout nor stderr ever holds
a secret. ``serve``, ``SimperiumServer`` and the background runner bind 127.0.0.1 by default;
all interfaces take an explicit ``--host 0.0.0.0``.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests

from simperium_orm.cli import build_parser, main
from simperium_orm.server import runner
from simperium_orm.testing import SimperiumServer
from tests.support.cli_runner import CLI, SIMPERIUM_VARS, User, new_user, run_module, subprocess_env

ANNOUNCE = re.compile(r"Simperium server listening on (http://([^/]+):(\d+))\n")


@pytest.fixture
def me(simperium_server: SimperiumServer) -> User:
    return new_user(simperium_server)


def _runs(me: User) -> list[tuple[dict[str, str], list[str]]]:
    """(environment, argv) pairs: every way to pass credentials, right and wrong."""
    server = me.server
    base = {"SIMPERIUM_APP_ID": server.app_id, "SIMPERIUM_API_URL": server.url}
    flags = ["--app-id", server.app_id, "--api-url", server.url]
    signin = ["--api-key", server.api_key, "--username", me.username]
    signin_env = {
        **base,
        "SIMPERIUM_API_KEY": server.api_key,
        "SIMPERIUM_USERNAME": me.username,
        "SIMPERIUM_PASSWORD": me.password,
    }
    wrong = me.token[:-1] + ("0" if me.token[-1] != "0" else "1")
    return [
        ({**base, "SIMPERIUM_TOKEN": me.token}, ["set", "todo", "x", '{"a": 1}']),
        ({**base, "SIMPERIUM_TOKEN": me.token}, ["get", "todo", "x"]),
        ({**base, "SIMPERIUM_TOKEN": me.token}, ["get", "todo", "missing"]),
        ({**base, "SIMPERIUM_TOKEN": me.token}, ["get", "todo", "a/b"]),
        ({**base, "SIMPERIUM_TOKEN": me.token}, ["index", "todo", "--data"]),
        ({**base, "SIMPERIUM_TOKEN": wrong}, ["index", "todo"]),
        ({}, [*flags, "--token", me.token, "export", "todo"]),
        ({}, [*flags, "--token", wrong, "get", "todo", "x"]),
        ({}, [*flags, *signin, "--password", me.password, "index", "todo"]),
        ({}, [*flags, *signin, "--password", me.password + "x", "index", "todo"]),
        (
            {},
            [
                *flags,
                "--api-key",
                "wrong-" + server.api_key,
                "--username",
                me.username,
                "--password",
                me.password,
                "get",
                "todo",
                "x",
            ],
        ),
        (signin_env, ["delete", "todo", "x"]),
        ({**signin_env, "SIMPERIUM_PASSWORD": "not-" + me.password}, ["get", "todo", "x"]),
        ({**base, "SIMPERIUM_TOKEN": server.admin_key}, ["--user", me.userid, "index", "todo"]),
        ({**base, "SIMPERIUM_TOKEN": server.admin_key}, ["index", "todo"]),
        (
            {"SIMPERIUM_TOKEN": me.token, "SIMPERIUM_APP_ID": "demo"},
            ["--api-url", "http://127.0.0.1:9", "get", "todo", "x"],
        ),
    ]


def _argv(argv: list[str]) -> list[str]:
    """Subcommand first, then its options (the connection options belong to the subcommand)."""
    commands = {"set", "get", "delete", "index", "export"}
    at = next(i for i, arg in enumerate(argv) if arg in commands)
    return [argv[at], *argv[:at], *argv[at + 1 :]]


def _secrets(me: User) -> list[str]:
    return [me.token, me.password, me.server.api_key, me.server.admin_key]


def test_data_commands_print_no_secret(
    me: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = CLI(capsys, monkeypatch)
    codes = []
    for env, argv in _runs(me):
        for name in SIMPERIUM_VARS:
            monkeypatch.delenv(name, raising=False)
        cli.env(**env)
        result = cli(*_argv(argv))
        codes.append(result.code)
        for secret in _secrets(me):
            assert secret not in result.out + result.err, (argv, secret)
        assert "Traceback" not in result.err
    assert 0 in codes and 1 in codes  # both successes and failures ran


def test_failing_commands_in_a_real_process_print_no_secret(me: User) -> None:
    for env, argv in _runs(me)[5:11]:
        done = run_module(*_argv(argv), env=env)
        for secret in _secrets(me):
            assert secret not in done.stdout + done.stderr, (argv, secret)
        assert "Traceback" not in done.stderr


class Served:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simperium_orm", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env({}),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = ANNOUNCE.fullmatch(line)
        assert match, line
        self.url, self.host = match.group(1), match.group(2)

    def stop(self) -> tuple[str, str]:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        return out, err


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for item in started:
        if item.proc.poll() is None:
            item.proc.kill()
            item.proc.communicate()


def test_serve_logs_no_secret(served: list[Served]) -> None:
    api_key, admin_key = f"api-{uuid.uuid4().hex}", f"admin-{uuid.uuid4().hex}"
    password = f"pw-{uuid.uuid4().hex}"
    served.append(
        Served(
            "--db",
            ":memory:",
            "--api-key",
            api_key,
            "--admin-key",
            admin_key,
            "--log-level",
            "debug",
        )
    )
    url = f"{served[0].url}/1/demo"
    body = {"username": "s@example.com", "password": password}
    created = requests.post(f"{url}/create/", json=body, headers={"X-Simperium-API-Key": api_key})
    token = created.json()["access_token"]
    requests.post(f"{url}/authorize/", json=body, headers={"X-Simperium-API-Key": api_key + "x"})
    requests.post(f"{url}/authorize/", json={**body, "password": "x"}, data=None)
    requests.get(f"{url}/todo/index", headers={"X-Simperium-Token": token + "x"})
    requests.get(f"{url}/todo/all", headers={"X-Simperium-Token": token})
    requests.post(f"{url}/todo/i/x", json={"a": 1}, headers={"X-Simperium-Token": token})
    out, err = served[0].stop()
    assert "GET /1/demo/todo/index" in err  # the access log was on
    for secret in (api_key, admin_key, password, token):
        assert secret not in out + err, secret


# -- binding ------------------------------------------------------------------------------------


def test_serve_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    bound: list[str] = []
    monkeypatch.setattr(runner, "serve", lambda config, host, *args, **kw: bound.append(host))
    assert main(["serve", "--db", ":memory:"]) == 0
    assert main(["serve", "--db", ":memory:", "--host", "0.0.0.0"]) == 0
    assert bound == ["127.0.0.1", "0.0.0.0"]


def test_background_and_test_servers_bind_loopback_by_default() -> None:
    assert inspect.signature(runner.BackgroundServer).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(SimperiumServer).parameters["host"].default == "127.0.0.1"
    with SimperiumServer() as server:
        sock = server._running.sock  # type: ignore[union-attr]
        assert sock.getsockname()[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")


def test_serve_process_announces_loopback_unless_told(served: list[Served]) -> None:
    served.append(Served("--db", ":memory:"))
    assert served[-1].host == "127.0.0.1"
    served.append(Served("--db", ":memory:", "--host", "0.0.0.0"))
    assert served[-1].host == "0.0.0.0"
    for item in served:
        item.stop()
