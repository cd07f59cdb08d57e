"""Rules of the Simperium protocol shared by the client, the CLI and the server (pure, no I/O).

One home for each: what an object id, bucket name, app id, client or change id and cv look
like; the zero cv; strict JSON (Python's parser also takes NaN and Infinity, which Simperium
refuses); new ids; the environment variables that name the hosts and credentials, and how a
base URL is chosen from them, and who a client acts as.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from simperium_orm.errors import InvalidIdentifier

__all__ = [
    "APP_PATTERN",
    "BUCKET_PATTERN",
    "CV_PATTERN",
    "DEFAULT_API_URL",
    "DEFAULT_AUTH_URL",
    "ENV",
    "ID_PATTERN",
    "MISSING",
    "TOKEN_PATTERN",
    "ZERO_CV",
    "Credentials",
    "api_url",
    "auth_url",
    "check_app_id",
    "check_bucket_name",
    "check_id",
    "credentials",
    "loads",
    "new_ccid",
    "new_clientid",
    "new_id",
]

# -- identifiers ------------------------------------------------------------------------------

# "." and ".." are refused: in a URL they are dot segments, normalised into another path.
ID_PATTERN: Final = re.compile(r"(?!\.\.?\Z)[A-Za-z0-9._%@-]{1,256}")
BUCKET_PATTERN: Final = re.compile(r"(?!\.\.?\Z)[A-Za-z0-9._%-]{1,64}")
APP_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: A clientid or ccid: 1-256 printable ASCII characters.
TOKEN_PATTERN: Final = re.compile(r"[\x21-\x7e]{1,256}")
#: A change-feed position: 24 lowercase hex digits.
CV_PATTERN: Final = re.compile(r"[0-9a-f]{24}")
#: The cv before any change: reading the feed from it reads it from its start.
ZERO_CV: Final = "0" * 24


def _checked(value: str, pattern: re.Pattern[str], what: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidIdentifier(f"invalid {what} {value!r}: use {rule}")
    return value


def check_id(item: str) -> str:
    """Validate an object id (1-256 of ``a-z A-Z 0-9 . _ - % @``, not . or ..); return it."""
    return _checked(
        item, ID_PATTERN, "object id", "1-256 characters from a-z A-Z 0-9 . _ - % @ (not . or ..)"
    )


def check_bucket_name(name: str) -> str:
    """Validate a bucket name (1-64 of ``a-z A-Z 0-9 . _ - %``, not . or ..); return it."""
    return _checked(
        name,
        BUCKET_PATTERN,
        "bucket name",
        "1-64 characters from a-z A-Z 0-9 . _ - % (not . or ..)",
    )


def check_app_id(app_id: str) -> str:
    """Validate an app id (``a-z A-Z 0-9 . _ -``) and return it."""
    return _checked(app_id, APP_PATTERN, "app id", "a-z A-Z 0-9 . _ -")


def new_id() -> str:
    """A new object id, as Simperium's clients make them: a uuid4 in 32 lowercase hex."""
    return uuid.uuid4().hex


def new_ccid() -> str:
    """A new client change id: 128 random bits in 32 lowercase hex (cheaper than a uuid4)."""
    return os.urandom(16).hex()


def new_clientid() -> str:
    """A new client id in the official Python client's ``py-<hex>`` form."""
    return f"py-{uuid.uuid4().hex}"


class _Missing:
    """The marker for "no value here", where ``None`` is a value (JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# -- strict JSON ------------------------------------------------------------------------------


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for JSON")
    return value


def loads(text: str | bytes) -> Any:
    """Parse JSON strictly: ``ValueError`` for bad syntax, NaN, Infinity and numbers past float."""
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


# -- hosts and credentials from the environment -----------------------------------------------

DEFAULT_API_URL: Final = "https://api.simperium.com"
DEFAULT_AUTH_URL: Final = "https://auth.simperium.com"


class ENV:
    """The environment variables the library and the CLI read, by what they hold."""

    API_URL: Final = "SIMPERIUM_API_URL"
    API_HOST: Final = "SIMPERIUM_APIHOST"  # the official clients' name; a bare host means https
    AUTH_URL: Final = "SIMPERIUM_AUTH_URL"
    AUTH_HOST: Final = "SIMPERIUM_AUTHHOST"
    APP_ID: Final = "SIMPERIUM_APP_ID"
    TOKEN: Final = "SIMPERIUM_TOKEN"
    API_KEY: Final = "SIMPERIUM_API_KEY"
    USERNAME: Final = "SIMPERIUM_USERNAME"
    PASSWORD: Final = "SIMPERIUM_PASSWORD"


def api_url(
    explicit: str | None = None,
    *,
    host: str | None = None,
    scheme: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The data host's base URL: ``explicit``, then ``host``/``scheme``, then
    ``SIMPERIUM_API_URL``, then ``SIMPERIUM_APIHOST``, then Simperium's own."""
    env = os.environ if environ is None else environ
    candidates = (explicit, host, env.get(ENV.API_URL), env.get(ENV.API_HOST))
    return _first_url(candidates, scheme, DEFAULT_API_URL)


def auth_url(
    explicit: str | None = None,
    *,
    host: str | None = None,
    scheme: str | None = None,
    environ: Mapping[str, str] | None = None,
    api: str | None = None,
) -> str:
    """The auth host's base URL, chosen as :func:`api_url` chooses, from the ``AUTH`` names.

    When none is set, a data host other than Simperium's (``api``, else the environment's) is
    the auth host too: the local server serves both, and a password meant for it must never
    go to auth.simperium.com.
    """
    env = os.environ if environ is None else environ
    candidates = (explicit, host, env.get(ENV.AUTH_URL), env.get(ENV.AUTH_HOST))
    data_host = api or api_url(environ=env)
    default = DEFAULT_AUTH_URL if data_host == DEFAULT_API_URL else data_host
    return _first_url(candidates, scheme, default)


def _first_url(candidates: tuple[str | None, ...], scheme: str | None, default: str) -> str:
    """The first value given, as a URL: a bare ``host[:port]`` means ``scheme`` (https);
    a value that already has a scheme (``http://127.0.0.1:8000``) is used as is."""
    for value in candidates:
        if value:
            value = value.strip().rstrip("/")
            if "://" not in value:
                value = f"{scheme or 'https'}://{value}"
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"not an http(s) URL or host: {value!r}")
            return value
    return default


# -- who a client acts as ---------------------------------------------------------------------


def _argument(name: str) -> str:
    return f"{name}="


@dataclass(frozen=True)
class Credentials:
    """Who a client acts as: an app id, and a token or what signs in for one (``/authorize/``).

    Made by :func:`credentials`. Secrets stay out of the repr.
    """

    app_id: str | None = None
    token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def signs_in(self) -> bool:
        """No token, but an API key, a username and a password to get one with."""
        return not self.token and bool(self.api_key and self.username and self.password)

    def missing(
        self, spell: Callable[[str], str] = _argument, *, sign_in: bool = True
    ) -> str | None:
        """Why these credentials cannot make a client, or None when they can.

        ``spell(name)`` writes how a setting is given (``app_id=`` in Python, ``--app-id`` on
        the command line); without ``sign_in`` only a token will do.
        """
        if not self.app_id:
            return f"no app id: pass {spell('app_id')} or set {ENV.APP_ID}"
        if self.token or (sign_in and self.signs_in):
            return None
        token = f"pass {spell('token')} or set {ENV.TOKEN}"
        if not sign_in:
            return f"no token: {token}"
        sign_in_names = ", ".join(spell(name) for name in ("api_key", "username"))
        return (
            f"no credentials: {token}, or pass {sign_in_names} and {spell('password')} "
            f"(or set {ENV.API_KEY}, {ENV.USERNAME} and {ENV.PASSWORD}) to sign in"
        )


def credentials(
    app_id: str | None = None,
    token: str | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The one rule for who a client acts as; the library and the CLI both follow it.

    Each argument wins over its environment variable (``SIMPERIUM_APP_ID``,
    ``SIMPERIUM_TOKEN``, ``SIMPERIUM_API_KEY``, ``SIMPERIUM_USERNAME``,
    ``SIMPERIUM_PASSWORD``); an empty value counts as unset. A token beats signing in, except
    that sign-in arguments (any of ``api_key``, ``username``, ``password``) beat a token that
    only the environment gives: what the caller passed always decides.
    """
    env = os.environ if environ is None else environ

    def pick(value: str | None, name: str) -> str | None:
        return value or env.get(name) or None

    app = pick(app_id, ENV.APP_ID)
    if token:
        return Credentials(app, token=token)
    if not (api_key or username or password) and env.get(ENV.TOKEN):
        return Credentials(app, token=env[ENV.TOKEN])
    return Credentials(
        app,
        api_key=pick(api_key, ENV.API_KEY),
        username=pick(username, ENV.USERNAME),
        password=pick(password, ENV.PASSWORD),
    )
