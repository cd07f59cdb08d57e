"""The Starlette app of the local Simperium server: auth, data and streaming on one port."""

from __future__ import annotations

from starlette.applications import Starlette

from simperium_orm.server.auth_routes import AuthRoutes
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.data_routes import DataRoutes
from simperium_orm.server.http import EXCEPTION_HANDLERS
from simperium_orm.server.state import State
from simperium_orm.server.stream_routes import StreamRoutes


def build_app(config: ServerConfig, state: State | None = None) -> Starlette:
    """The ASGI app (HTTP and websocket); ``app.state.simperium`` is its :class:`State`."""
    state = state or State(config)

    routes = [
        *AuthRoutes(state).routes(),
        *DataRoutes(state).routes(),
        *StreamRoutes(state).routes(),
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
    app.state.simperium = state
    return app
