"""The ``simperium-orm`` command (also ``python -m simperium_orm``).

Each command group is a module of this package with its ``cmd_<name>`` functions and a
``register(subparsers)``; ``build_parser`` gathers them and ``main`` dispatches.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that importing this module stays cheap.
    from simperium_orm.cli import data as cli_data
    from simperium_orm.cli import listen as cli_listen
    from simperium_orm.cli import replica as cli_replica
    from simperium_orm.cli import serve as cli_serve
    from simperium_orm.cli import transfer as cli_transfer
    from simperium_orm.cli import user as cli_user
    from simperium_orm.cli.common import Parser

    parser: argparse.ArgumentParser = Parser(
        prog="simperium-orm", description="Tools for apps built on Simperium."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (cli_serve, cli_user, cli_data, cli_listen, cli_transfer, cli_replica):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help()
        return 2
    return command(args)
