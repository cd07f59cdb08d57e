"""``user create``: a new user of the app, on Simperium or on a running local server.

It prints the user's access token alone on stdout, so that
``export SIMPERIUM_TOKEN=$(simperium-orm user create you@example.com)`` is the whole first
run against ``simperium-orm serve``. The app id, API key and password follow the same rule as
every command (:func:`simperium_orm.protocol.credentials`); the password is asked for twice
when it is not given and stdin is a terminal.
"""

from __future__ import annotations

import argparse
from typing import Any

from simperium_orm import protocol
from simperium_orm.cli.common import (
    CommandError,
    UsageError,
    ask_password,
    command,
    help_text,
    hosts,
    option,
    options,
    say,
)
from simperium_orm.errors import Conflict
from simperium_orm.protocol import ENV
from simperium_orm.wire.auth import Auth
from simperium_orm.wire.transport import Transport

__all__ = ["cmd_user_create", "register"]


@command
def cmd_user_create(args: argparse.Namespace) -> int:
    """Create a user of the app (``/create/``) and print its access token on stdout."""
    found = protocol.credentials(
        args.app_id, api_key=args.api_key, username=args.email, password=args.password
    )
    if not found.app_id:
        raise UsageError(f"no app id: pass {option('app_id')} or set {ENV.APP_ID}")
    if not found.api_key:
        raise UsageError(f"no API key: pass {option('api_key')} or set {ENV.API_KEY}")
    password = found.password or ask_password(args.email, confirm=True)
    if not password:
        raise UsageError(
            f"no password: pass {option('password')} or set {ENV.PASSWORD} "
            "(or run in a terminal to be asked)"
        )
    _, auth_url = hosts(args)
    transport = Transport()
    try:
        token = Auth(found.app_id, found.api_key, auth_url=auth_url, transport=transport).create(
            args.email, password
        )
    except Conflict:
        raise CommandError(
            f"the user {args.email!r} already exists in app {found.app_id!r} at {auth_url}"
        ) from None
    finally:
        transport.close()
    print(token, flush=True)
    say(f"created the user {args.email!r} in app {found.app_id!r} at {auth_url}")
    return 0


def register(commands: Any) -> None:
    """Add ``user create`` to the ``simperium-orm`` parser."""
    conn = options(
        "app_id",
        "api_key",
        "password",
        "api_url",
        "auth_url",
        api_key="the app's API key [SIMPERIUM_API_KEY]",
        password="the new user's password [SIMPERIUM_PASSWORD]; asked for on a terminal",
    )
    user = commands.add_parser(
        "user", help="manage the app's users", description="Manage the app's users."
    )
    actions = user.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)
    create = actions.add_parser(
        "create",
        parents=[conn],
        help="create a user and print its access token",
        description=help_text(cmd_user_create),
    )
    create.add_argument("email", metavar="EMAIL", help="the new user's username (an email)")
    create.set_defaults(command=cmd_user_create)
