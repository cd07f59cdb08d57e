"""A local Simperium-compatible server: Starlette + uvicorn over SQLite.

Run it with ``python -m simperium_orm serve``, or in a thread with
:class:`simperium_orm.testing.SimperiumServer`. Needs the ``server`` extra (starlette, uvicorn).
"""

from simperium_orm.server.app import build_app
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.state import State

__all__ = ["ServerConfig", "State", "build_app"]
