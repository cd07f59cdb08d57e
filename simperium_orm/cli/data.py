"""The object commands: ``get``, ``set``, ``delete`` and ``index``.

Objects print in one shape everywhere: ``{"id", "v", "d"}`` (id, version, data), the shape of an
index entry and of an ``export`` line. ``get`` prints only the data unless ``--with-version``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from simperium_orm.cli.common import (
    CommandError,
    command,
    connection_options,
    emit,
    help_text,
    make_client,
    parse_json_object,
)
from simperium_orm.errors import NotFound, PreconditionFailed
from simperium_orm.wire.bucket import Bucket, Document


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def page_size(text: str) -> int:
    """An argparse type: an index page size, 1 to 1000."""
    value = positive_int(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"must be at most 1000, got {value}")
    return value


def as_line(doc: Document) -> dict[str, Any]:
    """A document in the ``{"id", "v", "d"}`` shape."""
    return {"id": doc.id, "v": doc.version, "d": doc.data}


def _missing(bucket: Bucket, item: str, version: int | None) -> CommandError:
    if version is None:
        return CommandError(f"no object {item!r} in bucket {bucket.name!r}")
    return CommandError(f"no version {version} of object {item!r} in bucket {bucket.name!r}")


@command
def cmd_get(args: argparse.Namespace) -> int:
    """Print one object's data (or ``{"id", "v", "d"}`` with ``--with-version``)."""
    bucket = make_client(args).bucket(args.bucket)
    try:
        doc = bucket.fetch(args.id, version=args.version)
    except NotFound:
        raise _missing(bucket, args.id, args.version) from None
    emit(as_line(doc) if args.with_version else doc.data)
    return 0


@command
def cmd_set(args: argparse.Namespace) -> int:
    """Write an object (merging keys unless ``--replace``) and print the result."""
    if args.json == "-":
        data = parse_json_object(sys.stdin.read(), "standard input")
    else:
        data = parse_json_object(args.json, "the JSON argument")
    bucket = make_client(args).bucket(args.bucket)
    try:
        doc = bucket.write(args.id, data, version=args.base_version, replace=args.replace)
    except NotFound:
        raise _missing(bucket, args.id, args.base_version) from None
    emit(as_line(doc))
    return 0


@command
def cmd_delete(args: argparse.Namespace) -> int:
    """Delete an object (with ``--version``, only while that version is current)."""
    bucket = make_client(args).bucket(args.bucket)
    try:
        bucket.delete(args.id, version=args.version)
    except NotFound:
        raise _missing(bucket, args.id, args.version) from None
    except PreconditionFailed:
        raise CommandError(
            f"object {args.id!r} has changed since version {args.version}; not deleted"
        ) from None
    emit({"id": args.id, "deleted": True})
    return 0


def pages(
    bucket: Bucket,
    *,
    data: bool,
    limit: int,
    mark: str | None = None,
    since: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every index page from ``mark`` on, one request (and one page in memory) at a time."""
    seen_marks: set[str] = set()
    while True:
        page = bucket.index(data=data, mark=mark, limit=limit, since=since)
        yield page
        mark = page.get("mark")
        # A server that repeats a mark would loop forever; stop as careful clients do.
        if not mark or mark in seen_marks:
            return
        seen_marks.add(mark)


@command
def cmd_index(args: argparse.Namespace) -> int:
    """Print one index page, or with ``--all`` every entry of every page as JSON lines."""
    bucket = make_client(args).bucket(args.bucket)
    if not args.all:
        emit(bucket.index(data=args.data, mark=args.mark, limit=args.limit, since=args.since))
        return 0
    for page in pages(
        bucket, data=args.data, limit=args.limit or 1000, mark=args.mark, since=args.since
    ):
        for entry in page["index"]:
            emit(entry)
    return 0


def register(subparsers: Any) -> None:
    """Add ``get``, ``set``, ``delete`` and ``index`` to the ``simperium-orm`` parser."""
    conn = connection_options()

    get = subparsers.add_parser(
        "get", parents=[conn], help="print an object", description=help_text(cmd_get)
    )
    get.add_argument("bucket", metavar="BUCKET")
    get.add_argument("id", metavar="ID")
    get.add_argument("--version", type=positive_int, metavar="N", help="an earlier version")
    get.add_argument(
        "--with-version", action="store_true", help='print {"id", "v", "d"} instead of the data'
    )
    get.set_defaults(command=cmd_get)

    put = subparsers.add_parser(
        "set", parents=[conn], help="write an object", description=help_text(cmd_set)
    )
    put.add_argument("bucket", metavar="BUCKET")
    put.add_argument("id", metavar="ID")
    put.add_argument("json", metavar="JSON", help="a JSON object, or - to read it from stdin")
    put.add_argument("--replace", action="store_true", help="drop the keys not given")
    put.add_argument(
        "--base-version",
        type=positive_int,
        metavar="N",
        help="the version the data was edited from; the server merges newer changes",
    )
    put.set_defaults(command=cmd_set)

    delete = subparsers.add_parser(
        "delete", parents=[conn], help="delete an object", description=help_text(cmd_delete)
    )
    delete.add_argument("bucket", metavar="BUCKET")
    delete.add_argument("id", metavar="ID")
    delete.add_argument(
        "--version", type=positive_int, metavar="N", help="only if N is the current version"
    )
    delete.set_defaults(command=cmd_delete)

    index = subparsers.add_parser(
        "index", parents=[conn], help="list a bucket's objects", description=help_text(cmd_index)
    )
    index.add_argument("bucket", metavar="BUCKET")
    index.add_argument("--data", action="store_true", help="include each object's data")
    index.add_argument(
        "--limit", type=page_size, metavar="N", help="page size, 1-1000 (--all: default 1000)"
    )
    index.add_argument("--mark", metavar="M", help="start at this page mark")
    index.add_argument("--since", metavar="CV", help="only objects changed after this cv")
    index.add_argument(
        "--all", action="store_true", help="follow the marks: every entry as a JSON line"
    )
    index.set_defaults(command=cmd_index)


__all__ = ["cmd_delete", "cmd_get", "cmd_index", "cmd_set", "pages", "register"]
