"""``export`` and ``import``: a bucket as JSON lines ``{"id", "v", "d"}``, and back.

``export`` walks the index a page at a time (1000 objects with their data per request), so its
memory does not grow with the bucket. ``import`` is described in :mod:`simperium_orm.cli.importer`.
Progress bars (tqdm) are drawn on stderr only when it is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from simperium_orm.cli.common import (
    CommandError,
    Interrupted,
    command,
    connection_options,
    describe,
    emit,
    help_text,
    make_client,
    say,
)
from simperium_orm.cli.data import pages, positive_int
from simperium_orm.cli.importer import UNDECODED, Importer, Tally, numbered
from simperium_orm.errors import ProtocolError, SimperiumError


def progress(enabled: bool, unit: str, total: int | None = None, initial: int = 0) -> Any:
    """A tqdm bar on stderr, or a stand-in that ignores updates."""
    if not (enabled and sys.stderr.isatty()):
        return contextlib.nullcontext(_NoBar())
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]  # only loaded for a bar
    except ImportError:  # the "cli" extra is not installed: no bar, same work
        return contextlib.nullcontext(_NoBar())

    return tqdm(
        total=total,
        initial=initial,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
    )


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


@command
def cmd_export(args: argparse.Namespace) -> int:
    """Write every object of a bucket to stdout, one ``{"id", "v", "d"}`` line each."""
    bucket = make_client(args).bucket(args.bucket)
    out = sys.stdout
    with progress(args.progress, " objects") as bar:
        for page in pages(bucket, data=True, limit=1000):
            for entry in page["index"]:
                if not isinstance(entry.get("d"), dict):
                    raise ProtocolError(f"the index sent no data for {entry.get('id')!r}")
                emit({"id": entry["id"], "v": entry["v"], "d": entry["d"]}, out, flush=False)
            out.flush()
            bar.update(len(page["index"]))
    return 0


@contextlib.contextmanager
def _input(path: str) -> Iterator[TextIO]:
    # Read UTF-8 whatever the locale says: export wrote UTF-8. A byte that is not UTF-8 is
    # kept as an escape (surrogateescape), so its line fails alone (importer.parse) and the
    # rest goes on.
    if path != "-":
        with open(path, encoding="utf-8", errors=UNDECODED) as stream:
            yield stream
    elif hasattr(sys.stdin, "buffer"):
        wrapper = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors=UNDECODED)
        try:
            yield wrapper
        finally:
            wrapper.detach()  # closing the wrapper would close stdin itself
    else:
        yield sys.stdin


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def _summary(tally: Tally) -> str:
    shown = ", ".join(
        f"{f.id or 'line ' + str(f.number)} ({f.error})" for f in tally.first_failures
    )
    more = tally.failed - len(tally.first_failures)
    return f"{shown}, and {more} more" if more > 0 else shown


@command
def cmd_import(args: argparse.Namespace) -> int:
    """Write each ``{"id", "d"}`` line of FILE (or stdin) to a bucket as that object's data."""
    bucket = make_client(args).bucket(args.bucket)
    total = _count_lines(args.file) if args.progress and sys.stderr.isatty() else None
    with progress(args.progress, " lines", total, args.skip) as bar, _input(args.file) as stream:
        importer = Importer(
            bucket,
            batch_size=args.batch,
            on_failure=lambda failure: emit(failure.as_json()),
            on_progress=bar.update,
        )
        importer.tally.lines_done = args.skip
        resume = "add --skip {0} to the same command to go on from there"
        try:
            tally = importer.run(numbered(stream, args.skip))
        except (KeyboardInterrupt, Interrupted):
            done = importer.tally.lines_done
            say(f"interrupted: the first {done} lines are done; " + resume.format(done))
            return 130
        except SimperiumError as exc:
            done = importer.tally.lines_done
            raise CommandError(
                f"{describe(exc)}; the first {done} lines are done: " + resume.format(done)
            ) from None
    if tally.failed:
        raise CommandError(
            f"{tally.failed} of {tally.objects} objects were not imported into "
            f"{bucket.name!r}: {_summary(tally)}"
        )
    say(
        f"imported {tally.objects} objects into {bucket.name!r} "
        f"({tally.written} written, {tally.unchanged} already up to date)"
    )
    return 0


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return positive_int(text) if text.strip() not in ("0", "+0", "-0") else 0


def batch_size(text: str) -> int:
    """An argparse type: changes per request, 1 to 1000."""
    value = positive_int(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"must be at most 1000, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``export`` and ``import`` to the ``simperium-orm`` parser."""
    conn = connection_options()
    export = subparsers.add_parser(
        "export",
        parents=[conn],
        help="write a bucket as JSON lines",
        description=help_text(cmd_export),
    )
    export.add_argument("bucket", metavar="BUCKET")
    export.set_defaults(command=cmd_export)

    imp = subparsers.add_parser(
        "import",
        parents=[conn],
        help="write JSON lines to a bucket",
        description=help_text(cmd_import),
    )
    imp.add_argument("bucket", metavar="BUCKET")
    imp.add_argument("file", metavar="FILE", nargs="?", default="-", help="default: stdin")
    imp.add_argument(
        "--batch", type=batch_size, default=500, metavar="N", help="changes per request (500)"
    )
    imp.add_argument(
        "--skip",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="start after the first N lines",
    )
    imp.set_defaults(command=cmd_import)

    for parser in (export, imp):
        parser.add_argument(
            "--no-progress", dest="progress", action="store_false", help="never draw a bar"
        )


__all__ = ["cmd_export", "cmd_import", "progress", "register"]
