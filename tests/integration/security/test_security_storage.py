"""The database file holds no usable credential: salted slow password hashes, token digests.

A server with a file database gets users (two with the same password), password changes and
resets, several tokens each, and data. The raw bytes of the database and of its WAL and shared
memory files, read while the server runs and again after it stopped, contain no password, no
token and no key, in UTF-8 or UTF-16. The ``users`` table holds ``scrypt$<cost>$<salt>$<hash>``
with a fresh salt per hash; the ``tokens`` table holds only SHA-256 digests. The production
default cost (``ServerConfig``, and so ``serve``) is 2**14 with r=8: 16 MiB and tens of ms.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from pathlib import Path

import pytest

from simperium_orm.cli import main
from simperium_orm.core import Auth
from simperium_orm.server import auth as server_auth
from simperium_orm.server import runner
from simperium_orm.server.config import ServerConfig
from simperium_orm.testing import SimperiumServer

HASH = re.compile(r"scrypt\$(\d+)\$([0-9a-f]{32})\$([0-9a-f]{64})")


def _files(db: Path) -> dict[str, bytes]:
    found = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            found[path.name] = path.read_bytes()
    return found


def _assert_absent(files: dict[str, bytes], secrets: list[str]) -> None:
    assert files, "no database file"
    for name, raw in files.items():
        for secret in secrets:
            for codec in ("utf-8", "utf-16-le", "utf-16-be"):
                assert secret.encode(codec) not in raw, (name, secret, codec)


def _rows(db: Path, query: str) -> list[tuple[str, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in conn.execute(query)]
    finally:
        conn.close()


def test_no_password_token_or_key_in_the_database_files(tmp_path: Path) -> None:
    db = tmp_path / "simperium.sqlite3"
    shared = f"Same-Password-{uuid.uuid4().hex}"
    changed, reset = f"Changed-{uuid.uuid4().hex}", f"Reset-{uuid.uuid4().hex}"
    server = SimperiumServer(
        db=str(db), api_key=f"key-{uuid.uuid4().hex}", admin_key=f"admin-{uuid.uuid4().hex}"
    )
    with server:
        auth = Auth(server.app_id, server.api_key, auth_url=server.url)
        admin = Auth(server.app_id, server.admin_key, auth_url=server.url)
        tokens = [auth.create("one@example.com", shared), auth.create("two@example.com", shared)]
        tokens += [auth.authorize("one@example.com", shared) for _ in range(3)]
        auth.update("one@example.com", shared, new_password=changed)
        admin.reset_password("two@example.com", reset)
        tokens.append(auth.authorize("two@example.com", reset))
        with server.client(tokens[0]) as client:
            client.bucket("todo").set("x", {"title": "data is stored"})
        secrets = [shared, changed, reset, server.api_key, server.admin_key, *tokens]
        live = _files(db)
        assert any(b"data is stored" in raw for raw in live.values())  # the files are the store
        _assert_absent(live, secrets)
    _assert_absent(_files(db), secrets)

    users = {row[0]: row[1] for row in _rows(db, "SELECT username, password FROM users")}
    hashes = [HASH.fullmatch(users[name]) for name in ("one@example.com", "two@example.com")]
    assert all(hashes)
    digests = {row[0] for row in _rows(db, "SELECT digest FROM tokens")}
    assert digests == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}


def test_same_password_gives_different_salts_and_hashes(tmp_path: Path) -> None:
    db = tmp_path / "same.sqlite3"
    password = f"pw-{uuid.uuid4().hex}"
    with SimperiumServer(db=str(db)) as server:
        for n in range(3):
            server.create_account(f"u{n}@example.com", password)
    stored = [row[0] for row in _rows(db, "SELECT password FROM users")]
    parts = [HASH.fullmatch(value) for value in stored]
    assert all(parts) and len(stored) == 3
    salts = {m.group(2) for m in parts if m}
    digests = {m.group(3) for m in parts if m}
    assert len(salts) == 3 and len(digests) == 3
    assert {m.group(1) for m in parts if m} == {"10"}  # the test server's low cost, as asked


def test_production_default_cost_is_slow() -> None:
    assert ServerConfig().password_cost >= 14
    stored = server_auth.hash_password("x", ServerConfig().password_cost)
    match = HASH.fullmatch(stored)
    assert match and int(match.group(1)) >= 14
    assert server_auth.check_password("x", stored) and not server_auth.check_password("y", stored)
    # r=8: each hash needs 128 * r * n bytes (16 MiB at cost 14) and cannot be much cheaper.
    assert server_auth._SCRYPT_R >= 8 and 128 * server_auth._SCRYPT_R * 2**14 >= 16 * 2**20


def test_serve_uses_the_slow_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ServerConfig] = []
    monkeypatch.setattr(runner, "serve", lambda config, *args, **kwargs: seen.append(config))
    assert main(["serve", "--db", ":memory:"]) == 0
    [config] = seen
    assert config.password_cost == ServerConfig().password_cost >= 14


def test_an_explicit_cost_is_what_gets_stored(tmp_path: Path) -> None:
    """``SimperiumServer`` lowers the cost for speed unless told; ``password_cost=14`` is kept."""
    db = tmp_path / "cost.sqlite3"
    with SimperiumServer(db=str(db), password_cost=14) as server:
        server.create_user(password="pw")
    [(stored,)] = _rows(db, "SELECT password FROM users")
    match = HASH.fullmatch(stored)
    assert match and match.group(1) == "14"
