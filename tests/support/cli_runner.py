"""Running ``simperium-orm`` in-process (fast) or as a real subprocess, for the CLI tests."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from simperium_orm.cli import main
from simperium_orm.client import Client
from simperium_orm.testing import SimperiumServer

SIMPERIUM_VARS = (
    "SIMPERIUM_APP_ID",
    "SIMPERIUM_TOKEN",
    "SIMPERIUM_API_KEY",
    "SIMPERIUM_USERNAME",
    "SIMPERIUM_PASSWORD",
    "SIMPERIUM_API_URL",
    "SIMPERIUM_APIHOST",
    "SIMPERIUM_AUTH_URL",
    "SIMPERIUM_AUTHHOST",
    "SIMPERIUM_ADMIN_KEY",
)


@dataclass
class User:
    """A user created on the local server for one test."""

    server: SimperiumServer
    username: str
    password: str
    token: str
    userid: str

    def env(self) -> dict[str, str]:
        """The variables that make every command act as this user on this server."""
        return {
            "SIMPERIUM_APP_ID": self.server.app_id,
            "SIMPERIUM_TOKEN": self.token,
            "SIMPERIUM_API_URL": self.server.url,
        }

    def client(self) -> Client:
        """Another client of this user (its own clientid), for writes the CLI should see."""
        return self.server.client(self.token)


def new_user(server: SimperiumServer) -> User:
    username = f"cli-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    info = server.create_account(username, password)
    return User(server, username, password, info["access_token"], info["userid"])


@dataclass
class Result:
    """What a command did: exit status, stdout and stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


class CLI:
    """Runs commands through ``simperium_orm.cli.main`` with captured stdio and a clean env."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        for name in SIMPERIUM_VARS:
            monkeypatch.delenv(name, raising=False)
        self.env(**(env or {}))

    def env(self, **values: str) -> None:
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)

    def __call__(self, *argv: str, stdin: str | Iterable[str] | None = None) -> Result:
        if stdin is not None:
            stream = io.StringIO(stdin) if isinstance(stdin, str) else stdin
            self.monkeypatch.setattr(sys, "stdin", stream)
        self.capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return Result(code, out, err)


def subprocess_env(values: Mapping[str, str]) -> dict[str, str]:
    """The current environment without SIMPERIUM_* variables, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in SIMPERIUM_VARS}
    env.update(values)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_module(
    *argv: str, env: Mapping[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m simperium_orm ...`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "simperium_orm", *argv],
        input=stdin,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def assert_one_error_line(err: str, *, contains: str = "") -> None:
    """stderr is exactly one ``simperium-orm: error: ...`` line, without a traceback."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("simperium-orm: error: "), err
    assert contains in lines[0], err
    assert "Traceback" not in err


@pytest.fixture
def user(simperium_server: SimperiumServer) -> User:
    return new_user(simperium_server)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user: User) -> CLI:
    return CLI(capsys, monkeypatch, user.env())
