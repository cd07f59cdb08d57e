"""Text deltas for jsondiff's ``d`` operation, counted in UTF-16 code units.

A delta is diff-match-patch's ``diff_toDelta`` text: tab-separated tokens ``=n`` (keep n),
``-n`` (delete n) and ``+text`` (insert URI-encoded text). Simperium's JavaScript, Java and
Objective-C clients count ``n`` in UTF-16 code units, so an emoji is 2.

Making a delta runs diff-match-patch on a *units string*: the text re-spelt with one Python
character per UTF-16 code unit (each astral character becomes its surrogate pair), so the diffs
are the JavaScript client's. Only the part that changed, and a little around it, is re-spelt.

Applying and merging deltas needs no diff-match-patch. A delta is read into *edits* on code-point
positions of its base, each deleting a range and inserting a text at the range's start; the
UTF-16 counts are mapped to code points by counting astral characters, and only when the text has
any. Two deltas of one base merge edit by edit (:func:`transform`), never by fuzzy matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple
from urllib.parse import quote, unquote

from diff_match_patch import diff_match_patch

DELETE, EQUAL, INSERT = -1, 0, 1
Diffs = list[tuple[int, str]]

# One shared instance: it holds only settings, and its methods keep no state between calls.
_DMP = diff_match_patch()

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH = ("\ud800", "\udbff")
_LOW = ("\udc00", "\udfff")
_COUNT = re.compile("[0-9]+")
_BAD_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})")
# quote() always keeps letters, digits and "_.-~"; with these it keeps exactly what JavaScript's
# encodeURI keeps, plus the space that diff-match-patch's diff_toDelta turns back from %20.
_URI_SAFE = "!~*'();/?:@&=+$,# "
# Maps the third byte of a UTF-32 code point (its plane) to 1 for astral planes, 0 for the BMP.
_ASTRAL_BYTE = bytes([0] + [1] * 255)
# diff_cleanupEfficiency may merge an equality shorter than this into the edits around it.
_EDIT_COST = 4


class DeltaError(ValueError):
    """A delta that is malformed or does not fit the text it is applied to."""


# --------------------------------------------------------------------------- UTF-16 units


def _pair(match: re.Match[str]) -> str:
    code = ord(match.group()) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def to_units(text: str) -> str:
    """Spell ``text`` with one character per UTF-16 code unit (astral characters as pairs)."""
    if text.isascii() or not _ASTRAL.search(text):
        return text
    return _ASTRAL.sub(_pair, text)


def from_units(units: str) -> str:
    """Join the surrogate pairs of a units string back into characters; lone ones stay."""
    if units.isascii() or not _SURROGATE.search(units):
        return units
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of every delta count."""
    if text.isascii():
        return len(text)
    return _Text(text).units(0, len(text))


class _Text:
    """A text with the UTF-16 length of any range of its code points at hand.

    A text with no astral character counts the same in both; otherwise one byte per code point
    (1 for astral) is kept, and a range's astral characters are counted as the set bits of
    those bytes read as one integer. Both steps run in C, with no Python per character.
    """

    __slots__ = ("_astral", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._astral: bytes | None = None
        if not text.isascii() and _ASTRAL.search(text):
            utf32 = text.encode("utf-32-le", "surrogatepass")
            self._astral = utf32[2::4].translate(_ASTRAL_BYTE)

    def units(self, start: int, end: int) -> int:
        """UTF-16 length of ``text[start:end]``."""
        if self._astral is None or end <= start:
            return max(end - start, 0)
        return end - start + int.from_bytes(self._astral[start:end], "little").bit_count()

    def advance(self, start: int, n: int) -> int:
        """The code point ``n`` UTF-16 units after ``start``; -1 if that is inside a pair."""
        size = len(self.text)
        end = min(start + n, size)
        if self._astral is None:
            if start + n > size:
                raise self._past_end()
            return end
        got = self.units(start, end)
        while got > n:
            # Each character is 1 or 2 units: stepping back (excess + 1) // 2 characters
            # leaves at most one unit short, and only when the next character is astral.
            back = end - (got - n + 1) // 2
            got -= self.units(back, end)
            end = back
        if got == n:
            return end
        if got == n - 1 and end < size:
            return -1
        raise self._past_end()

    def _past_end(self) -> DeltaError:
        total = self.units(0, len(self.text))
        return DeltaError(f"delta runs past the end of the text ({total} UTF-16 code units)")


# ------------------------------------------------------------------------- making deltas


def _is_high(ch: str) -> bool:
    return _HIGH[0] <= ch <= _HIGH[1]


def _is_low(ch: str) -> bool:
    return _LOW[0] <= ch <= _LOW[1]


def _keep_pairs_whole(diffs: Diffs) -> Diffs:
    """Move diff boundaries that fall inside a surrogate pair to just outside it.

    diff-match-patch may keep the shared high surrogate of two different emoji as equal text;
    the delta would then insert a lone low surrogate, which encodeURI cannot spell. Each edit
    absorbs the half pair on either side of it instead (the equal text around it shrinks).
    """
    # Segments of [equal text, deleted text, inserted text], in order.
    segments: list[list[str]] = [["", "", ""]]
    for op, text in diffs:
        if op == EQUAL:
            if segments[-1][1] or segments[-1][2]:
                segments.append([text, "", ""])
            else:
                segments[-1][0] += text
        else:
            segments[-1][1 if op == DELETE else 2] += text
    merged: list[list[str]] = []
    for seg in segments:
        equal = seg[0]
        if merged and equal and _is_low(equal[0]):
            merged[-1][1] += equal[0]
            merged[-1][2] += equal[0]
            equal = equal[1:]
        if (seg[1] or seg[2]) and equal and _is_high(equal[-1]):
            seg[1], seg[2] = equal[-1] + seg[1], equal[-1] + seg[2]
            equal = equal[:-1]
        if merged and not equal:
            # The equal text between two edits is gone: they become one edit.
            merged[-1][1] += seg[1]
            merged[-1][2] += seg[2]
        else:
            merged.append([equal, seg[1], seg[2]])
    out: Diffs = []
    for equal, deleted, inserted in merged:
        out.extend(
            (op, t) for op, t in ((EQUAL, equal), (DELETE, deleted), (INSERT, inserted)) if t
        )
    return out


def unit_diffs(old_units: str, new_units: str) -> Diffs:
    """Diff two units strings as jsondiff does, with no boundary inside a surrogate pair."""
    diffs: Diffs = _DMP.diff_main(old_units, new_units)
    if len(diffs) > 2:
        _DMP.diff_cleanupEfficiency(diffs)
    return _keep_pairs_whole(diffs)


def _insert_token(text: str) -> str | None:
    """``+text`` URI-encoded as encodeURI does; None for a lone surrogate, which has no UTF-8."""
    if _SURROGATE.search(text):
        return None
    return "+" + quote(text, safe=_URI_SAFE)


def encode(diffs: Diffs) -> str | None:
    """Write unit diffs as delta text; None if an insert holds a lone surrogate.

    A lone surrogate has no UTF-8 spelling (encodeURI throws on one), so such a change can
    only travel as the whole new value.
    """
    parts = []
    for op, units in diffs:
        if op == INSERT:
            token = _insert_token(from_units(units))
            if token is None:
                return None
            parts.append(token)
        else:
            parts.append(("=" if op == EQUAL else "-") + str(len(units)))
    return "\t".join(parts)


def make_delta(old: str, new: str) -> str | None:
    """The delta that turns ``old`` into ``new``: ``""`` when they are one UTF-16 text, None
    if it cannot be spelt (an inserted lone surrogate).

    It is the delta diff-match-patch makes of the two whole units strings. Only the middle that
    differs, with some common text on either side, is re-spelt and diffed: an edit slides only
    into an equality no longer than itself, and an equality of ``_EDIT_COST`` or more is never
    merged into its edits, so more common text would change nothing.
    """
    if old == new:
        return ""
    head = _DMP.diff_commonPrefix(old, new)
    tail = _DMP.diff_commonSuffix(old[head:], new[head:])
    keep = 2 * (max(len(old), len(new)) - head - tail) + _EDIT_COST
    skip_head, skip_tail = max(0, head - keep), max(0, tail - keep)
    old_units = to_units(old[skip_head : len(old) - skip_tail])
    new_units = to_units(new[skip_head : len(new) - skip_tail])
    if old_units == new_units:
        return ""  # one UTF-16 text, only split into code points differently
    body = encode(unit_diffs(old_units, new_units))
    if body is None:
        return None
    if skip_head:
        body = _keep_more(f"={utf16_len(old[:skip_head])}", body)
    if skip_tail:
        body = _keep_more(body, f"={utf16_len(old[len(old) - skip_tail :])}")
    return body


def _keep_more(first: str, second: str) -> str:
    """Two deltas one after the other, a kept run ending one and starting the other as one."""
    before, _tab, last = first.rpartition("\t")
    after = second.split("\t", 1)
    if last.startswith("=") and after[0].startswith("="):
        joined = f"={int(last[1:]) + int(after[0][1:])}"
        return "\t".join([*([before] if before else []), joined, *after[1:]])
    return f"{first}\t{second}"


# ------------------------------------------------------------------------ reading deltas


def check_syntax(delta: str) -> None:
    """Raise DeltaError unless every token of ``delta`` is well formed (lengths unchecked)."""
    for _kind, _param in _tokens(delta):
        pass


def _token(token: str) -> tuple[str, str | int]:
    """A token's kind and its parameter: the inserted text, or the count."""
    kind, param = token[0], token[1:]
    if kind == "+":
        if _BAD_ESCAPE.search(param):
            raise DeltaError(f"inserted text {param!r} has a malformed %-escape")
        try:
            return kind, unquote(param, errors="strict")
        except UnicodeDecodeError:
            raise DeltaError(f"inserted text {param!r} is not UTF-8 once unescaped") from None
    if kind in ("=", "-"):
        if not _COUNT.fullmatch(param):
            raise DeltaError(f"delta token {token!r} needs a non-negative count")
        return kind, int(param)
    raise DeltaError(f"delta token {token!r} starts with {kind!r}, not '=', '-' or '+'")


def _tokens(delta: str) -> Iterator[tuple[str, str | int]]:
    for token in delta.split("\t"):
        if token:  # an empty delta, or a trailing tab, as diff-match-patch allows
            yield _token(token)


def decode(base_units: str, delta: str) -> Diffs:
    """Read ``delta`` against the units string it was made from (diff_fromDelta)."""
    diffs: Diffs = []
    pos = 0
    for kind, param in _tokens(delta):
        if isinstance(param, str):
            diffs.append((INSERT, to_units(param)))
            continue
        end = pos + param
        if end > len(base_units):
            raise DeltaError(
                f"delta runs past the end of the text ({len(base_units)} UTF-16 code units)"
            )
        diffs.append((EQUAL if kind == "=" else DELETE, base_units[pos:end]))
        pos = end
    if pos != len(base_units):
        raise DeltaError(f"delta covers {pos} of the text's {len(base_units)} UTF-16 code units")
    return diffs


class Edit(NamedTuple):
    """Delete ``text[start:end]`` and insert ``inserted`` there (code points, and UTF-16)."""

    start: int
    end: int
    ustart: int
    uend: int
    inserted: str


def _read(base: _Text, ops: Iterable[tuple[str, str | int]]) -> tuple[list[Edit], int] | None:
    """The edits of a delta's tokens and the text's UTF-16 length; None if a count ends inside
    a surrogate pair. Each maximal run of tokens other than a non-zero ``=`` is one edit."""
    edits: list[Edit] = []
    pos = upos = 0
    start = ustart = -1
    inserted: list[str] = []
    for kind, param in ops:
        if isinstance(param, str):
            if start < 0:
                start, ustart = pos, upos
            inserted.append(param)
            continue
        if not param:
            continue
        end = base.advance(pos, param)
        if end < 0:
            return None
        if kind == "-":
            if start < 0:
                start, ustart = pos, upos
        elif start >= 0:
            if start < pos or any(inserted):
                edits.append(Edit(start, pos, ustart, upos, "".join(inserted)))
            start, inserted = -1, []
        pos, upos = end, upos + param
    if start >= 0 and (start < pos or any(inserted)):
        edits.append(Edit(start, pos, ustart, upos, "".join(inserted)))
    if pos != len(base.text):
        total = base.units(0, len(base.text))
        raise DeltaError(f"delta covers {upos} of the text's {total} UTF-16 code units")
    return edits, upos


def edits(base: _Text, delta: str) -> tuple[list[Edit], int]:
    """The edits ``delta`` makes to ``base``, on whole characters, and its UTF-16 length.

    A peer's delta may count to between the halves of a surrogate pair (say, keep the high half
    of one emoji and delete the low half and the next high half). Such a delta is read unit by
    unit, and each of its edits grows to the whole characters it cuts: the pair is deleted and
    its kept half inserted again, so the result is the same text.
    """
    read = _read(base, _tokens(delta))
    if read is not None:
        return read
    diffs = _keep_pairs_whole(decode(to_units(base.text), delta))
    ops = [
        ("+", from_units(t)) if op == INSERT else ("=" if op == EQUAL else "-", len(t))
        for op, t in diffs
    ]
    read = _read(base, ops)
    if read is None:  # pragma: no cover - edits of whole pairs end between characters
        raise DeltaError("delta splits a surrogate pair")
    return read


def _join(text: str, changes: list[Edit]) -> str:
    out: list[str] = []
    pos = 0
    for edit in changes:
        out += (text[pos : edit.start], edit.inserted)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def apply_delta(base: str, delta: str) -> str:
    """Apply ``delta`` to the text it was made from.

    jsondiff spells this diff_fromDelta, patch_make, then a fuzzy patch_apply onto the same
    text; on the delta's own base every patch matches exactly, so the new text is simply the
    kept and inserted pieces in order.
    """
    return _join(base, edits(_Text(base), delta)[0])


# ------------------------------------------------------------------------------- merging


class Merge(NamedTuple):
    """Two concurrent deltas of one text, merged."""

    delta: str | None  # a's edits as a delta of after_b; None if nothing or not spellable
    text: str  # the merged text: after_b with a's edits, or after_a with b's
    after_a: str
    after_b: str


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
    after_a, after_b = _join(base, a_edits), _join(base, b_edits)
    a_at = {edit.start: edit for edit in a_edits}
    b_at = {edit.start: edit for edit in b_edits}
    unit_at = {0: 0, len(base): total}
    for edit in (*a_edits, *b_edits):
        unit_at[edit.start], unit_at[edit.end] = edit.ustart, edit.uend
    points = sorted(unit_at)
    # a's edits as a delta of after_b: [op, UTF-16 count] to keep or delete, [INSERT, text].
    ops: list[list[int | str]] = []
    merged: list[str] = []

    def emit(op: int, value: int | str) -> None:
        if ops and ops[-1][0] == op:
            ops[-1][1] += value  # type: ignore[operator]  # int + int, or str + str
        else:
            ops.append([op, value])

    ia = ib = 0
    for i, point in enumerate(points):
        mine, theirs = a_at.get(point), b_at.get(point)
        here = [edit for edit in (mine, theirs) if edit is not None and edit.inserted]
        if len(here) == 2 and here[0].inserted == here[1].inserted:
            del here[0]  # the same text at one place by both: once, as b has it already
        for edit in sorted(here, key=_order):
            if edit is mine:
                emit(INSERT, edit.inserted)
            else:
                emit(EQUAL, utf16_len(edit.inserted))
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
        if ia < len(a_edits) and a_edits[ia].start <= point:
            emit(DELETE, unit_at[nxt] - unit_at[point])
        else:
            emit(EQUAL, unit_at[nxt] - unit_at[point])
            merged.append(base[point:nxt])
    return Merge(_write(ops), "".join(merged), after_a, after_b)


def _write(ops: list[list[int | str]]) -> str | None:
    """Delta text of merged ops; None if they change nothing or insert a lone surrogate."""
    if all(op == EQUAL for op, _value in ops):
        return None
    parts: list[str] = []
    for op, value in ops:
        if op == INSERT:
            assert isinstance(value, str)
            token = _insert_token(value)
            if token is None:
                return None
            parts.append(token)
        elif value:
            parts.append(f"{'=' if op == EQUAL else '-'}{value}")
    return "\t".join(parts)
