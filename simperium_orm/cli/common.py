"""What the data commands share: connection options, one-line errors, JSON output.

Every command function takes the parsed arguments and returns an exit status; wrap it with
:func:`command` so that failures print one line (``simperium-orm: error: ...``) on stderr and
exit 2 (bad usage) or 1 (the request failed), never a traceback, and never a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import getpass
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TextIO

from simperium_orm import protocol
from simperium_orm.client import Client, open_client
from simperium_orm.errors import (
    AuthError,
    HTTPError,
    InvalidIdentifier,
    NotFound,
    RequestTimeout,
    SimperiumError,
    TransportError,
)
from simperium_orm.protocol import ENV

PROG = "simperium-orm"

Command = Callable[[argparse.Namespace], int]

# Clients made while a command runs; :func:`command` closes their connections when it ends, so
# commands run in-process (tests, scripts calling ``main``) leave no sockets behind.
_opened: list[Client] = []


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr, with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


class CommandError(Exception):
    """The command could not do its work (exit status 1); the message is shown as is."""


#: Every connection option: its ``dest`` -> (metavar, help). ``option(dest)`` is its flag.
OPTIONS: dict[str, tuple[str | None, str]] = {
    "app_id": ("APP", "app id [SIMPERIUM_APP_ID]"),
    "token": (None, "a user's access token, or the app's admin key [SIMPERIUM_TOKEN]"),
    "api_key": ("KEY", "API key used to sign in [SIMPERIUM_API_KEY]"),
    "username": ("NAME", "user to sign in as [SIMPERIUM_USERNAME]"),
    "password": ("PW", "that user's password [SIMPERIUM_PASSWORD]"),
    "api_url": ("URL", "data server [SIMPERIUM_API_URL, SIMPERIUM_APIHOST]"),
    "auth_url": ("URL", "auth server [SIMPERIUM_AUTH_URL, SIMPERIUM_AUTHHOST]"),
    "user": ("USERID", "with an admin key: act as this user"),
}


def options(*names: str, **helps: str) -> argparse.ArgumentParser:
    """A parent parser with these connection options (``helps`` rewords some)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "connection", "options win over the environment variables named in brackets"
    )
    for name in names:
        metavar, text = OPTIONS[name]
        group.add_argument(option(name), dest=name, metavar=metavar, help=helps.get(name, text))
    return parent


def connection_options() -> argparse.ArgumentParser:
    """A parent parser with the credential and URL options every data command takes."""
    return options(*OPTIONS)


def help_text(func: Command) -> str:
    """A command function's docstring as plain text for ``--help``."""
    return (func.__doc__ or "").replace("``", "")


def _secrets(args: argparse.Namespace) -> list[str]:
    names = ("token", "api_key", "password")
    values = [getattr(args, name, None) for name in (*names, "admin_key")]
    values += [os.environ.get(getattr(ENV, name.upper())) for name in names]
    # Very short values would blank out ordinary words of the message.
    return [v for v in values if v and len(v) >= 4]


def option(name: str) -> str:
    """How a setting is given on the command line: ``app_id`` -> ``--app-id``."""
    return "--" + name.replace("_", "-")


def make_client(args: argparse.Namespace) -> Client:
    """A :class:`Client` from the options and the environment, signing in when needed.

    Who it acts as follows :func:`simperium_orm.protocol.credentials`, as ``so.connect()``
    does; the hosts follow :func:`simperium_orm.protocol.api_url` and ``auth_url``.
    """
    found = protocol.credentials(
        args.app_id,
        args.token,
        api_key=args.api_key,
        username=args.username,
        password=args.password,
    )
    if found.username and found.api_key and not (found.token or found.password):
        found = dataclasses.replace(found, password=ask_password(found.username))
    problem = found.missing(option)
    if problem:
        raise UsageError(problem)
    api_url, auth_url = hosts(args)
    try:
        client = open_client(found, api_url=api_url, auth_url=auth_url, userid=args.user)
    except AuthError as exc:
        raise CommandError(f"sign-in refused for {found.username!r} ({exc})") from None
    _opened.append(client)
    return client


def hosts(args: argparse.Namespace) -> tuple[str, str]:
    """The data and auth base URLs from ``--api-url``/``--auth-url`` and the environment."""
    try:
        api_url = protocol.api_url(args.api_url)
        return api_url, protocol.auth_url(args.auth_url, api=api_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def ask_password(username: str, *, confirm: bool = False) -> str | None:
    """The password typed at the terminal, or None when stdin is not one (nothing to ask)."""
    if not sys.stdin.isatty():
        return None
    password = getpass.getpass(f"Password for {username}: ")
    if confirm and getpass.getpass("Again: ") != password:
        raise UsageError("the passwords typed do not match")
    return password or None


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object, or a :class:`UsageError` naming ``what`` was wrong."""
    try:
        value = protocol.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


# Valid raw inside JSON strings, but line breaks to str.splitlines() and to some JSON-lines
# readers: escaped, so that one value is always one line.
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def emit(value: Any, out: TextIO | None = None, *, flush: bool = True) -> None:
    """Write ``value`` as one line of compact JSON; flushed unless told (streams are live)."""
    out = out or sys.stdout
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate is never written raw: a "surrogateescape" stream (the POSIX locale)
    # would write it as a byte that is not UTF-8, and the line would not read back.
    if _SURROGATE.search(text) or not _written(out, text.translate(_LINE_BREAKS) + "\n"):
        # The output's encoding cannot carry the text: ASCII with escapes.
        out.write(json.dumps(value, separators=(",", ":")) + "\n")
    if flush:
        out.flush()


def _written(out: TextIO, line: str) -> bool:
    try:
        out.write(line)
    except UnicodeEncodeError:
        return False
    return True


def say(message: str) -> None:
    """One informational line on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """SIGTERM arrived; raised like ``KeyboardInterrupt`` to unwind a command cleanly."""


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Turn SIGTERM into :class:`Interrupted` while the block runs (main thread only).

    SIGINT raises ``KeyboardInterrupt`` even when the process was started with it ignored
    (as a shell does for background jobs), so Ctrl-C or ``kill -INT`` always stops a command.
    """
    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, frame: object) -> None:
            raise Interrupted

        previous = signal.signal(signal.SIGTERM, handler)
        previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
    else:
        yield


def describe(exc: BaseException) -> str:
    """A one-line explanation of a library error."""
    if isinstance(exc, RequestTimeout):
        return f"the server did not answer in time ({exc})"
    if isinstance(exc, TransportError):
        return f"cannot reach the server ({exc})"
    if isinstance(exc, AuthError):
        return f"not authorized ({exc}); check the token, API key or --user"
    if isinstance(exc, NotFound):
        return f"not found ({exc})"
    if isinstance(exc, HTTPError):
        return f"the server refused the request ({exc})"
    return str(exc) or type(exc).__name__


def command(func: Command) -> Command:
    """Run a command function, turning every failure into one line and an exit status."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            with stop_signals():
                return func(args)
        except (UsageError, InvalidIdentifier) as exc:
            return _fail(args, str(exc), 2)
        except CommandError as exc:
            return _fail(args, str(exc), 1)
        except SimperiumError as exc:
            return _fail(args, describe(exc), 1)
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, as Unix tools do.
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return 0
        except OSError as exc:
            return _fail(args, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
        except (KeyboardInterrupt, Interrupted):
            return _fail(args, "interrupted", 130)
        except Exception as exc:
            # A bug, or input deeper than Python can follow: still one line, not a traceback.
            return _fail(args, f"unexpected {type(exc).__name__}: {exc}", 1)
        finally:
            while _opened:
                _opened.pop().close()

    return run


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    for secret in _secrets(args):
        message = message.replace(secret, "***")
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return status
