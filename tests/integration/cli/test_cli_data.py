"""``get``, ``set``, ``delete`` and ``index`` against the local server, in-process."""

from __future__ import annotations

import json

from simperium_orm.testing import SimperiumServer
from tests.support.cli_runner import CLI, User, assert_one_error_line, run_module


def test_set_merges_and_prints_the_result(cli: CLI) -> None:
    first = cli("set", "todo", "milk", '{"title": "milk", "done": false}')
    assert (first.code, first.err) == (0, "")
    assert first.json() == {"id": "milk", "v": 1, "d": {"title": "milk", "done": False}}
    second = cli("set", "todo", "milk", '{"done": true}')
    assert second.json() == {"id": "milk", "v": 2, "d": {"title": "milk", "done": True}}


def test_set_replace_and_stdin(cli: CLI) -> None:
    cli("set", "todo", "milk", '{"title": "milk", "done": false}')
    result = cli("set", "todo", "milk", "-", "--replace", stdin='{"title": "oat milk ✓"}\n')
    assert result.json() == {"id": "milk", "v": 2, "d": {"title": "oat milk ✓"}}


def test_set_with_base_version_merges_concurrent_edits(cli: CLI) -> None:
    cli("set", "notes", "n", '{"body": "milk\\neggs", "done": false}')
    cli("set", "notes", "n", '{"done": true}')  # someone else's edit, v2
    merged = cli("set", "notes", "n", '{"body": "oat milk\\neggs"}', "--base-version", "1")
    assert merged.json()["d"] == {"body": "oat milk\neggs", "done": True}
    assert merged.json()["v"] == 3


def test_set_that_changes_nothing_prints_the_object(cli: CLI) -> None:
    cli("set", "todo", "a", '{"x": 1}')
    assert cli("set", "todo", "a", '{"x": 1}').json() == {"id": "a", "v": 1, "d": {"x": 1}}


def test_get_prints_data_or_the_versioned_shape(cli: CLI) -> None:
    cli("set", "todo", "milk", '{"n": 1}')
    cli("set", "todo", "milk", '{"n": 2}')
    assert cli("get", "todo", "milk").json() == {"n": 2}
    old = cli("get", "todo", "milk", "--version", "1", "--with-version")
    assert old.json() == {"id": "milk", "v": 1, "d": {"n": 1}}


def test_get_missing_object_or_version(cli: CLI) -> None:
    missing = cli("get", "todo", "nothing")
    assert (missing.code, missing.out) == (1, "")
    assert_one_error_line(missing.err, contains="no object 'nothing' in bucket 'todo'")
    cli("set", "todo", "a", '{"x": 1}')
    no_version = cli("get", "todo", "a", "--version", "9")
    assert no_version.code == 1
    assert_one_error_line(no_version.err, contains="no version 9 of object 'a'")


def test_delete(cli: CLI) -> None:
    cli("set", "todo", "a", '{"x": 1}')
    cli("set", "todo", "a", '{"x": 2}')
    stale = cli("delete", "todo", "a", "--version", "1")
    assert stale.code == 1
    assert_one_error_line(stale.err, contains="changed since version 1")
    done = cli("delete", "todo", "a", "--version", "2")
    assert (done.code, done.json()) == (0, {"id": "a", "deleted": True})
    again = cli("delete", "todo", "a")
    assert again.code == 1
    assert_one_error_line(again.err, contains="no object 'a'")
    assert cli("get", "todo", "a").code == 1


def test_index_one_page_and_all_pages(cli: CLI) -> None:
    for n in range(5):
        cli("set", "todo", f"t{n}", json.dumps({"n": n}))
    page = cli("index", "todo", "--limit", "2").json()
    assert [e["id"] for e in page["index"]] == ["t4", "t3"]
    assert page["mark"] and page["current"]
    rest = cli("index", "todo", "--limit", "2", "--mark", page["mark"]).json()
    assert [e["id"] for e in rest["index"]] == ["t2", "t1"]

    entries = cli("index", "todo", "--all", "--data", "--limit", "2").lines()
    assert entries == [{"id": f"t{n}", "v": 1, "d": {"n": n}} for n in (4, 3, 2, 1, 0)]

    cli("set", "todo", "t0", '{"n": 10}')
    changed = cli("index", "todo", "--all", "--since", page["current"]).lines()
    assert changed == [{"id": "t0", "v": 2}]


def test_index_of_an_empty_bucket(cli: CLI) -> None:
    assert cli("index", "empty", "--all").out == ""
    assert cli("index", "empty").json()["index"] == []


def test_sign_in_with_username_and_password(
    cli: CLI, user: User, simperium_server: SimperiumServer
) -> None:
    cli.monkeypatch.delenv("SIMPERIUM_TOKEN")
    cli.env(SIMPERIUM_API_KEY=simperium_server.api_key, SIMPERIUM_PASSWORD=user.password)
    result = cli("set", "todo", "a", '{"x": 1}', "--username", user.username)
    assert result.code == 0, result.err
    # the same user's data: the token from the fixture sees it
    cli.env(SIMPERIUM_TOKEN=user.token)
    assert cli("get", "todo", "a").json() == {"x": 1}


def test_wrong_password_is_one_line_without_secrets(
    cli: CLI, user: User, simperium_server: SimperiumServer
) -> None:
    cli.monkeypatch.delenv("SIMPERIUM_TOKEN")
    result = cli(
        "get", "todo", "a", "--api-key", simperium_server.api_key,
        "--username", user.username, "--password", "not-the-password-123",
    )  # fmt: skip
    assert result.code == 1
    assert_one_error_line(result.err, contains="sign-in refused")
    assert "not-the-password-123" not in result.err + result.out
    assert simperium_server.api_key not in result.err + result.out


def test_bad_token_is_401_without_the_token(cli: CLI) -> None:
    result = cli("get", "todo", "a", "--token", "f00dfeedf00dfeedf00dfeed")
    assert result.code == 1
    assert_one_error_line(result.err, contains="not authorized")
    assert "f00dfeed" not in result.err


def test_admin_key_acting_as_a_user(
    cli: CLI, user: User, simperium_server: SimperiumServer
) -> None:
    cli("set", "todo", "mine", '{"x": 1}')
    admin = ("--token", simperium_server.admin_key, "--user", user.userid)
    assert cli("get", "todo", "mine", *admin).json() == {"x": 1}
    written = cli("set", "todo", "theirs", '{"by": "admin"}', *admin)
    assert written.code == 0
    assert cli("get", "todo", "theirs").json() == {"by": "admin"}


def test_invalid_bucket_name_is_a_usage_error(cli: CLI) -> None:
    result = cli("index", "no/slash")
    assert result.code == 2
    assert_one_error_line(result.err, contains="invalid bucket name")


def test_real_process_get_and_set(user: User) -> None:
    env = user.env()
    written = run_module("set", "todo", "cafe", "-", env=env, stdin='{"title": "crème ☕"}')
    assert (written.returncode, written.stderr) == (0, "")
    read = run_module("get", "todo", "cafe", "--with-version", env=env)
    assert json.loads(read.stdout) == {"id": "cafe", "v": 1, "d": {"title": "crème ☕"}}
