"""The data commands without a server: usage errors, credentials, secrets, line parsing."""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from simperium_orm.cli import common as cli_common
from simperium_orm.cli import main
from simperium_orm.cli.importer import UNDECODED, Failure, Line, numbered, parse
from simperium_orm.cli.transfer import progress

SECRET = "s3cret-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SIMPERIUM_APP_ID", "SIMPERIUM_TOKEN", "SIMPERIUM_API_KEY", "SIMPERIUM_USERNAME",
        "SIMPERIUM_PASSWORD", "SIMPERIUM_API_URL", "SIMPERIUM_APIHOST", "SIMPERIUM_AUTH_URL",
        "SIMPERIUM_AUTHHOST",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A URL on which nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    yield f"http://127.0.0.1:{port}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, contains: str) -> None:
    assert len(err.splitlines()) == 1, err
    assert err.startswith("simperium-orm: error: "), err
    assert contains in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["get", "todo"], "the following arguments are required: ID"),
        (["get", "todo", "a", "--version", "x"], "not an integer"),
        (["get", "todo", "a", "--version", "0"], "must be at least 1"),
        (["index", "todo", "--limit", "1001"], "must be at most 1000"),
        (["import", "todo", "--batch", "0"], "must be at least 1"),
        (["import", "todo", "--skip", "-3"], "must be at least 1"),
        (["set", "todo", "a", "{}", "--frobnicate"], "unrecognized arguments"),
        (["listen"], "the following arguments are required: BUCKET"),
    ],
)
def test_bad_arguments_are_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert_one_line(err, message)


def test_missing_app_id_or_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "get", "todo", "a")
    assert code == 2
    assert_one_line(err, "no app id: pass --app-id or set SIMPERIUM_APP_ID")
    code, _, err = run(capsys, "get", "todo", "a", "--app-id", "demo")
    assert code == 2
    assert_one_line(err, "no credentials")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "todo", "a", "{nope"], "the JSON argument is not valid JSON"),
        (["set", "todo", "a", "[1, 2]"], "must be a JSON object, not list"),
        (["set", "todo", "a", '{"x": NaN}'], "not valid JSON (NaN is not JSON)"),
        (["set", "todo", "a", "[" * 100_000], "the JSON argument is not valid JSON"),
        (["get", "todo", "no spaces"], "invalid object id 'no spaces'"),
        (["get", "a/b", "x"], "invalid bucket name 'a/b'"),
        (["get", "todo", "a", "--api-url", "ftp://example.com"], "not an http(s) URL"),
    ],
)
def test_bad_values_are_usage_errors_before_any_request(
    capsys: pytest.CaptureFixture[str], closed_port: str, argv: list[str], message: str
) -> None:
    argv = [*argv, "--app-id", "demo", "--token", SECRET]
    if "--api-url" not in argv:
        argv += ["--api-url", closed_port]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert_one_line(err, message)


def test_bad_json_on_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("not json"))
    code, _, err = run(capsys, "set", "todo", "a", "-", "--app-id", "demo", "--token", SECRET)
    assert code == 2
    assert_one_line(err, "standard input is not valid JSON")


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "todo", "a"],
        ["set", "todo", "a", "{}"],
        ["delete", "todo", "a"],
        ["index", "todo", "--all"],
        ["export", "todo"],
        ["listen", "todo"],
    ],
)
def test_a_closed_port_is_one_line_status_1_and_no_secret(
    capsys: pytest.CaptureFixture[str], closed_port: str, argv: list[str]
) -> None:
    code, out, err = run(
        capsys, *argv, "--app-id", "demo", "--token", SECRET, "--api-url", closed_port
    )
    assert (code, out) == (1, "")
    assert_one_line(err, "cannot reach the server (")
    assert f"{closed_port}/1/demo/todo/" in err
    assert SECRET not in err


def test_sign_in_failure_never_shows_the_password(
    capsys: pytest.CaptureFixture[str], closed_port: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMPERIUM_PASSWORD", "hunter2-hunter2")
    monkeypatch.setenv("SIMPERIUM_API_KEY", "key-0123456789")
    code, _, err = run(
        capsys, "get", "todo", "a", "--app-id", "demo", "--username", "me@example.com",
        "--api-url", closed_port,
    )  # fmt: skip
    assert code == 1
    assert_one_line(err, f"cannot reach the server (POST {closed_port}/1/demo/authorize/")
    assert "hunter2" not in err and "key-0123456789" not in err


def test_secrets_are_blanked_from_any_message() -> None:
    args = argparse.Namespace(token=SECRET, api_key=None, password="pw")
    monkey_err = io.StringIO()
    real, sys.stderr = sys.stderr, monkey_err
    try:
        cli_common._fail(args, f"server said: bad token {SECRET}", 1)
    finally:
        sys.stderr = real
    assert monkey_err.getvalue() == "simperium-orm: error: server said: bad token ***\n"


def namespace(**options: str) -> argparse.Namespace:
    names = ("app_id", "token", "api_key", "username", "password", "api_url", "auth_url", "user")
    return argparse.Namespace(**{name: options.get(name) for name in names})


def test_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPERIUM_APP_ID", "from-env")
    monkeypatch.setenv("SIMPERIUM_TOKEN", "env-token")
    monkeypatch.setenv("SIMPERIUM_API_URL", "http://env.example:1")
    client = cli_common.make_client(namespace())
    assert (client.app_id, client.api_url) == ("from-env", "http://env.example:1")
    client = cli_common.make_client(
        namespace(app_id="opt", token="opt-token", api_url="http://opt.example", user="u1")
    )
    assert (client.app_id, client.api_url, client.userid) == ("opt", "http://opt.example", "u1")
    assert client.bucket("todo").auth_token == "opt-token"


def test_auth_url_follows_a_local_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    local = cli_common.make_client(namespace(app_id="a", token="t", api_url="127.0.0.1:8000"))
    assert local.auth_url == "https://127.0.0.1:8000"
    monkeypatch.setenv("SIMPERIUM_APIHOST", "http://127.0.0.1:9000")
    assert cli_common.make_client(namespace(app_id="a", token="t")).auth_url == (
        "http://127.0.0.1:9000"
    )
    monkeypatch.delenv("SIMPERIUM_APIHOST")
    hosted = cli_common.make_client(namespace(app_id="a", token="t"))
    assert (hosted.api_url, hosted.auth_url) == (
        "https://api.simperium.com",
        "https://auth.simperium.com",
    )
    explicit = cli_common.make_client(
        namespace(app_id="a", token="t", api_url="http://x:1", auth_url="http://y:2")
    )
    assert explicit.auth_url == "http://y:2"


def test_emit_falls_back_to_ascii_escapes() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    cli_common.emit({"t": "crème \ud800"}, out)
    out.seek(0)
    assert json.loads(out.read()) == {"t": "crème \ud800"}


def test_emit_never_writes_a_lone_surrogate_raw() -> None:
    # A POSIX-locale stdout would write U+DC80 as the byte 0x80: not UTF-8, unreadable.
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape")
    cli_common.emit({"t": "a\udc80b", "ok": "crème"}, out)
    line = raw.getvalue().decode("utf-8")  # strict: valid UTF-8
    assert json.loads(line) == {"t": "a\udc80b", "ok": "crème"}


def test_emit_keeps_one_value_on_one_line() -> None:
    out = io.StringIO()
    cli_common.emit({"t": "a\u2028b\x85c\u2029d\ne"}, out)
    assert len(out.getvalue().splitlines()) == 1
    assert json.loads(out.getvalue()) == {"t": "a\u2028b\x85c\u2029d\ne"}


def test_parse_import_lines() -> None:
    assert parse(1, '{"id": "a", "v": 3, "d": {"x": 1}}') == Line(1, "a", {"x": 1})
    assert parse(2, '{"d": {}, "id": "b"}') == Line(2, "b", {})
    bad = parse(3, "{oops")
    assert isinstance(bad, Failure)
    assert (bad.number, bad.id) == (3, None)
    assert str(bad.error).startswith("not valid JSON")
    for constant in ("NaN", "-Infinity", "1e999"):
        failure = parse(8, '{"id": "a", "d": {"x": ' + constant + "}}")
        assert isinstance(failure, Failure) and "not valid JSON" in str(failure.error)
    assert parse(4, "[]") == Failure(4, None, 'not a JSON object like {"id": ..., "d": {...}}')
    assert parse(5, '{"id": 5, "d": {}}') == Failure(5, None, 'no "id" string')
    assert parse(6, '{"id": "a b", "d": {}}') == Failure(6, "a b", "invalid id")
    assert parse(7, '{"id": "a", "d": [1]}') == Failure(7, "a", 'no "d" object')
    # A byte that is not UTF-8, as reading with errors=UNDECODED leaves it.
    undecoded = b'{"id": "a", "d": {"t": "caf\xe9"}}'.decode("utf-8", UNDECODED)
    assert parse(9, undecoded) == Failure(9, None, "not UTF-8 (byte 0xe9 at column 28)")


def test_numbered_skips_blank_lines_a_bom_and_the_first_n() -> None:
    lines = ["\ufeff{1}\n", "\n", "{3}\n", "  \n", "{5}\n"]
    assert list(numbered(lines)) == [(1, "{1}\n"), (3, "{3}\n"), (5, "{5}\n")]
    assert list(numbered(lines, skip=3)) == [(5, "{5}\n")]


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    with progress(True, "obj") as bar:
        assert type(bar).__name__ == "_NoBar"  # stderr is captured, not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress(True, "obj", total=10) as bar:
        assert type(bar).__name__ == "tqdm"
        bar.update(10)
    with progress(False, "obj") as bar:
        assert type(bar).__name__ == "_NoBar"


def test_import_simperium_orm_loads_no_cli_and_no_tqdm() -> None:
    code = (
        "import sys, simperium_orm\n"
        "cli = ('simperium_orm.cli', 'simperium_orm.cli_', 'tqdm')\n"
        "loaded = [m for m in sys.modules if m.startswith(cli) and m != 'simperium_orm.client']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_data_commands_do_not_load_tqdm_until_a_bar_is_drawn() -> None:
    code = (
        "import sys\n"
        "from simperium_orm.cli import build_parser\n"
        "build_parser().parse_args(['export', 'todo'])\n"
        "assert 'tqdm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("serve", "user", "get", "set", "delete", "index", "listen", "export", "import"):
        assert name in out


def test_real_process_errors_are_one_line(closed_port: str) -> None:
    def run_module(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "simperium_orm", *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    usage = run_module("get", "todo")
    assert (usage.returncode, usage.stdout) == (2, "")
    assert_one_line(usage.stderr, "the following arguments are required: ID")
    offline = run_module(
        "get", "todo", "a", "--app-id", "demo", "--token", SECRET, "--api-url", closed_port
    )
    assert (offline.returncode, offline.stdout) == (1, "")
    assert_one_line(offline.stderr, "cannot reach the server")
    assert SECRET not in offline.stderr


def test_an_unexpected_failure_is_still_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: argparse.Namespace) -> cli_common.Client:
        raise RuntimeError("something odd")

    monkeypatch.setattr(cli_common, "make_client", broken)
    monkeypatch.setattr("simperium_orm.cli.data.make_client", broken)
    code, out, err = run(capsys, "get", "todo", "a")
    assert (code, out) == (1, "")
    assert_one_line(err, "unexpected RuntimeError: something odd")
