"""node-simperium 1.1.4, the client Simplenote's desktop app runs, against the local server.

``node_client.js`` drives it: index an existing bucket (more than node's page of 10), create,
update and delete objects and see them over HTTP, hear an HTTP write and delete, keep the
socket alive with heartbeats, and let two clients edit one text field at once.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account

SCRIPT = Path(__file__).with_name("node_client.js")


def run_node(node_modules: Path, args: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    result = subprocess.run(
        ["node", str(SCRIPT), json.dumps(args)],
        capture_output=True, text=True, env=env, timeout=90, check=False,
    )  # fmt: skip
    assert result.stdout, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert result.returncode == 0, report
    return report


def test_node_simperium_syncs_with_the_local_server(
    local_server: SimperiumServer, account: Account, node_modules: Path
) -> None:
    existing = {f"pre{n:02d}": {"n": n, "title": f"object {n}"} for n in range(14)}
    for item, data in existing.items():
        account.put_object("notes", item, data)
    account.put_object("notes", "shared", {"text": "The quick fox"})

    report = run_node(node_modules, {
        "ws": local_server.stream_url, "http": local_server.url, "app": local_server.app_id,
        "token": account.token, "bucket": "notes", "shared": "shared",
    })  # fmt: skip

    indexed = {entry["id"]: entry["data"] for entry in report["indexed"]}
    assert indexed == {**existing, "shared": {"text": "The quick fox"}}
    assert json.loads(report["after_create"]["body"]) == {"title": "from node", "n": 1}
    assert json.loads(report["after_update"]["body"]) == {"title": "updated by node", "n": 2}
    assert report["after_remove"]["status"] == 404
    assert report["heard"] == {"title": "written over HTTP"}
    assert report["heartbeats"] >= 2
    assert report["converged"] == "The quick brown fox jumps"
    assert json.loads(report["shared_over_http"]["body"]) == {"text": "The quick brown fox jumps"}
    # node's own ids (uuids with dashes) and its delete echo left nothing behind over HTTP
    response = account.get(account.url("notes", "index"), params={"data": 1, "limit": 100})
    listed = {entry["id"]: entry["d"] for entry in response.json()["index"]}
    assert listed == {**existing, "shared": {"text": "The quick brown fox jumps"}}
