"""``serve`` that cannot start says why in one line, as a real process: no traceback."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_runner import assert_one_error_line, run_module


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on which something else listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def serve(*argv: str) -> tuple[int, str, str]:
    done = run_module("serve", "--port", "0", *argv, env={}, timeout=30)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("missing/dir/db.sqlite3", "as the database: there is no directory '{tmp}/missing/dir'"),
        ("notes.txt", "cannot use '{tmp}/notes.txt' as the database: file is not a database"),
        ("folder", "cannot use '{tmp}/folder' as the database: it is a directory"),
    ],
)
def test_a_database_that_cannot_be_used(tmp_path: Path, db: str, message: str) -> None:
    (tmp_path / "notes.txt").write_text("groceries: milk, eggs, bread\n" * 100)
    (tmp_path / "folder").mkdir()
    code, out, err = serve("--db", str(tmp_path / db))
    assert (code, out) == (1, "")
    assert_one_error_line(err, contains=message.format(tmp=tmp_path))
    assert (tmp_path / "notes.txt").read_text().startswith("groceries")  # left as it was


def test_a_database_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE objects (x INTEGER)")
    other.close()
    code, out, err = serve("--db", str(path))
    assert (code, out) == (1, "")
    assert_one_error_line(err, contains=f"cannot use '{path}' as the database: ")


def test_a_port_in_use(busy_port: int) -> None:
    done = run_module("serve", "--port", str(busy_port), "--db", ":memory:", env={}, timeout=30)
    assert (done.returncode, done.stdout) == (1, "")
    assert_one_error_line(
        done.stderr, contains=f"cannot listen on 127.0.0.1:{busy_port}: Address already in use"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--app-id", "bad id!"], "invalid app id 'bad id!'"),
        (["--api-key", "same-key", "--admin-key", "same-key"], "api_key and admin_key must differ"),
        (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid:0: "),
    ],
)
def test_bad_options(argv: list[str], message: str) -> None:
    code, out, err = serve("--db", ":memory:", *argv)
    assert code in (1, 2) and out == ""
    assert_one_error_line(err, contains=message)
    assert "same-key" not in err
