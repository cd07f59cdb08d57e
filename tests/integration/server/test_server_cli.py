"""The ``serve`` command as a real process, persistence across restarts, and the CLI parser."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from simperium_orm.cli import build_parser, main
from simperium_orm.testing import SimperiumServer

ANNOUNCE = re.compile(r"Simperium server listening on (http://127\.0\.0\.1:(\d+))\n")
KEYS = {"X-Simperium-API-Key": "demo-api-key"}


class Served:
    """A ``serve`` process and the URL it announced."""

    def __init__(self, *args: str, cwd: Path, command: list[str] | None = None) -> None:
        argv = command or [sys.executable, "-m", "simperium_orm"]
        self.proc = subprocess.Popen(
            [*argv, "serve", "--port", "0", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline()
        match = ANNOUNCE.fullmatch(self.line)
        assert match, (self.line, self.proc.stderr.read() if self.proc.stderr else "")
        self.url = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, out, err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    procs: list[Served] = []
    yield procs
    for item in procs:
        if item.proc.poll() is None:
            item.proc.kill()
            item.proc.communicate()


def signup(url: str, username: str = "cli@example.com") -> dict[str, Any]:
    body = {"username": username, "password": "pw"}
    response = requests.post(f"{url}/1/demo/create/", json=body, headers=KEYS, timeout=10)
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()
    return info


def test_serve_announces_one_line_and_stops_cleanly_on_sigterm(
    tmp_path: Path, served: list[Served]
) -> None:
    served.append(Served("--db", str(tmp_path / "db.sqlite3"), cwd=tmp_path))
    server = served[0]
    assert int(ANNOUNCE.fullmatch(server.line).group(2)) > 0  # type: ignore[union-attr]
    token = signup(server.url)["access_token"]
    headers = {"X-Simperium-Token": token}
    response = requests.post(f"{server.url}/1/demo/todo/i/x", json={"a": 1}, headers=headers)
    assert response.status_code == 200
    code, out, err = server.stop()
    assert code == 0
    assert out == ""  # nothing after the announcement
    assert token not in err and "demo-api-key" not in err


def test_sigint_stops_cleanly_even_during_a_long_poll(tmp_path: Path, served: list[Served]) -> None:
    served.append(Served("--db", ":memory:", "--long-poll-timeout", "60", cwd=tmp_path))
    server = served[0]
    token = signup(server.url)["access_token"]
    result: dict[str, Any] = {}

    def poll() -> None:
        try:
            response = requests.get(
                f"{server.url}/1/demo/todo/changes",
                headers={"X-Simperium-Token": token},
                timeout=30,
            )
            result["body"] = response.json()
        except requests.RequestException as exc:
            result["error"] = exc

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    code, _, _ = server.stop(signal.SIGINT)
    assert code == 0
    assert time.monotonic() - started < 5
    poller.join(10)
    assert result.get("body", []) == []
    assert not list(tmp_path.iterdir())  # :memory: wrote no file


def test_data_survives_a_restart_with_the_same_db(tmp_path: Path, served: list[Served]) -> None:
    db = str(tmp_path / "keep.sqlite3")
    served.append(Served("--db", db, cwd=tmp_path))
    info = signup(served[0].url)
    headers = {"X-Simperium-Token": info["access_token"]}
    url = f"{served[0].url}/1/demo/todo"
    for n in range(3):
        requests.post(f"{url}/i/x", json={"n": n}, headers=headers)
    before = requests.get(f"{url}/changes?wait=0", headers=headers).json()
    assert served[0].stop()[0] == 0

    served.append(Served("--db", db, cwd=tmp_path))
    url = f"{served[1].url}/1/demo/todo"
    assert requests.get(f"{url}/i/x", headers=headers).json() == {"n": 2}  # same token works
    assert requests.get(f"{url}/i/x/v/1", headers=headers).json() == {"n": 0}
    response = requests.post(f"{url}/i/x", json={"n": 9}, headers=headers)
    assert response.headers["X-Simperium-Version"] == "4"
    after = requests.get(f"{url}/changes", params={"cv": before[-1]["cv"]}, headers=headers)
    (change,) = after.json()
    assert change["cv"] > before[-1]["cv"]  # cvs keep their order across restarts
    login = {"username": "cli@example.com", "password": "pw"}
    assert requests.post(f"{served[1].url}/1/demo/authorize/", json=login, headers=KEYS).ok
    assert served[1].stop()[0] == 0


def test_default_db_is_a_file_in_the_working_directory(
    tmp_path: Path, served: list[Served]
) -> None:
    served.append(Served(cwd=tmp_path))
    signup(served[0].url)
    assert served[0].stop()[0] == 0
    assert (tmp_path / "simperium.sqlite3").exists()


def test_console_script_and_custom_keys(tmp_path: Path, served: list[Served]) -> None:
    script = Path(sys.executable).with_name("simperium-orm")
    if not script.exists():
        pytest.skip("console script not installed")
    args = ("--db", ":memory:", "--app-id", "my-app", "--api-key", "k1", "--admin-key", "k2")
    served.append(Served(*args, cwd=tmp_path, command=[str(script)]))
    url = served[0].url
    body = {"username": "k@example.com", "password": "pw"}
    response = requests.post(f"{url}/1/my-app/create/", json=body, headers=KEYS)
    assert response.status_code == 401
    response = requests.post(
        f"{url}/1/my-app/create/", json=body, headers={"X-Simperium-API-Key": "k1"}
    )
    assert response.status_code == 200
    assert served[0].stop()[0] == 0


def test_a_busy_port_is_reported(tmp_path: Path) -> None:
    with SimperiumServer() as server:
        port = server.url.rsplit(":", 1)[1]
        proc = subprocess.run(
            [sys.executable, "-m", "simperium_orm", "serve", "--port", port, "--db", ":memory:"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
        )
    assert proc.returncode == 1
    assert "cannot listen" in proc.stderr
    assert proc.stdout == ""


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8000, "simperium.sqlite3")
    assert (args.app_id, args.api_key, args.admin_key) == (
        "demo",
        "demo-api-key",
        "demo-admin-key",
    )


def test_bad_options_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--app-id", "bad id!", "--db", ":memory:"]) == 2
    assert "invalid app id" in capsys.readouterr().err
    assert main(["serve", "--api-key", "same", "--admin-key", "same"]) == 2
    assert main([]) == 2


def test_simperium_server_restart_keeps_a_file_db(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite3")
    with SimperiumServer(db=db) as server:
        token = server.create_user("keep@example.com", "pw")
        server.client(token).bucket("todo").post("x", {"a": 1})
    with SimperiumServer(db=db) as server:
        assert server.client(token).bucket("todo").get("x") == {"a": 1}


def test_simperium_server_starts_fast_and_hides_keys() -> None:
    started = time.monotonic()
    server = SimperiumServer(api_key="top-secret-api", admin_key="top-secret-admin")
    with server:
        assert time.monotonic() - started < 0.5
        assert requests.get(f"{server.url}/1/demo/todo/index").status_code == 401
        assert "top-secret" not in repr(server)
    assert "top-secret" not in repr(server)
    with pytest.raises(RuntimeError):
        _ = server.url
