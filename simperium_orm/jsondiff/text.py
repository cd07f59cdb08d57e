"""Text deltas for jsondiff's ``d`` operation, counted in UTF-16 code units.

A delta is diff-match-patch's ``diff_toDelta`` text: tab-separated tokens ``=n`` (keep n),
``-n`` (delete n) and ``+text`` (insert URI-encoded text). Simperium's JavaScript, Java and
Objective-C clients count ``n`` in UTF-16 code units, so an emoji is 2. Python strings count
code points, so everything here works on a *units string*: the text re-spelt with one Python
character per UTF-16 code unit (each astral character becomes its surrogate pair). Running
diff-match-patch on units strings gives the same diffs, offsets and fuzzy matches as the
JavaScript client; results are joined back into normal strings before they leave this module.
"""

from __future__ import annotations

import re
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


class DeltaError(ValueError):
    """A delta that is malformed or does not fit the text it is applied to."""


def _pair(match: re.Match[str]) -> str:
    code = ord(match.group()) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def to_units(text: str) -> str:
    """Spell ``text`` with one character per UTF-16 code unit (astral characters as pairs)."""
    return _ASTRAL.sub(_pair, text) if _ASTRAL.search(text) else text


def from_units(units: str) -> str:
    """Join the surrogate pairs of a units string back into characters; lone ones stay."""
    if not _SURROGATE.search(units):
        return units
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of every delta count."""
    return len(text) + len(_ASTRAL.findall(text))


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


def encode(diffs: Diffs) -> str | None:
    """Write unit diffs as delta text; None if an insert holds a lone surrogate.

    A lone surrogate has no UTF-8 spelling (encodeURI throws on one), so such a change can
    only travel as the whole new value.
    """
    parts = []
    for op, units in diffs:
        if op == INSERT:
            text = from_units(units)
            if _SURROGATE.search(text):
                return None
            parts.append("+" + quote(text, safe=_URI_SAFE))
        else:
            parts.append(("=" if op == EQUAL else "-") + str(len(units)))
    return "\t".join(parts)


def make_delta(old: str, new: str) -> str | None:
    """The delta that turns ``old`` into ``new``; None if it cannot be spelt (lone surrogates)."""
    return encode(unit_diffs(to_units(old), to_units(new)))


def check_syntax(delta: str) -> None:
    """Raise DeltaError unless every token of ``delta`` is well formed (lengths unchecked)."""
    for token in delta.split("\t"):
        if token:
            _token(token)


def _token(token: str) -> tuple[str, str]:
    kind, param = token[0], token[1:]
    if kind == "+":
        if _BAD_ESCAPE.search(param):
            raise DeltaError(f"inserted text {param!r} has a malformed %-escape")
        try:
            return kind, to_units(unquote(param, errors="strict"))
        except UnicodeDecodeError:
            raise DeltaError(f"inserted text {param!r} is not UTF-8 once unescaped") from None
    if kind in ("=", "-"):
        if not _COUNT.fullmatch(param):
            raise DeltaError(f"delta token {token!r} needs a non-negative count")
        return kind, param
    raise DeltaError(f"delta token {token!r} starts with {kind!r}, not '=', '-' or '+'")


def decode(base_units: str, delta: str) -> Diffs:
    """Read ``delta`` against the units string it was made from (diff_fromDelta)."""
    diffs: Diffs = []
    pos = 0
    for token in delta.split("\t"):
        if not token:
            continue  # an empty delta, or a trailing tab, as diff-match-patch allows
        kind, param = _token(token)
        if kind == "+":
            diffs.append((INSERT, param))
            continue
        end = pos + int(param)
        if end > len(base_units):
            raise DeltaError(
                f"delta runs past the end of the text ({len(base_units)} UTF-16 code units)"
            )
        diffs.append((EQUAL if kind == "=" else DELETE, base_units[pos:end]))
        pos = end
    if pos != len(base_units):
        raise DeltaError(f"delta covers {pos} of the text's {len(base_units)} UTF-16 code units")
    return diffs


def apply_delta(base: str, delta: str) -> str:
    """Apply ``delta`` to the text it was made from.

    jsondiff spells this diff_fromDelta, patch_make, then a fuzzy patch_apply onto the same
    text; on the delta's own base every patch matches exactly, so the new text is simply the
    kept and inserted pieces in order.
    """
    diffs = decode(to_units(base), delta)
    return from_units("".join(text for op, text in diffs if op != DELETE))


def rebase(base: str, delta: str, onto: str) -> str:
    """Replay ``delta`` (made against ``base``) onto the text ``onto`` by fuzzy patching."""
    units = to_units(base)
    patches = _DMP.patch_make(units, decode(units, delta))
    merged, _applied = _DMP.patch_apply(patches, to_units(onto))
    return from_units(merged)
