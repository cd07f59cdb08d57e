"""Users, password hashing, access tokens and key checks of the local server.

Passwords are stored as salted scrypt hashes; tokens are stored only as SHA-256 digests, so the
database file holds no usable credential. Keys and hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from simperium_orm.server.config import ServerConfig
from simperium_orm.server.store import Store, User

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_SCRYPT_R, _SCRYPT_P = 8, 1
MAX_PASSWORD = 1024


def same(given: str, expected: str) -> bool:
    """Constant-time string comparison (also for non-ASCII input)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def hash_password(password: str, cost: int) -> str:
    """``scrypt$<log2 n>$<salt hex>$<hash hex>``; slow on purpose (run it off the event loop)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    return f"scrypt${cost}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, cost, salt, digest = stored.split("$")
        expected = bytes.fromhex(digest)
        actual = _scrypt(password, bytes.fromhex(salt), int(cost))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, cost: int) -> bytes:
    n = 2**cost
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=256 * n * _SCRYPT_R + 1024 * 1024,
        dklen=32,
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_userid() -> str:
    return uuid.uuid4().hex


def new_token() -> str:
    return secrets.token_hex(16)


def username_problem(username: object) -> str | None:
    """Why a username is refused (it must look like an email address), or None."""
    if not isinstance(username, str) or not username:
        return "username is required"
    if len(username) > 254 or not _EMAIL.fullmatch(username):
        return "username must be a valid email address"
    return None


def password_problem(password: object, field: str = "password") -> str | None:
    if not isinstance(password, str) or not password:
        return f"{field} is required"
    if len(password) > MAX_PASSWORD:
        return f"{field} is longer than {MAX_PASSWORD} characters"
    return None


@dataclass(frozen=True)
class Caller:
    """Who a data request acts for: a user, or the admin key (optionally as a user)."""

    admin: bool
    userid: str | None


class Keys:
    """Checks of the app's API key, admin key and access tokens."""

    def __init__(self, config: ServerConfig, store: Store) -> None:
        self.config = config
        self.store = store

    def app_key(self, key: str) -> str | None:
        """``"admin"`` or ``"api"`` for a valid key of this app, None otherwise."""
        if same(key, self.config.admin_key):
            return "admin"
        if same(key, self.config.api_key):
            return "api"
        return None

    def is_admin(self, token: str) -> bool:
        return same(token, self.config.admin_key)

    def userid_for(self, token: str) -> str | None:
        return self.store.userid_for_token(token_digest(token))

    def issue_token(self, user: User) -> str:
        token = new_token()
        self.store.add_token(token_digest(token), user.userid)
        return token
