"""Shared by the examples: one user signed up, as two clients ("devices") of it.

Real Simperium when SIMPERIUM_APP_ID and SIMPERIUM_API_KEY are set (a throw-away user is
created there); otherwise an in-process local server that lives as long as ``stack``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable

import simperium_orm as so


def two_devices(
    stack: contextlib.ExitStack, prefix: str, say: Callable[[str], None] = print
) -> tuple[so.Client, so.Client]:
    """Sign up a fresh user; return two clients of it, each with its own clientid."""
    app_id, api_key = os.environ.get("SIMPERIUM_APP_ID"), os.environ.get("SIMPERIUM_API_KEY")
    username, password = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    if app_id and api_key:
        say(f"using Simperium app {app_id!r}")
        token = so.Auth(app_id, api_key).create(username, password)
        return so.Client(app_id, token), so.Client(app_id, token)
    from simperium_orm.testing import SimperiumServer

    server = stack.enter_context(SimperiumServer())
    say(f"started a local Simperium server at {server.url}")
    token = server.create_user(username, password)
    return server.client(token), server.client(token)
