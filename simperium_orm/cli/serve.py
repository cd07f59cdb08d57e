"""``simperium-orm serve``: the local Simperium server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3

from simperium_orm.cli.common import CommandError, Interrupted, UsageError, command

__all__ = ["cmd_serve", "register"]


@command
def cmd_serve(args: argparse.Namespace) -> int:
    """Run the local Simperium server in the foreground until Ctrl-C or SIGTERM."""
    try:
        from simperium_orm.server.config import ServerConfig
        from simperium_orm.server.runner import serve
    except ImportError as exc:
        raise UsageError(
            f"the server needs starlette and uvicorn ({exc.name} is missing): "
            "pip install 'simperium-orm[server]'"
        ) from None
    try:
        config = ServerConfig(
            app_id=args.app_id,
            api_key=args.api_key,
            admin_key=args.admin_key,
            db=args.db,
            long_poll_timeout=args.long_poll_timeout,
            max_object_size=args.max_object_size,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    def announce(url: str) -> None:
        print(f"Simperium server listening on {url}", flush=True)

    try:
        serve(
            config,
            args.host,
            args.port,
            announce,
            log_level=args.log_level,
            access_log=args.log_level in ("info", "debug"),
        )
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    except sqlite3.Error as exc:
        raise CommandError(database_problem(args.db, exc)) from None
    except (KeyboardInterrupt, Interrupted):  # before the server installed its own handlers
        pass
    return 0


def database_problem(path: str, exc: sqlite3.Error) -> str:
    """Why SQLite would not open ``path``, in words that point at the fix."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        why = "it is a directory"
    elif not os.path.isdir(folder):
        why = f"there is no directory {folder!r}"
    else:
        why = str(exc)  # "file is not a database", "attempt to write a readonly database", ...
    return f"cannot use {path!r} as the database: {why}"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run a local Simperium-compatible server",
        description="Serve the Simperium auth and data endpoints on one port, stored in SQLite.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (8000)")
    serve.add_argument(
        "--db",
        default="simperium.sqlite3",
        help="SQLite database file (default ./simperium.sqlite3); :memory: keeps nothing",
    )
    serve.add_argument("--app-id", default="demo", help="the app id clients use (demo)")
    serve.add_argument("--api-key", default="demo-api-key", help="the app's API key")
    serve.add_argument("--admin-key", default="demo-admin-key", help="the app's admin key")
    serve.add_argument(
        "--long-poll-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long GET /changes and /all wait for a change before answering [] (30)",
    )
    serve.add_argument(
        "--max-object-size",
        type=int,
        default=4 * 1024 * 1024,
        metavar="BYTES",
        help="largest object accepted, as compact JSON (4 MiB); larger ones get 413",
    )
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="stderr logging; info and debug also log each request (default warning)",
    )
    serve.set_defaults(command=cmd_serve)
