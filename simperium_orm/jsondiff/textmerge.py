"""Merging two concurrent text deltas of one base exactly, by position (pure).

Both deltas are read as edits of the same known base (text.py); the edits are merged by where
they fall: what either side deleted is gone once, every insert survives whole and once, at one
place inserts go in one fixed order whichever side is first, and positions are whole characters.
"""

from __future__ import annotations

from .text import Edit, _insert_token, _Text, edits, utf16_len

__all__ = ["Merge", "transform"]


class Merge:
    """Two concurrent deltas of one text, merged; the merged text is built only if asked for."""

    __slots__ = ("_b_pieces", "_pieces", "delta")

    def __init__(self, delta: str | None, pieces: list[str], b_pieces: list[str]) -> None:
        self.delta = delta  # a's edits as a delta of after_b; None if none, or not spellable
        # The merged text and b's, in pieces; a piece in both is one object in both lists.
        self._pieces, self._b_pieces = pieces, b_pieces

    @property
    def text(self) -> str:
        """The merged text: after_b with a's edits (and after_a with b's)."""
        return "".join(self._pieces)

    def adds_nothing(self) -> bool:
        """Whether the merged text is b's text: a's edits are all in it already."""
        mine, theirs = self._pieces, self._b_pieces
        head = 0  # pieces both texts begin with, and end with, need no comparing
        while head < min(len(mine), len(theirs)) and mine[head] is theirs[head]:
            head += 1
        tail = 0
        while tail < min(len(mine), len(theirs)) - head and mine[-1 - tail] is theirs[-1 - tail]:
            tail += 1
        mine, theirs = mine[head : len(mine) - tail], theirs[head : len(theirs) - tail]
        return sum(map(len, mine)) == sum(map(len, theirs)) and "".join(mine) == "".join(theirs)


def _order(edit: Edit) -> tuple[bool, str]:
    # At one place, an insert that replaces nothing goes before one that replaces text (it was
    # put before the text the other replaces); otherwise the lower text goes first.
    return edit.end > edit.start, edit.inserted


def transform(base: str, a: str, b: str) -> Merge:
    """Merge deltas ``a`` and ``b`` of ``base`` by position, the same whichever is which.

    A character either side deleted is deleted once; every inserted text comes out whole,
    including one inside a range the other side deleted; inserts at one place come out in the
    order of :func:`_order`, and the same text inserted at one place by both comes out once.
    Positions are code points, so no edit ever lands between the halves of a surrogate pair.
    """
    text = _Text(base)
    a_edits, total = edits(text, a)
    b_edits, _total = edits(text, b)
    a_at = {edit.start: edit for edit in a_edits}
    b_at = {edit.start: edit for edit in b_edits}
    unit_at = {0: 0, len(base): total}
    for edit in (*a_edits, *b_edits):
        unit_at[edit.start], unit_at[edit.end] = edit.ustart, edit.uend
    points = sorted(unit_at)
    out = _DeltaWriter()  # a's edits as a delta of after_b
    merged: list[str] = []
    b_text: list[str] = []  # after_b
    ia = ib = 0
    for i, point in enumerate(points):
        mine, theirs = a_at.get(point), b_at.get(point)
        here = [edit for edit in (mine, theirs) if edit is not None and edit.inserted]
        if len(here) == 2 and here[0].inserted == here[1].inserted:
            del here[0]  # the same text at one place by both: once, as b has it already
        for edit in sorted(here, key=_order):
            if edit is mine:
                out.insert(edit)
            else:
                out.count("=", utf16_len(edit.inserted))
                b_text.append(edit.inserted)
            merged.append(edit.inserted)
        if i + 1 == len(points):
            break
        nxt = points[i + 1]
        while ia < len(a_edits) and a_edits[ia].end <= point:
            ia += 1
        while ib < len(b_edits) and b_edits[ib].end <= point:
            ib += 1
        if ib < len(b_edits) and b_edits[ib].start <= point:
            continue  # b deleted it
        piece = base[point:nxt]
        b_text.append(piece)
        if ia < len(a_edits) and a_edits[ia].start <= point:
            out.count("-", unit_at[nxt] - unit_at[point])
        else:
            out.count("=", unit_at[nxt] - unit_at[point])
            merged.append(piece)
    return Merge(out.text(), merged, b_text)


class _DeltaWriter:
    """Writes delta tokens, adding up neighbouring counts of one kind."""

    __slots__ = ("changes", "counted", "kind", "parts", "spellable")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kind, self.counted = "", 0
        self.changes = False  # anything deleted or inserted
        self.spellable = True  # False once an insert holds a lone surrogate

    def count(self, kind: str, n: int) -> None:
        if not n:
            return
        if kind != self.kind:
            self._flush()
            self.kind = kind
        self.counted += n
        self.changes = self.changes or kind == "-"

    def insert(self, edit: Edit) -> None:
        self._flush()
        token = edit.spelt if edit.spelt is not None else _insert_token(edit.inserted)
        if token is None:
            self.spellable = False
        else:
            self.parts.append(token)
            self.changes = True

    def _flush(self) -> None:
        if self.kind:
            self.parts.append(f"{self.kind}{self.counted}")
        self.kind, self.counted = "", 0

    def text(self) -> str | None:
        """The delta; None if it changes nothing or cannot be spelt."""
        self._flush()
        return "\t".join(self.parts) if self.changes and self.spellable else None
