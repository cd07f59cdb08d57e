"""What every route of the local server shares: config, store, writer, keys and wake-ups."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from starlette.requests import HTTPConnection

from simperium_orm.server.auth import Keys
from simperium_orm.server.changes import Writer
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.http import Problem
from simperium_orm.server.store import Store
from simperium_orm.server.wakeups import Wakeups

__all__ = ["State"]


class State:
    """Everything the routes share: config, store, writer, key checks, wake-ups."""

    def __init__(self, config: ServerConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(
            config.db, version_max=config.version_max, version10_max=config.version10_max
        )
        self.writer = Writer(self.store, config)
        self.keys = Keys(config, self.store)
        self.wakeups = Wakeups()
        self._app_id = config.app_id.lower()

    def is_app(self, request: HTTPConnection) -> bool:
        """Whether the path names this server's app (app ids ignore case)."""
        return self.is_app_id(str(request.path_params.get("app", "")))

    def is_app_id(self, app_id: str) -> bool:
        return app_id.lower() == self._app_id

    def check_app(self, request: HTTPConnection) -> None:
        if not self.is_app(request):
            raise Problem(401, "unknown app id")

    def notify(self, userid: str, bucket: str) -> None:
        """Wake the long-polls and websocket channels of this user's bucket, and the
        bucket's ``/all`` feeds."""
        keys: tuple[Hashable, ...] = (("user", userid, bucket), ("bucket", bucket))
        self.wakeups.notify(keys)

    def subscribe(self, userid: str, bucket: str, wake: Callable[[], None]) -> None:
        """Call ``wake()`` after every write to this user's bucket (a websocket channel)."""
        self.wakeups.subscribe(("user", userid, bucket), wake)

    def unsubscribe(self, userid: str, bucket: str, wake: Callable[[], None]) -> None:
        self.wakeups.unsubscribe(("user", userid, bucket), wake)

    def close(self) -> None:
        self.wakeups.close()
        self.store.close()
