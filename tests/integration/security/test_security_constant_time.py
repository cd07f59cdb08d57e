"""Every secret comparison of the server runs in constant time, proven by interception.

No timing is measured. ``hmac.compare_digest`` is replaced, for the server's auth module, by a
recording wrapper, and real requests are sent: each check of an API key, of the admin key (on
the auth and on the data host) and of a password must reach it with the secret on one side.
A user's token is never compared at all: it is hashed (SHA-256) and the digest looked up, so
the lookup sees only the digest. A static pass over the auth code finds no ``==``, ``!=``,
``in`` or ``not in`` with a secret-named operand.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from simperium_orm.server import auth
from simperium_orm.server.store import Store
from simperium_orm.testing import SimperiumServer

SERVER_DIR = Path(auth.__file__).resolve().parent
AUTH_CODE = ["auth.py", "auth_routes.py", "data_routes.py", "app.py"]
SECRET_WORDS = ("key", "token", "password", "digest", "secret", "hash", "salt")


class Recorder:
    """``compare_digest`` that remembers both sides of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []

    def compare_digest(self, a: bytes, b: bytes) -> bool:
        self.calls.append((bytes(a), bytes(b)))
        return hmac.compare_digest(a, b)

    def compared(self, secret: str | bytes) -> bool:
        raw = secret.encode() if isinstance(secret, str) else secret
        return any(raw in (a, b) for a, b in self.calls)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    spy = Recorder()
    monkeypatch.setattr(auth, "hmac", SimpleNamespace(compare_digest=spy.compare_digest))
    return spy


@pytest.fixture
def server() -> Iterator[SimperiumServer]:
    with SimperiumServer(api_key="ct-api-key", admin_key="ct-admin-key") as running:
        yield running


def _post(server: SimperiumServer, endpoint: str, key: str, body: dict[str, str]) -> int:
    answer = requests.post(
        f"{server.url}/1/{server.app_id}/{endpoint}/",
        json=body,
        headers={"X-Simperium-API-Key": key},
        timeout=30,
    )
    return answer.status_code


def _get(server: SimperiumServer, path: str, token: str, user: str | None = None) -> int:
    headers = {"X-Simperium-Token": token}
    if user:
        headers["X-Simperium-User"] = user
    url = f"{server.url}/1/{server.app_id}/todo/{path}"
    return requests.get(url, headers=headers, timeout=30).status_code


def test_api_and_admin_keys_on_the_auth_host(server: SimperiumServer, recorder: Recorder) -> None:
    body = {"username": "ct@example.com", "password": "ct-password"}
    for given, status in (
        ("wrong-key", 401),
        (server.api_key, 200),
        (server.admin_key, 200),
    ):
        recorder.reset()
        assert _post(server, "authorize" if status != 200 else "create", given, body) in (
            status,
            409,
        )
        assert recorder.compared(given), given
        # The given key met the admin key, and (unless it was the admin key) the API key.
        assert (given.encode(), server.admin_key.encode()) in recorder.calls
        if given != server.admin_key:
            assert (given.encode(), server.api_key.encode()) in recorder.calls


def test_passwords_are_compared_as_scrypt_digests(
    server: SimperiumServer, recorder: Recorder
) -> None:
    body = {"username": "pw@example.com", "password": "right-password"}
    assert _post(server, "create", server.api_key, body) == 200
    for password, status in (("wrong-password", 401), ("right-password", 200)):
        recorder.reset()
        code = _post(server, "authorize", server.api_key, {**body, "password": password})
        assert code == status
        digests = [(a, b) for a, b in recorder.calls if len(a) == len(b) == 32]
        assert len(digests) == 1, recorder.calls
        assert not recorder.compared(password)
    recorder.reset()  # an unknown user is checked against a dummy hash, the same way
    assert _post(server, "authorize", server.api_key, {**body, "username": "no@example.com"}) == 401
    assert len([c for c in recorder.calls if len(c[0]) == 32]) == 1


def test_admin_key_on_the_data_host(server: SimperiumServer, recorder: Recorder) -> None:
    info = server.create_account()
    for token, user, status in (
        (server.admin_key, info["userid"], 200),
        ("not-the-admin-key", None, 401),
        (info["access_token"], None, 200),
    ):
        recorder.reset()
        assert _get(server, "index", token, user) == status
        assert (token.encode(), server.admin_key.encode()) in recorder.calls
    recorder.reset()
    assert _get(server, "all?wait=0", server.admin_key) == 200
    assert (server.admin_key.encode(), server.admin_key.encode()) in recorder.calls


def test_tokens_are_looked_up_by_digest_only(
    server: SimperiumServer, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    original = Store.userid_for_token

    def spy(self: Store, digest: str) -> str | None:
        looked_up.append(digest)
        return original(self, digest)

    monkeypatch.setattr(Store, "userid_for_token", spy)
    token = server.create_user()
    for given, status in ((token, 200), (token[:-1] + "x", 401)):
        looked_up.clear()
        assert _get(server, "index", given) == status
        assert looked_up == [hashlib.sha256(given.encode()).hexdigest()]
        assert given not in looked_up


def _secret_named(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = sub.id if isinstance(sub, ast.Name) else getattr(sub, "attr", None)
        if isinstance(name, str) and any(word in name.lower() for word in SECRET_WORDS):
            return True
    return False


def _suspicious(source: str) -> list[str]:
    """``==``, ``!=``, ``in``, ``not in`` comparisons with an operand named like a secret."""
    found = []
    plain = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = (node.left, *node.comparators)
        if any(isinstance(op, plain) for op in node.ops) and any(map(_secret_named, operands)):
            found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("name", AUTH_CODE)
def test_no_plain_comparison_of_secrets_in_the_auth_code(name: str) -> None:
    assert _suspicious((SERVER_DIR / name).read_text()) == []


def test_the_static_check_catches_plain_comparisons() -> None:
    """The check above is not vacuous: it flags the comparisons it exists to forbid."""
    assert _suspicious("ok = given == self.config.api_key") != []
    assert _suspicious("if token != stored_token: pass") != []
    assert _suspicious("if password in passwords: pass") != []
    assert _suspicious("if scheme == 'scrypt': pass") == []


def test_key_checks_use_the_constant_time_helper() -> None:
    """``Keys.app_key`` and ``Keys.is_admin`` compare only through ``same()``."""
    tree = ast.parse((SERVER_DIR / "auth.py").read_text())
    keys = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Keys")
    methods = {n.name: n for n in keys.body if isinstance(n, ast.FunctionDef)}
    for name in ("app_key", "is_admin"):
        calls = [
            c.func.id
            for c in ast.walk(methods[name])
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
        ]
        assert "same" in calls, name
    same = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "same")
    assert "hmac.compare_digest" in ast.unparse(same)
