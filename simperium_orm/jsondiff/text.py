"""Text deltas for jsondiff's ``d`` operation, counted in UTF-16 code units.

A delta is diff-match-patch's ``diff_toDelta`` text: tab-separated tokens ``=n`` (keep n),
``-n`` (delete n) and ``+text`` (insert URI-encoded text). Simperium's JavaScript, Java and
Objective-C clients count ``n`` in UTF-16 code units, so an emoji is 2.

Making a delta runs diff-match-patch on the code points of the changed middle of the texts and
writes each count in UTF-16 units. Applying and merging deltas needs no diff-match-patch: a
delta is read into *edits* on code-point positions of its base, each deleting a range and
inserting a text at the range's start. UTF-16 counts map to code points by counting the astral
characters in between, and only in a text that has any. Two deltas of one base merge edit by
edit (:func:`transform`), never by fuzzy matching, and never between the halves of a pair.

A *units string* (:func:`to_units`) spells a text with one Python character per UTF-16 code unit;
it is used only to read a peer's delta whose counts cut a surrogate pair.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import re
from collections.abc import Iterable
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
# Code points per block of a text's table of UTF-16 offsets (see _Text).
_BLOCK = 8192
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
    return _Text(text).size


class _Text:
    """A text whose UTF-16 offsets map to code-point offsets.

    A text with no astral character counts the same in both. Otherwise one byte per code point
    (1 for astral) is kept, and a range's astral characters are counted as the set bits of
    those bytes read as one integer, in C with no Python per character. The UTF-16 offset of
    every ``_BLOCK``-th code point is kept too, so finding an offset counts within one block.
    """

    __slots__ = ("_astral", "_blocks", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._astral: bytes | None = None
        self._blocks: list[int] = []
        if text.isascii() or not _ASTRAL.search(text):
            return
        astral = text.encode("utf-32-le", "surrogatepass")[2::4].translate(_ASTRAL_BYTE)
        self._astral = astral
        offset = 0
        for start in range(0, len(text), _BLOCK):
            self._blocks.append(offset)
            chunk = astral[start : start + _BLOCK]
            offset += len(chunk) + int.from_bytes(chunk, "little").bit_count()
        self._blocks.append(offset)

    @property
    def size(self) -> int:
        """Length in UTF-16 code units."""
        return self._blocks[-1] if self._astral is not None else len(self.text)

    def units(self, start: int, end: int) -> int:
        """UTF-16 length of ``text[start:end]``."""
        if self._astral is None or end <= start:
            return max(end - start, 0)
        return end - start + int.from_bytes(self._astral[start:end], "little").bit_count()

    def advance(self, start: int, ustart: int, n: int) -> int:
        """The code point ``n`` UTF-16 units after code point ``start`` (at unit ``ustart``);
        -1 if that falls between the halves of a surrogate pair."""
        target = ustart + n
        if target > self.size:
            total = self.size
            raise DeltaError(f"delta runs past the end of the text ({total} UTF-16 code units)")
        if self._astral is None:
            return start + n
        block = bisect.bisect_right(self._blocks, target) - 1
        if block * _BLOCK > start:
            start, ustart = block * _BLOCK, self._blocks[block]
        want = target - ustart
        end = min(start + want, len(self.text))
        got = self.units(start, end)
        while got > want:
            # Each character is 1 or 2 units: stepping back (excess + 1) // 2 characters
            # leaves at most one unit short, and only when the next character is astral.
            back = end - (got - want + 1) // 2
            got -= self.units(back, end)
            end = back
        return end if got == want else -1


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


def _insert_token(text: str) -> str | None:
    """``+text`` URI-encoded as encodeURI does; None for a lone surrogate, which has no UTF-8."""
    if not text.isascii() and _SURROGATE.search(text):
        text = from_units(text)  # halves of one pair, split by _keep_pairs_whole, join again
        if _SURROGATE.search(text):
            return None
    return "+" + quote(text, safe=_URI_SAFE)


def make_delta(old: str, new: str) -> str | None:
    """The delta that turns ``old`` into ``new``: ``""`` when they are one UTF-16 text, None
    if it cannot be spelt (an inserted lone surrogate has no UTF-8, and encodeURI throws).

    diff-match-patch diffs code points (an emoji is one character to it) and the counts are
    then written in UTF-16 units. Only the middle that differs, with some common text on
    either side, is diffed: an edit slides only into an equality no longer than itself, and an
    equality of ``_EDIT_COST`` or more is never merged into its edits, so the delta is the one
    diff-match-patch makes of the whole texts.
    """
    if old == new:
        return ""
    head = _DMP.diff_commonPrefix(old, new)
    tail = _DMP.diff_commonSuffix(old[head:], new[head:])
    keep = max(len(old), len(new)) - head - tail + _EDIT_COST
    skip_head, skip_tail = max(0, head - keep), max(0, tail - keep)
    old_middle = old[skip_head : len(old) - skip_tail]
    new_middle = new[skip_head : len(new) - skip_tail]
    odd = not (old_middle + new_middle).isascii() and _SURROGATE.search(old_middle + new_middle)
    if odd and to_units(old_middle) == to_units(new_middle):
        return ""  # one UTF-16 text, only split into code points differently
    diffs: Diffs = _DMP.diff_main(old_middle, new_middle)
    if len(diffs) > 2:
        _DMP.diff_cleanupEfficiency(diffs)
    if odd:
        diffs = _keep_pairs_whole(diffs)  # lone surrogates that are halves of one pair
    parts = [f"={utf16_len(old[:skip_head])}"] if skip_head else []
    for op, text in diffs:
        if op == INSERT:
            token = _insert_token(text)
            if token is None:
                return None
            parts.append(token)
        else:
            parts.append(f"{'=' if op == EQUAL else '-'}{utf16_len(text)}")
    if skip_tail:
        parts.append(f"={utf16_len(old[len(old) - skip_tail :])}")
    return "\t".join(_join_kept(parts))


def _join_kept(parts: list[str]) -> list[str]:
    """The tokens with neighbouring ``=n`` tokens added into one."""
    out: list[str] = []
    for part in parts:
        if out and part[0] == "=" and out[-1][0] == "=":
            out[-1] = f"={int(out[-1][1:]) + int(part[1:])}"
        else:
            out.append(part)
    return out


# ------------------------------------------------------------------------ reading deltas


def check_syntax(delta: str) -> None:
    """Raise DeltaError unless every token of ``delta`` is well formed (lengths unchecked)."""
    _parse(delta)


def _unescape(param: str) -> str:
    """The text of an insert token, every %XX escape decoded as UTF-8."""
    if "%" not in param:
        return param
    try:
        if param.isascii():
            # As \xXX escapes, codecs decodes them all in C (unquote loops in Python); a
            # malformed one raises ValueError.
            doubled = param.replace("\\", "\\\\") if "\\" in param else param
            escaped = doubled.replace("%", "\\x").encode("ascii")
            return codecs.escape_decode(escaped)[0].decode("utf-8")
        if _BAD_ESCAPE.search(param):
            raise ValueError("malformed")
        return unquote(param, errors="strict")
    except UnicodeDecodeError:
        raise DeltaError(f"inserted text {param!r} is not UTF-8 once unescaped") from None
    except ValueError:
        raise DeltaError(f"inserted text {param!r} has a malformed %-escape") from None


Token = tuple[str, "str | int", str]  # kind, the inserted text or the count, the token


def _token(token: str) -> Token:
    """A token's kind, its parameter (the inserted text, or the count) and the token itself."""
    kind, param = token[0], token[1:]
    if kind == "+":
        return kind, _unescape(param), token
    if kind in ("=", "-"):
        if not _COUNT.fullmatch(param):
            raise DeltaError(f"delta token {token!r} needs a non-negative count")
        return kind, int(param), token
    raise DeltaError(f"delta token {token!r} starts with {kind!r}, not '=', '-' or '+'")


@functools.lru_cache(maxsize=32)
def _parse(delta: str) -> tuple[Token, ...]:
    """The tokens of a delta, read once: checking a diff and then applying or merging it
    reads each delta twice."""
    # An empty delta, or a trailing tab, as diff-match-patch allows.
    return tuple(_token(token) for token in delta.split("\t") if token)


def decode(base_units: str, delta: str) -> Diffs:
    """Read ``delta`` against the units string it was made from (diff_fromDelta)."""
    diffs: Diffs = []
    pos = 0
    for kind, param, _token_text in _parse(delta):
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
    spelt: str | None  # the insert's tokens as the delta had them; None: to be written


def _edit(start: int, end: int, ustart: int, uend: int, tokens: list[Token]) -> Edit:
    spelt = None if any(not t[2] for t in tokens) else "\t".join(t[2] for t in tokens)
    return Edit(start, end, ustart, uend, "".join(str(t[1]) for t in tokens), spelt)


def _read(base: _Text, ops: Iterable[Token]) -> tuple[list[Edit], int] | None:
    """The edits of a delta's tokens and the text's UTF-16 length; None if a count ends inside
    a surrogate pair. Each maximal run of tokens other than a non-zero ``=`` is one edit."""
    edits: list[Edit] = []
    pos = upos = 0
    start = ustart = -1
    inserts: list[Token] = []
    for op in ops:
        kind, param = op[0], op[1]
        if isinstance(param, str):
            if start < 0:
                start, ustart = pos, upos
            if param:
                inserts.append(op)
            continue
        if not param:
            continue
        end = base.advance(pos, upos, param)
        if end < 0:
            return None
        if kind == "-":
            if start < 0:
                start, ustart = pos, upos
        elif start >= 0:
            if start < pos or inserts:
                edits.append(_edit(start, pos, ustart, upos, inserts))
            start, inserts = -1, []
        pos, upos = end, upos + param
    if start >= 0 and (start < pos or inserts):
        edits.append(_edit(start, pos, ustart, upos, inserts))
    if pos != len(base.text):
        raise DeltaError(f"delta covers {upos} of the text's {base.size} UTF-16 code units")
    return edits, upos


def edits(base: _Text, delta: str) -> tuple[list[Edit], int]:
    """The edits ``delta`` makes to ``base``, on whole characters, and its UTF-16 length.

    A peer's delta may count to between the halves of a surrogate pair (say, keep the high half
    of one emoji and delete the low half and the next high half). Such a delta is read unit by
    unit, and each of its edits grows to the whole characters it cuts: the pair is deleted and
    its kept half inserted again, so the result is the same text.
    """
    read = _read(base, _parse(delta))
    if read is not None:
        return read
    diffs = _keep_pairs_whole(decode(to_units(base.text), delta))
    # The inserts change, so they are written afresh ("" as the token).
    ops: list[Token] = [
        ("+", from_units(t), "") if op == INSERT else ("=" if op == EQUAL else "-", len(t), "")
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
