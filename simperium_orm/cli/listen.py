"""``listen``: print a bucket's changes as JSON lines until Ctrl-C or SIGTERM.

Each line is one raw change object as the server sends it (``/changes``, or ``/all`` with
``--all-users``): one line per version of an object, in feed order, never folded. The command
follows the cv itself, so a reader may stop reading at any line.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from simperium_orm.cli.common import (
    CommandError,
    Interrupted,
    UsageError,
    command,
    connection_options,
    emit,
    help_text,
    make_client,
    say,
)
from simperium_orm.errors import NotFound, RateLimited, ServerError, TransportError
from simperium_orm.wire.bucket import Bucket

#: Seconds one long-poll may stay open before it is asked again (the server may answer sooner).
POLL_TIMEOUT = 60.0
_MAX_PAUSE = 30.0


def fetch(bucket: Bucket, cv: str | None, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One long-poll of the feed after ``cv``."""
    if args.all_users:
        return bucket.all(cv=cv, data=args.data, timeout=POLL_TIMEOUT)
    return bucket.changes(cv=cv, timeout=POLL_TIMEOUT)


@command
def cmd_listen(args: argparse.Namespace) -> int:
    """Print each change of a bucket as a JSON line, following its cv, until interrupted."""
    if args.data and not args.all_users:
        raise UsageError("--data needs --all-users (only /all sends the data)")
    if args.cv and args.from_start:
        raise UsageError("--cv and --from-start exclude each other")
    bucket = make_client(args).bucket(args.bucket)
    try:
        reached = not (args.cv or args.from_start)
        cv = args.cv or (None if args.from_start else bucket.head(all_users=args.all_users))
        failures = 0
        while True:
            try:
                changes = fetch(bucket, cv, args)
            except NotFound:
                raise CommandError(
                    f"the server no longer knows cv {cv!r}; "
                    "start again without --cv, or with --from-start"
                ) from None
            except (TransportError, ServerError, RateLimited) as exc:
                if not reached:
                    raise  # a wrong URL or a server that is down: say so at once
                # Once listening, an outage is waited out: the cv says where to go on.
                failures += 1
                pause = random.uniform(0.5, min(_MAX_PAUSE, 2.0**failures))
                say(f"warning: {exc}; trying again in {pause:.0f} s")
                time.sleep(pause)
                continue
            reached, failures = True, 0
            for change in changes:
                emit(change)
            if changes:
                cv = str(changes[-1]["cv"])
    except (KeyboardInterrupt, Interrupted):
        return 0


def register(subparsers: Any) -> None:
    """Add ``listen`` to the ``simperium-orm`` parser."""
    listen = subparsers.add_parser(
        "listen",
        parents=[connection_options()],
        help="print a bucket's changes as JSON lines",
        description=help_text(cmd_listen),
    )
    listen.add_argument("bucket", metavar="BUCKET")
    listen.add_argument("--cv", metavar="CV", help="print the changes after this cv")
    listen.add_argument(
        "--from-start", action="store_true", help="print the retained change log first"
    )
    listen.add_argument(
        "--all-users", action="store_true", help="every user's changes (/all, admin key)"
    )
    listen.add_argument(
        "--data", action="store_true", help="with --all-users: include each object's data"
    )
    listen.set_defaults(command=cmd_listen)


__all__ = ["cmd_listen", "fetch", "register"]
