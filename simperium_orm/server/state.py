"""What every route of the local server shares: config, store, writer, keys and wake-ups."""

from __future__ import annotations

from collections.abc import Hashable

from starlette.requests import Request

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

    def is_app(self, request: Request) -> bool:
        """Whether the path names this server's app (app ids ignore case)."""
        return str(request.path_params.get("app", "")).lower() == self._app_id

    def check_app(self, request: Request) -> None:
        if not self.is_app(request):
            raise Problem(401, "unknown app id")

    def notify(self, userid: str, bucket: str) -> None:
        """Wake the long-polls of this user's bucket and of the bucket's ``/all`` feed."""
        keys: tuple[Hashable, ...] = (("user", userid, bucket), ("bucket", bucket))
        self.wakeups.notify(keys)

    def close(self) -> None:
        self.wakeups.close()
        self.store.close()
