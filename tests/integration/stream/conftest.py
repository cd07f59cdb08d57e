"""Fixtures of the streaming tests: websocket URLs, and node-simperium installed once."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
#: npm installs here (git-ignored) and every later run reuses the install.
NODE_CACHE = ROOT / ".cache" / "node-simperium"
NODE_SIMPERIUM = "simperium@1.1.4"


def _installed_version() -> str | None:
    manifest = NODE_CACHE / "node_modules" / "simperium" / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``node_modules`` holding node-simperium 1.1.4 (installed on the first run)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: node-simperium cannot run here")
    if _installed_version() != NODE_SIMPERIUM.split("@")[1]:
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["npm", "install", "--prefix", str(NODE_CACHE), "--no-audit", "--no-fund",
             "--loglevel=error", NODE_SIMPERIUM],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"npm install {NODE_SIMPERIUM} failed:\n{result.stderr[-2000:]}")
    return NODE_CACHE / "node_modules"
