"""The table of docs/listener.md, row by row, in both modes, against the local server.

Each row says what an object was before a round (``new``; ``heard``: created in a round the
listener heard; ``unheard``: created before the listener started), the changes of one round
(``(own)``: through the listener's own client) and the signals each mode sends. The test plays
the round, polls once, and checks the signals in order, each instance against the object's data
at that version as the server acknowledged it, and that no data is read where ghosts suffice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.listener_support import Todo, recording

DOC = Path(__file__).resolve().parents[3] / "docs" / "listener.md"
SIGNAL = re.compile(r"(created|updated|deleted) v(\d+)(?: \{([^}]*)\})?")


@dataclass(frozen=True)
class Row:
    before: str
    changes: list[str]
    per_version: list[tuple[str, int, frozenset[str]]]
    coalesced: list[tuple[str, int, frozenset[str]]]

    @property
    def id(self) -> str:
        return f"{self.before}: {', '.join(self.changes)}"


def signals_in(cell: str) -> list[tuple[str, int, frozenset[str]]]:
    if cell == "nothing":
        return []
    found = [
        (kind, int(version), frozenset(f.strip() for f in (fields or "").split(",") if f.strip()))
        for kind, version, fields in SIGNAL.findall(cell)
    ]
    assert SIGNAL.sub("", cell).replace(",", "").strip() == "", f"cannot read {cell!r}"
    return found


def table_rows() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- versions:table -->")[1].split("<!-- /versions:table -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        before, changes, per_version, coalesced = (c.strip() for c in line.strip("|").split("|"))
        rows.append(
            Row(
                before,
                [c.strip() for c in changes.split(",")],
                signals_in(per_version),
                signals_in(coalesced.strip("`")),
            )
        )
    return rows


ROWS = table_rows()


def test_the_table_is_there() -> None:
    assert len(ROWS) >= 12
    assert {row.before for row in ROWS} == {"new", "heard", "unheard"}


def data_reads(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The GET requests of the listener other than its long-polls."""
    requests = [r.getMessage().split(" ")[:2] for r in caplog.records]
    return [path for verb, path in requests if verb == "GET" and "/changes" not in path]


@pytest.mark.parametrize("coalesce", [False, True], ids=["per-version", "coalesce"])
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_row(
    local_server: SimperiumServer, row: Row, coalesce: bool, caplog: pytest.LogCaptureFixture
) -> None:
    token = local_server.create_user()
    mine, phone = local_server.client(token), local_server.client(token)
    truth: dict[int, dict[str, Any]] = {}

    def play(change: str) -> None:
        op, own = change.removesuffix(" (own)"), change.endswith(" (own)")
        bucket = (mine if own else phone).bucket("todo")
        if op == "delete":
            bucket.delete("x")
            return
        data = {"create": {"title": "new"}, "set title": {"title": f"title {len(truth)}"}}.get(
            op, {"done": not truth[max(truth)].get("done", False)} if op == "set done" else None
        )
        assert data is not None, f"unknown change {change!r}"
        document = bucket.write("x", data)
        truth[document.version] = dict(document.data)

    if row.before == "unheard":
        play("create")
    listener = so.Listener(Todo, client=mine, coalesce=coalesce)
    if row.before == "heard":
        play("create")
        with recording():
            assert [e.kind for e in listener.poll()] == ["created"]
    for change in row.changes:
        play(change)
    with recording() as rec, caplog.at_level("DEBUG", logger="simperium_orm.http"):
        events = listener.poll()
    expected = row.coalesced if coalesce else row.per_version
    # changed_fields is a keyword of remote_updated only: the table names it for those.
    got = [(e.kind, e.version, e.changed_fields if e.kind == "updated" else set()) for e in events]
    assert got == expected
    assert [h.signal for h in rec.heard] == [f"remote_{e.kind}" for e in events]
    for event in events:
        if event.kind != "deleted":
            assert isinstance(event.instance, Todo) and event.version is not None
            assert event.instance.version == event.version
            data = truth[event.version]
            assert (event.instance.title, event.instance.done) == (
                data["title"],
                data.get("done", False),
            )
    reads = data_reads(caplog)
    assert len(reads) <= (1 if row.before == "unheard" else 0), reads
    with recording():
        assert listener.poll() == []  # each version once
    mine.close()
    phone.close()
