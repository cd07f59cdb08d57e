"""``export`` and ``import``: exact round trips, replacing, failures, and safe re-runs."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simperium_orm.client import Client
from simperium_orm.testing import SimperiumServer
from simperium_orm.wire.bucket import Bucket
from tests.support.cli_runner import CLI, User, assert_one_error_line, run_module, subprocess_env

TRICKY: list[Any] = [
    "crème brûlée ☕ 😀",
    'line\nbreak\ttab "quoted" \\ back',
    "\u2028\u0000",
    1.5,
    1e-7,
    -0.0,
    12345678901234567890,
    True,
    None,
    [],
    {},
    [1, "two", {"three": [3.0]}],
    {"a.b": {"c": [None, False]}},
]


def sample(n: int) -> dict[str, Any]:
    """Object ``n`` of a test bucket: mostly plain, every so often a tricky value."""
    data: dict[str, Any] = {"n": n, "title": f"note {n}", "tags": ["a", str(n % 7)]}
    if n % 10 == 0:
        data["tricky"] = TRICKY[(n // 10) % len(TRICKY)]
    return data


def fill(bucket: Bucket, count: int) -> None:
    for start in range(0, count, 1000):
        batch = {f"obj-{n}": sample(n) for n in range(start, min(count, start + 1000))}
        results = bucket.bulk_post(batch)
        assert not [r for r in results if "error" in r]


def change_count(bucket: Bucket) -> int:
    total, cv = 0, None
    while True:
        changes = bucket.changes(cv=cv, wait=False)
        if not changes:
            return total
        total += len(changes)
        cv = changes[-1]["cv"]


@pytest.fixture
def client(user: User) -> Iterator[Client]:
    with user.client() as c:
        yield c


def by_id(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {line["id"]: line["d"] for line in lines}


def test_20000_objects_round_trip_exactly(cli: CLI, client: Client) -> None:
    count = 20_000
    fill(client.bucket("source"), count)

    exported = cli("export", "source")
    assert (exported.code, exported.err) == (0, "")
    lines = exported.lines()
    assert len(lines) == count
    assert by_id(lines) == {f"obj-{n}": sample(n) for n in range(count)}
    assert all(set(line) == {"id", "v", "d"} for line in lines)

    imported = cli("import", "copy", stdin=exported.out)
    assert (imported.code, imported.out) == (0, "")
    assert "imported 20000 objects into 'copy' (20000 written" in imported.err

    again = cli("export", "copy").lines()
    assert by_id(again) == by_id(lines)
    assert {line["v"] for line in again} == {1}
    assert change_count(client.bucket("copy")) == count


def test_import_replaces_existing_objects_and_skips_equal_ones(cli: CLI, client: Client) -> None:
    bucket = client.bucket("todo")
    bucket.write("changed", {"a": 1, "extra": True})
    bucket.write("same", {"a": 2})
    lines = [
        {"id": "changed", "v": 7, "d": {"a": 10}},
        {"id": "same", "d": {"a": 2}},
        {"id": "new", "d": {"a": 3}},
    ]
    result = cli("import", "todo", stdin="".join(json.dumps(x) + "\n" for x in lines))
    assert result.code == 0, result.err
    assert "(2 written, 1 already up to date)" in result.err
    assert bucket.fetch("changed").data == {"a": 10}  # keys not in the line are gone
    assert bucket.fetch("same").version == 1
    assert bucket.fetch("new").data == {"a": 3}


def test_the_later_of_two_lines_for_one_id_wins(cli: CLI, client: Client) -> None:
    text = '{"id": "x", "d": {"n": 1}}\n{"id": "x", "d": {"n": 2, "m": 0}}\n'
    assert cli("import", "todo", stdin=text).code == 0
    assert client.bucket("todo").fetch("x").data == {"n": 2, "m": 0}


def test_failed_lines_are_listed_and_the_rest_imported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimperiumServer(max_object_size=200) as server:
        cli = CLI(capsys, monkeypatch)
        cli.env(
            SIMPERIUM_APP_ID=server.app_id,
            SIMPERIUM_TOKEN=server.create_user(),
            SIMPERIUM_API_URL=server.url,
        )
        text = "\n".join(
            [
                '{"id": "ok1", "d": {"n": 1}}',
                "{not json",
                '{"id": "big", "d": {"text": "' + "x" * 500 + '"}}',
                "",
                '{"id": "bad id", "d": {}}',
                '{"id": "nodata"}',
                '["a list"]',
                '{"id": "ok2", "d": {"n": 2}}',
            ]
        )
        result = cli("import", "todo", stdin=text)
        assert result.code == 1
        failures = result.lines()
        assert [(f["line"], f["id"]) for f in failures] == [
            (2, None),
            (5, "bad id"),
            (6, "nodata"),
            (7, None),
            (3, "big"),
        ]
        assert failures[-1]["error"] == 413
        assert_one_error_line(result.err, contains="5 of 7 objects were not imported")
        assert "big (413)" in result.err and "line 2 (not valid JSON" in result.err
        assert cli("index", "todo", "--all").lines() == [
            {"id": "ok2", "v": 1},
            {"id": "ok1", "v": 1},
        ]


class InterruptedInput:
    """Stdin that delivers ``lines`` and then behaves as if Ctrl-C was pressed."""

    def __init__(self, lines: list[str], stop_after: int) -> None:
        self.lines = lines
        self.stop_after = stop_after

    def __iter__(self) -> Iterator[str]:
        yield from self.lines[: self.stop_after]
        raise KeyboardInterrupt


@pytest.mark.parametrize("resume", ["whole file", "with --skip"])
def test_an_interrupted_import_re_run_completes_without_duplicates(
    cli: CLI, client: Client, resume: str
) -> None:
    lines = [json.dumps({"id": f"obj-{n}", "d": sample(n)}) + "\n" for n in range(2000)]
    first = cli("import", "todo", "--batch", "300", stdin=InterruptedInput(lines, 1000))
    assert first.code == 130
    match = re.search(r"the first (\d+) lines are done; add --skip (\d+)", first.err)
    assert match and match.group(1) == match.group(2) == "900", first.err
    bucket = client.bucket("todo")
    assert len(cli("index", "todo", "--all").lines()) == 900

    extra = ("--skip", "900") if resume == "with --skip" else ()
    second = cli("import", "todo", *extra, stdin="".join(lines))
    assert second.code == 0, second.err
    up_to_date = 0 if extra else 900
    assert f"(1100 written, {up_to_date} already up to date)" in second.err
    exported = cli("export", "todo").lines()
    assert by_id(exported) == {f"obj-{n}": sample(n) for n in range(2000)}
    assert {line["v"] for line in exported} == {1}
    assert change_count(bucket) == 2000


def test_export_of_an_empty_bucket(cli: CLI) -> None:
    result = cli("export", "nothing-here")
    assert (result.code, result.out, result.err) == (0, "", "")


def test_cannot_connect(cli: CLI) -> None:
    for argv in (["export", "todo"], ["import", "todo"]):
        result = cli(*argv, "--api-url", "http://127.0.0.1:9", stdin='{"id": "a", "d": {}}\n')
        assert result.code == 1
        assert_one_error_line(result.err, contains="cannot reach the server")


def test_real_processes_export_to_a_file_and_import_it(
    user: User, client: Client, tmp_path: Path
) -> None:
    fill(client.bucket("source"), 300)
    env = user.env()
    exported = run_module("export", "source", env=env)
    assert (exported.returncode, exported.stderr) == (0, "")
    path = tmp_path / "source.jsonl"
    path.write_text(exported.stdout, encoding="utf-8")
    imported = run_module("import", "copy", str(path), env=env)
    assert imported.returncode == 0, imported.stderr
    copy = client.bucket("copy")
    assert {e["id"]: e["d"] for e in copy.index(data=True, limit=1000)["index"]} == {
        f"obj-{n}": sample(n) for n in range(300)
    }


def test_real_process_interrupted_then_resumed(user: User, client: Client, tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"obj-{n}", "d": sample(n)}) + "\n" for n in range(1000)]
    env = subprocess_env(user.env())
    command = [sys.executable, "-m", "simperium_orm", "import", "todo", "--batch", "100"]
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    process.stdin.write("".join(lines[:500]))
    process.stdin.flush()
    bucket = client.bucket("todo")
    deadline = time.monotonic() + 30
    while len(bucket.index(limit=1000)["index"]) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # waiting for more input, as a stalled pipe would
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    match = re.search(r"the first (\d+) lines are done; add --skip (\d+)", err)
    # 400 if the signal beat the reading of the fifth batch's answer
    assert match and match.group(1) == match.group(2) in ("400", "500"), err
    done = int(match.group(1))

    path = tmp_path / "all.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    resumed = run_module("import", "todo", str(path), "--skip", str(done), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"imported {1000 - done} objects" in resumed.stderr
    assert change_count(bucket) == 1000


NOT_UTF8 = b"\n".join(
    [
        b'{"id": "ok1", "d": {"t": "caf\xc3\xa9"}}',  # UTF-8
        b'{"id": "latin1", "d": {"t": "caf\xe9"}}',  # Latin-1: not UTF-8
        b'{"id": "ok2", "d": {"n": 2}}',
        b'{"id": "cut", "d": {"t": "\xe2\x82"}}',  # a character cut short
        b'{"id": "ok3", "d": {"n": 3}}',
    ]
)


def check_not_utf8_import(code: int, out: str, err: str, client: Client) -> None:
    assert code == 1
    assert [json.loads(line) for line in out.splitlines()] == [
        {"line": 2, "id": None, "error": "not UTF-8 (byte 0xe9 at column 33)"},
        {"line": 4, "id": None, "error": "not UTF-8 (byte 0xe2 at column 27)"},
    ]
    assert_one_error_line(err, contains="2 of 5 objects were not imported into 'todo': line 2")
    assert by_id(client.bucket("todo").index(data=True)["index"]) == {
        "ok1": {"t": "café"},
        "ok2": {"n": 2},
        "ok3": {"n": 3},
    }


def test_a_line_that_is_not_utf8_fails_alone(cli: CLI, client: Client, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(NOT_UTF8)
    result = cli("import", "todo", str(path))
    check_not_utf8_import(result.code, result.out, result.err, client)


def test_a_line_that_is_not_utf8_fails_alone_on_stdin_of_a_real_process(
    user: User, client: Client
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simperium_orm", "import", "todo"],
        input=NOT_UTF8,
        env=subprocess_env(user.env()),
        capture_output=True,
        timeout=60,
        check=False,
    )
    check_not_utf8_import(done.returncode, done.stdout.decode(), done.stderr.decode(), client)
