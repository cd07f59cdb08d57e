"""The ``simperium-orm`` command line: ``main`` plus one module per command group.

``main`` parses and dispatches; ``common`` holds the connection options, output and error
handling every command shares; ``serve``, ``user`` (create), ``data`` (get/set/delete/index),
``listen`` and ``transfer`` (export/import, with ``importer`` doing the batching) each register
their commands.
"""

from simperium_orm.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
