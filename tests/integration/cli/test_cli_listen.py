"""``listen``: changes made by another client arrive as JSON lines; Ctrl-C/SIGTERM exit 0."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading

import pytest

from simperium_orm.client import Client
from simperium_orm.testing import SimperiumServer
from tests.support.cli_runner import CLI, User, assert_one_error_line, new_user, subprocess_env


class Lines(io.StringIO):
    """A stdout that announces each complete line it receives."""

    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.enough = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.getvalue().count("\n") >= self.wanted:
            self.enough.set()
        return written


def head(client: Client, bucket: str) -> str:
    return str(client.bucket(bucket).index(limit=1)["current"])


def listen_in_process(
    cli: CLI,
    argv: list[str],
    wanted: int,
    write: list[tuple[str, dict[str, int] | None]],
    client: Client,
) -> tuple[int, list[dict[str, object]], str]:
    """Run ``listen`` in this (main) thread; another thread writes (None: deletes), then sends
    SIGINT."""
    out = Lines(wanted)
    cli.monkeypatch.setattr(sys, "stdout", out)
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def other_client() -> None:
        for item, data in write:
            if data is None:
                client.bucket("todo").delete(item)
            else:
                client.bucket("todo").write(item, data)
        out.enough.wait(30)
        signal.pthread_kill(main_thread, signal.SIGINT)

    writer = threading.Thread(target=other_client)
    writer.start()
    try:
        result = cli(*argv)
    finally:
        writer.join(30)
    return result.code, [json.loads(line) for line in out.getvalue().splitlines()], result.err


def test_prints_changes_after_cv_then_stops_on_sigint(cli: CLI, user: User) -> None:
    other = user.client()
    other.bucket("todo").write("before", {"n": 0})
    cv = head(other, "todo")
    code, changes, err = listen_in_process(
        cli, ["listen", "todo", "--cv", cv], 2, [("a", {"n": 1}), ("a", {"n": 2})], other
    )
    assert (code, err) == (0, "")
    assert [(c["id"], c["o"], c["ev"]) for c in changes] == [("a", "M", 1), ("a", "M", 2)]
    assert changes[1]["v"] == {"n": {"o": "r", "v": 2}}
    assert all(c["clientid"] == other.clientid for c in changes)


def test_one_line_per_version_even_within_one_poll(cli: CLI, user: User) -> None:
    other = user.client()
    cv = head(other, "todo")
    other.bucket("todo").write("b", {"n": 1})  # written before the first poll: one answer
    other.bucket("todo").write("b", {"n": 2})
    code, changes, _ = listen_in_process(
        cli, ["listen", "todo", "--cv", cv], 3, [("b", None)], other
    )
    assert code == 0
    assert [(c["id"], c["o"], c.get("sv"), c["ev"]) for c in changes] == [
        ("b", "M", None, 1),
        ("b", "M", 1, 2),
        ("b", "-", 2, 3),
    ]


def test_from_start_replays_the_log(cli: CLI, user: User) -> None:
    other = user.client()
    other.bucket("todo").write("old", {"n": 0})
    code, changes, _ = listen_in_process(
        cli, ["listen", "todo", "--from-start"], 2, [("new", {"n": 1})], other
    )
    assert code == 0
    assert [c["id"] for c in changes] == ["old", "new"]


def test_all_users_with_the_admin_key(cli: CLI, simperium_server: SimperiumServer) -> None:
    other_user = new_user(simperium_server)
    admin = simperium_server.admin_key
    feed = simperium_server.admin_client().bucket("todo")
    cv = "0" * 24  # the start of the log; skip what other tests wrote
    while batch := feed.all(cv=cv, batch=1000, wait=False):
        cv = batch[-1]["cv"]
    code, changes, _ = listen_in_process(
        cli,
        ["listen", "todo", "--all-users", "--data", "--token", admin, "--cv", cv],
        1,
        [("x", {"n": 1})],
        other_user.client(),
    )
    assert code == 0
    assert changes[0]["id"] == f"{other_user.userid}/x"
    assert changes[0]["d"] == {"n": 1}


def test_unknown_cv_and_bad_options(cli: CLI) -> None:
    unknown = cli("listen", "todo", "--cv", "0123456789abcdef01234567")
    assert unknown.code == 1
    assert_one_error_line(unknown.err, contains="no longer knows cv")
    both = cli("listen", "todo", "--cv", "0" * 24, "--from-start")
    assert both.code == 2
    assert_one_error_line(both.err, contains="exclude each other")
    data = cli("listen", "todo", "--data")
    assert data.code == 2
    assert_one_error_line(data.err, contains="--all-users")


def test_cannot_connect_fails_at_once(cli: CLI) -> None:
    result = cli("listen", "todo", "--from-start", "--api-url", "http://127.0.0.1:9")
    assert result.code == 1
    assert_one_error_line(result.err, contains="cannot reach the server")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_real_process_prints_a_change_and_stops_cleanly(user: User, stop: signal.Signals) -> None:
    other = user.client()
    cv = head(other, "todo")
    env = subprocess_env(user.env())
    process = subprocess.Popen(
        [sys.executable, "-m", "simperium_orm", "listen", "todo", "--cv", cv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        other.bucket("todo").write("milk", {"title": "milk"})
        assert process.stdout is not None
        change = json.loads(process.stdout.readline())
        assert (change["id"], change["v"]) == ("milk", {"title": {"o": "+", "v": "milk"}})
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, out, err) == (0, "", "")
    assert user.token not in err
