"""The replica commands: ``replica sync|push PATH --bucket B`` and ``replica status PATH``."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from simperium_orm.cli.common import (
    CommandError,
    command,
    connection_options,
    emit,
    help_text,
    make_client,
)
from simperium_orm.cli.transfer import progress
from simperium_orm.errors import ReplicaError
from simperium_orm.orm.model import Model
from simperium_orm.protocol import check_bucket_name
from simperium_orm.replica import Replica
from simperium_orm.replica.store import Store


def bucket_model(name: str) -> type[Model]:
    """A model with no declared field for a bucket: every key is kept as it is."""
    check_bucket_name(name)
    return type(f"Bucket_{name}", (Model,), {"__module__": __name__}, bucket=name)


@command
def cmd_sync(args: argparse.Namespace) -> int:
    """Bring a replica file up to date with the server (indexing buckets the first time)."""
    models = [bucket_model(name) for name in args.bucket]
    client = make_client(args)
    with progress(not args.quiet, "obj") as bar:
        last: dict[str, int] = {}

        def report(bucket: str, stored: int, done: bool) -> None:
            bar.update(stored - last.get(bucket, 0))
            last[bucket] = stored

        replica = Replica(args.path, *models, client=client, progress=report)
        try:
            replica.sync()
            emit(_status(replica.status()))
        finally:
            replica.close()
    return 0


@command
def cmd_push(args: argparse.Namespace) -> int:
    """Send a replica file's local changes and wait until the server acknowledged them."""
    models = [bucket_model(name) for name in args.bucket]
    replica = Replica(args.path, *models, client=make_client(args))
    try:
        done = replica.flush(timeout=args.timeout)
        emit(_status(replica.status()))
    finally:
        replica.close(discard=True)
    if not done:
        raise CommandError(f"changes still pending after {args.timeout:g} s")
    return 0


@command
def cmd_status(args: argparse.Namespace) -> int:
    """Print what a replica file holds: objects, cv and last sync per bucket, its size."""
    try:
        store = Store(args.path, create=False)
    except ReplicaError as exc:
        raise CommandError(str(exc)) from None
    try:
        emit(_status(store.status()))
    finally:
        store.close()
    return 0


def _status(status: dict[str, Any]) -> dict[str, Any]:
    def when(stamp: float | None) -> str | None:
        if stamp is None:
            return None
        return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat()

    return {
        **status,
        "buckets": {
            name: {
                **info,
                "indexed_at": when(info["indexed_at"]),
                "synced_at": when(info["synced_at"]),
            }
            for name, info in status["buckets"].items()
        },
    }


def register(subparsers: Any) -> None:
    """Add ``replica sync``, ``replica push`` and ``replica status`` to the parser."""
    replica = subparsers.add_parser(
        "replica", help="a local SQLite mirror of buckets", description="Local replicas."
    )
    commands = replica.add_subparsers(title="commands", metavar="COMMAND", required=True)
    sync = _file_command(commands, "sync", "bring a replica file up to date", cmd_sync)
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    push = _file_command(commands, "push", "send a replica file's local changes", cmd_push)
    push.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="how long to wait (60)"
    )
    status = commands.add_parser(
        "status", help="what a replica file holds", description=help_text(cmd_status)
    )
    status.add_argument("path", metavar="PATH", help="the replica's SQLite file")
    status.set_defaults(command=cmd_status)


def _file_command(commands: Any, name: str, what: str, run: Any) -> argparse.ArgumentParser:
    """A subcommand that talks to the server about a replica file's buckets."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, parents=[connection_options()], help=what, description=help_text(run)
    )
    parser.add_argument("path", metavar="PATH", help="the replica's SQLite file")
    parser.add_argument(
        "--bucket", action="append", required=True, metavar="B", help="a bucket (repeatable)"
    )
    parser.set_defaults(command=run)
    return parser
