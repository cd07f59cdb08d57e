"""The README's first run against the local server works as written.

Its shell block is run as a user would: the first line (``simperium-orm serve``) as a real
server process, the rest by bash with the installed ``simperium-orm`` and ``python`` on the
PATH. The only edit is the port, a free one instead of 8000 (other servers may be running).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli_runner import subprocess_env
from tests.support.server_process import ANNOUNCE, free_port

README = Path(__file__).resolve().parents[3] / "README.md"
SHELL_BLOCK = re.compile(r"^```sh\n(simperium-orm serve.*?)^```", re.MULTILINE | re.DOTALL)


def first_run() -> list[str]:
    match = SHELL_BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README has no shell block starting with 'simperium-orm serve'"
    return match.group(1).splitlines()


@pytest.fixture
def bin_dir() -> Path:
    """Where ``simperium-orm`` and ``python`` are installed (the venv running the tests)."""
    scripts = Path(sys.executable).parent
    if not (scripts / "simperium-orm").exists():
        pytest.skip("the simperium-orm console script is not installed")
    return scripts


def test_the_readme_first_run_works_as_written(bin_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    serve, *rest = (line.replace("8000", str(port)) for line in first_run())
    env = subprocess_env({})  # no SIMPERIUM_* variable but those the block sets
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    argv = [*shlex.split(serve, comments=True), "--port", str(port)]
    server = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        assert ANNOUNCE.search(server.stdout.readline())
        script = "set -euo pipefail\n" + "\n".join(rest)
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "{'title': 'milk'}", done.stdout  # the Python line read the CLI's write
    assert (tmp_path / "simperium.sqlite3").exists()  # the default database, where it was run
