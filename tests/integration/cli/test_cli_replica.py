"""``replica sync`` and ``replica status`` against the local server, in-process."""

from __future__ import annotations

from pathlib import Path

import simperium_orm as so
from simperium_orm.cli.replica import bucket_model
from tests.support.cli_runner import CLI, User, assert_one_error_line


def test_sync_mirrors_buckets_and_status_reports_them(cli: CLI, tmp_path: Path) -> None:
    for n in range(5):
        cli("set", "notes", f"n{n}", f'{{"title": "t{n}", "extra": [{n}]}}')
    cli("set", "tags", "home", '{"name": "home"}')
    path = str(tmp_path / "r.db")
    synced = cli("replica", "sync", path, "--bucket", "notes", "--bucket", "tags", "--quiet")
    assert (synced.code, synced.err) == (0, ""), synced.err
    status = synced.json()
    assert {b: i["objects"] for b, i in status["buckets"].items()} == {"notes": 5, "tags": 1}
    cli("set", "notes", "n0", '{"title": "changed"}')
    cli("delete", "tags", "home")
    again = cli("replica", "sync", path, "--bucket", "notes", "--bucket", "tags", "--quiet")
    shown = cli("replica", "status", path).json()
    assert shown["buckets"]["tags"]["objects"] == 0 and shown["buckets"]["notes"]["objects"] == 5
    assert shown["buckets"]["notes"]["cv"] == again.json()["buckets"]["notes"]["cv"]
    assert shown["bytes"] > 0 and shown["buckets"]["notes"]["synced_at"].endswith("+00:00")


def test_status_of_what_is_no_replica_is_one_error_line(cli: CLI, tmp_path: Path) -> None:
    missing = cli("replica", "status", str(tmp_path / "none.db"))
    assert missing.code != 0
    assert_one_error_line(missing.err, contains="no replica file")
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database at all" * 100)
    bad = cli("replica", "status", str(other))
    assert bad.code != 0
    assert_one_error_line(bad.err, contains="replica")


def test_sync_needs_a_bucket(cli: CLI, tmp_path: Path) -> None:
    result = cli("replica", "sync", str(tmp_path / "r.db"))
    assert result.code == 2 and "--bucket" in result.err


def test_push_sends_what_was_saved_locally(cli: CLI, user: User, tmp_path: Path) -> None:
    path = str(tmp_path / "r.db")
    assert cli("replica", "sync", path, "--bucket", "notes", "--quiet").code == 0
    model = bucket_model("notes")
    replica = so.Replica(path, model, client=user.client())
    replica.bucket("notes").write("offline", {"title": "saved offline"})
    replica.close(discard=True)
    assert cli("replica", "status", path).json()["buckets"]["notes"]["pending"] == 1
    pushed = cli("replica", "push", path, "--bucket", "notes")
    assert (pushed.code, pushed.err) == (0, ""), pushed.err
    assert pushed.json()["buckets"]["notes"]["pending"] == 0
    assert cli("get", "notes", "offline").json() == {"title": "saved offline"}
