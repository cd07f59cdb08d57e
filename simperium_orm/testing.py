"""Test helpers: a local Simperium server in a thread, and the pytest plugin.

::

    from simperium_orm.testing import SimperiumServer

    with SimperiumServer() as server:          # in-memory, on a free port, ready at once
        client = server.client()               # a Client for a fresh user
        client.bucket("todo").new({"title": "milk"})

The pytest plugin (registered through the ``pytest11`` entry point) offers the fixtures
``simperium_server`` (one server per test session) and ``simperium_client`` (a ``Client`` for a
fresh user per test, so tests never see each other's data).

This module imports nothing heavy: the server (starlette, uvicorn) and the client load only
when a server starts or a client is made.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from simperium_orm.errors import error_for_status

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.server.runner import BackgroundServer

__all__ = ["SimperiumServer"]


class SimperiumServer:
    """The local Simperium server running in a background thread.

    Keyword options beyond the ones named are :class:`simperium_orm.server.ServerConfig`
    fields (``long_poll_timeout``, ``max_object_size``, ``version_max``...). The database is
    in memory unless ``db`` names a file. Passwords are hashed with a low cost
    (``password_cost=10``) so tests can create many users quickly.
    """

    def __init__(
        self,
        *,
        app_id: str = "demo",
        api_key: str = "demo-api-key",
        admin_key: str = "demo-admin-key",
        db: str = ":memory:",
        port: int = 0,
        host: str = "127.0.0.1",
        **config: Any,
    ) -> None:
        config.setdefault("password_cost", 10)
        self._options: dict[str, Any] = {
            "app_id": app_id,
            "api_key": api_key,
            "admin_key": admin_key,
            "db": db,
            **config,
        }
        self.app_id = app_id
        self.api_key = api_key
        self.admin_key = admin_key
        self.host = host
        self.port = port
        self._running: BackgroundServer | None = None

    def __repr__(self) -> str:
        where = self._running.url if self._running else "stopped"
        return f"<SimperiumServer app_id={self.app_id!r} {where}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimperiumServer:
        """Bind, start serving and return once requests are answered."""
        if self._running is not None:
            return self
        try:
            from simperium_orm.server.config import ServerConfig
            from simperium_orm.server.runner import BackgroundServer
        except ImportError as exc:
            raise ImportError(
                "the local server needs starlette and uvicorn: pip install 'simperium-orm[server]'"
            ) from exc

        running = BackgroundServer(ServerConfig.from_options(**self._options), self.host, self.port)
        running.start()
        self._running = running
        return self

    def stop(self) -> None:
        """Stop serving (waiting long-polls answer ``[]``); a file database stays on disk."""
        running, self._running = self._running, None
        if running is not None:
            running.stop()

    def __enter__(self) -> SimperiumServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of both the auth and the data endpoints, e.g. ``http://127.0.0.1:54321``."""
        if self._running is None:
            raise RuntimeError("the server is not running: call start() or use it in a with block")
        return self._running.url

    @property
    def stream_url(self) -> str:
        """The websocket URL of Simperium's streaming protocol on the same port, e.g.
        ``ws://127.0.0.1:54321/sock/1/demo/websocket``."""
        return f"ws{self.url.removeprefix('http')}/sock/1/{self.app_id}/websocket"

    # -- users and clients -------------------------------------------------------------------

    def create_account(
        self, username: str | None = None, password: str | None = None
    ) -> dict[str, str]:
        """Create a user; returns ``{"username", "access_token", "userid"}``.

        A random ``@example.com`` username and a random password are used when not given.
        """
        body = {
            "username": username or f"user-{uuid.uuid4().hex[:12]}@example.com",
            "password": password or uuid.uuid4().hex,
        }
        request = urllib.request.Request(
            f"{self.url}/1/{self.app_id}/create/",
            data=json.dumps(body).encode(),
            headers={"X-Simperium-API-Key": self.api_key, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result: dict[str, str] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = exc.read().decode("utf-8", "replace")[:200]
            raise error_for_status(exc.code, message) from None
        return result

    def create_user(self, username: str | None = None, password: str | None = None) -> str:
        """Create a user and return its access token (random username/password when None)."""
        return self.create_account(username, password)["access_token"]

    def client(self, token: str | None = None, **kwargs: Any) -> Client:
        """A :class:`simperium_orm.Client` for this server; a fresh user's when ``token`` is None.

        Extra keyword arguments go to ``Client`` (``userid``, ``clientid``, ``timeout``...).
        """
        from simperium_orm.client import Client

        if token is None:
            token = self.create_user()
        return Client(self.app_id, token, api_url=self.url, auth_url=self.url, **kwargs)

    def admin_client(self, userid: str | None = None, **kwargs: Any) -> Client:
        """A ``Client`` using the admin key (acting as ``userid`` when given)."""
        return self.client(self.admin_key, userid=userid, **kwargs)


try:
    import pytest
except ImportError:  # pragma: no cover - the helpers work without pytest
    pass
else:

    @pytest.fixture(scope="session")
    def simperium_server() -> Iterator[SimperiumServer]:
        """A local Simperium server shared by the test session (in memory, on a free port)."""
        with SimperiumServer() as server:
            yield server

    @pytest.fixture
    def simperium_client(simperium_server: SimperiumServer) -> Iterator[Client]:
        """A ``Client`` for a user created for this test alone."""
        client = simperium_server.client()
        try:
            yield client
        finally:
            client.close()
