"""The engine of ``import``: JSON lines in, batched ``POST /changes`` out, idempotently.

Each line ``{"id", "d"}`` (an export line; its ``v`` is ignored) becomes the change
``{"id", "o": "M", "v": diff({}, d), "ccid"}``, which creates the object. Where the object
already exists the server refuses that change (405 bad version, or 417/440), and the line is sent
again carrying ``d``, the whole object, which the server makes the new head. So after an import
every object holds exactly its line's data, and sending a line twice changes nothing the second
time (the server answers 412, "empty change"): a whole import can be re-run safely, and
``--skip N`` only saves the time of the lines already done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simperium_orm import jsondiff, protocol
from simperium_orm.errors import InvalidIdentifier, ProtocolError, TooLarge
from simperium_orm.protocol import check_id, new_ccid
from simperium_orm.wire.bucket import Bucket

#: Per-change errors that mean "send the whole object instead" (bad version, expectation
#: failed, invalid diff), as the official clients do.
RESEND_WITH_DATA = frozenset({405, 417, 440})
#: 412: the object already holds this data. 409: this very change was applied by an earlier
#: attempt of the same request (the transport retries with the same ccids).
ALREADY_DONE = frozenset({409, 412})


#: How input is decoded: a byte that is not UTF-8 becomes a lone surrogate U+DC80-U+DCFF,
#: which no UTF-8 text can hold, so :func:`parse` finds it and fails that line alone.
UNDECODED = "surrogateescape"
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Line:
    """One parsed input line."""

    number: int
    id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """A line that was not imported: a server error code, or why the line is unreadable."""

    number: int
    id: str | None
    error: int | str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.number, "id": self.id, "error": self.error}


@dataclass
class Tally:
    """What an import has done so far."""

    written: int = 0
    unchanged: int = 0
    failed: int = 0
    lines_done: int = 0  # every line up to this one is settled (imported, unchanged or failed)
    first_failures: list[Failure] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return self.written + self.unchanged + self.failed


def parse(number: int, text: str) -> Line | Failure:
    """Read one input line; a :class:`Failure` says what is wrong with it."""
    undecoded = _UNDECODED_BYTE.search(text)
    if undecoded:
        byte = ord(undecoded.group()) - 0xDC00
        return Failure(number, None, f"not UTF-8 (byte 0x{byte:02x} at column {undecoded.end()})")
    try:
        value = protocol.loads(text)
    except (ValueError, RecursionError) as exc:
        return Failure(number, None, f"not valid JSON ({exc})")
    if not isinstance(value, dict):
        return Failure(number, None, 'not a JSON object like {"id": ..., "d": {...}}')
    item, data = value.get("id"), value.get("d")
    if not isinstance(item, str):
        return Failure(number, None, 'no "id" string')
    try:
        check_id(item)
    except InvalidIdentifier:
        return Failure(number, item, "invalid id")
    if not isinstance(data, dict):
        return Failure(number, item, 'no "d" object')
    return Line(number, item, data)


def numbered(lines: Iterable[str], skip: int = 0) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for the non-blank lines after the first ``skip`` lines."""
    for number, text in enumerate(lines, start=1):
        if number == 1:
            text = text.removeprefix("\ufeff")
        if number > skip and text.strip():
            yield number, text


class Importer:
    """Writes batches of lines to a bucket and keeps the :class:`Tally`.

    ``on_failure`` hears about each line that was not imported, as soon as it is known.
    """

    def __init__(
        self,
        bucket: Bucket,
        *,
        batch_size: int = 500,
        on_failure: Callable[[Failure], None] = lambda failure: None,
        on_progress: Callable[[int], None] = lambda lines: None,
    ) -> None:
        self.bucket = bucket
        self.batch_size = batch_size
        self.tally = Tally()
        self._on_failure = on_failure
        self._on_progress = on_progress

    def run(self, lines: Iterable[tuple[int, str]]) -> Tally:
        """Import every numbered line, one batch in memory at a time."""
        batch: list[Line] = []
        last = self.tally.lines_done
        for number, text in lines:
            parsed = parse(number, text)
            if isinstance(parsed, Failure):
                self._fail(parsed)
            else:
                batch.append(parsed)
            last = number
            if len(batch) >= self.batch_size:
                self._settle(batch, last)
                batch = []
        self._settle(batch, last)
        return self.tally

    def _settle(self, batch: list[Line], last: int) -> None:
        if batch:
            self._send(batch)
        self._on_progress(last - self.tally.lines_done)
        self.tally.lines_done = last

    def _send(self, batch: list[Line]) -> None:
        results = self._post([_create(line) for line in batch])
        again: list[Line] = []
        for line, result in zip(batch, results, strict=True):
            code = result.get("error")
            if code in RESEND_WITH_DATA:
                again.append(line)
            else:
                self._count(line, code)
        if again:
            results = self._post([_whole(line) for line in again])
            for line, result in zip(again, results, strict=True):
                self._count(line, result.get("error"))

    def _post(self, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST the changes; a request too large for the server is split in halves."""
        try:
            results = self.bucket.bulk_post(changes)
        except TooLarge:
            if len(changes) == 1:
                return [{"id": changes[0]["id"], "error": 413}]
            half = len(changes) // 2
            return self._post(changes[:half]) + self._post(changes[half:])
        if len(results) != len(changes) or not all(isinstance(r, dict) for r in results):
            raise ProtocolError(
                f"the server answered {len(results)} results for {len(changes)} changes"
            )
        return results

    def _count(self, line: Line, code: Any) -> None:
        if code is None or code == 409:
            self.tally.written += 1
        elif code in ALREADY_DONE:
            self.tally.unchanged += 1
        else:
            self._fail(Failure(line.number, line.id, code if isinstance(code, int) else str(code)))

    def _fail(self, failure: Failure) -> None:
        self.tally.failed += 1
        if len(self.tally.first_failures) < 10:
            self.tally.first_failures.append(failure)
        self._on_failure(failure)


def _create(line: Line) -> dict[str, Any]:
    return {"id": line.id, "o": "M", "v": jsondiff.diff({}, line.data), "ccid": new_ccid()}


def _whole(line: Line) -> dict[str, Any]:
    return {**_create(line), "d": line.data}


__all__ = ["UNDECODED", "Failure", "Importer", "Line", "Tally", "numbered", "parse"]
