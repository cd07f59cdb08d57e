"""Every ```python block of the README and docs/ runs against a fresh local server.

The blocks of one page run in order in one namespace. The environment points the library at the
local server (``SIMPERIUM_API_URL`` / ``SIMPERIUM_AUTH_URL``) and provides the variables the docs
read (``SIMPERIUM_APP_ID``, ``SIMPERIUM_API_KEY``, ``SIMPERIUM_PASSWORD`` for the user
``you@example.com``), so the docs cannot rot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import simperium_orm as so

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_code_blocks_run(page: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from simperium_orm.testing import SimperiumServer

    blocks = python_blocks(page)
    if not blocks:
        pytest.skip("no python blocks")
    with SimperiumServer() as server:
        for name in ("SIMPERIUM_API_URL", "SIMPERIUM_AUTH_URL"):
            monkeypatch.setenv(name, server.url)
        monkeypatch.setenv("SIMPERIUM_APP_ID", server.app_id)
        monkeypatch.setenv("SIMPERIUM_API_KEY", server.api_key)
        monkeypatch.setenv("SIMPERIUM_ADMIN_KEY", server.admin_key)
        monkeypatch.setenv("SIMPERIUM_PASSWORD", "correct horse battery")
        server.create_user("you@example.com", "correct horse battery")
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
        try:
            for line, code in blocks:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        finally:
            so.disconnect()
            for value in namespace.values():
                if isinstance(value, so.Listener):
                    value.stop()
                    value.join(10)
                elif isinstance(value, SimperiumServer) and value is not server:
                    value.stop()
