"""Simperium's jsondiff: diff, apply and transform JSON objects (pure, no I/O).

A change's ``v`` is an *object diff* ``{key: op}``; each op is ``{"o": code, "v": value}``:

======  ================================================================================
code    meaning
======  ================================================================================
``+``   add the key (object), or insert ``v`` before the index (list)
``-``   remove the key or element (no ``v``)
``r``   replace with ``v``
``I``   add the number ``v`` (applied, never generated)
``O``   ``v`` is an object diff of the nested object
``L``   ``v`` is a list diff ``{"<index>": op}``
``dL``  ``v`` is a text delta over the list written one compact JSON element per line
``d``   ``v`` is a diff-match-patch delta of the string, counted in UTF-16 code units
======  ================================================================================

Everything is strict: a diff that does not fit its base raises :class:`InvalidDiff`.
docs/jsondiff.md says which way this module goes where the reference implementations differ.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidDiff
from ..protocol import MISSING
from . import ops as _ad
from . import text as _td
from . import textmerge as _tm
from .ops import json_equal

__all__ = [
    "MISSING",
    "InvalidDiff",
    "apply",
    "apply_value",
    "diff",
    "diff_value",
    "is_empty",
    "json_equal",
    "transform",
    "validate",
]


def validate(d: Any) -> None:
    """Check the shape of an object diff; raise :class:`InvalidDiff` saying what is wrong.

    Checks all that can be checked without the base value: op codes, that ``v`` is there and
    of the right type, list indexes, JSON values and the syntax of text deltas.
    """
    _ad.check_object_diff(d, "")


def is_empty(d: dict[str, Any]) -> bool:
    """Whether an object diff changes nothing (Simperium answers such a change with 412)."""
    return not d


# ------------------------------------------------------------------------------------- diff


def diff(a: dict[str, Any], b: dict[str, Any], *, list_diff: bool = False) -> dict[str, Any]:
    """The object diff that turns ``a`` into ``b``; ``{}`` when they are equal.

    Lists are sent whole (``r``) unless ``list_diff`` is true, as Simperium's clients do.
    The diff shares no container with ``a`` or ``b``.
    """
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise TypeError("diff() compares two dicts; use diff_value() for other values")
    out: dict[str, Any] = {}
    for key, old in a.items():
        if key not in b:
            out[key] = {"o": "-"}
        else:
            op = diff_value(old, b[key], list_diff=list_diff)
            if op is not None:
                out[key] = op
    for key, new in b.items():
        if key not in a:
            out[key] = {"o": "+", "v": _ad.copy(new)}
    for key in out:
        if not isinstance(key, str):
            raise TypeError(f"object key {key!r} is not a string")
    return out


def diff_value(a: Any, b: Any, *, list_diff: bool = False) -> dict[str, Any] | None:
    """The single operation that turns ``a`` into ``b``; None when they are equal.

    Either side may be :data:`MISSING` (an absent key), which gives ``+`` or ``-``.
    """
    if a is MISSING or b is MISSING:
        if a is b:
            return None
        return {"o": "-"} if b is MISSING else {"o": "+", "v": _ad.copy(b)}
    kind = _ad.kind(a)
    if kind != _ad.kind(b):
        return {"o": "r", "v": _ad.copy(b)}
    if kind == "dict":
        inner = diff(a, b, list_diff=list_diff)
        return {"o": "O", "v": inner} if inner else None
    if kind == "str":
        delta = _td.make_delta(a, b)
        if delta == "":
            return None  # equal, or one UTF-16 text only split into code points differently
        # A lone surrogate cannot be URI-encoded, so such a string travels whole.
        return {"o": "d", "v": delta} if delta is not None else {"o": "r", "v": b}
    if json_equal(a, b):
        return None
    if kind == "list" and list_diff:
        inner = _list_diff(a, b)
        return {"o": "L", "v": inner} if inner else None
    return {"o": "r", "v": _ad.copy(b)}


def _list_diff(a: list[Any], b: list[Any]) -> dict[str, Any]:
    """Positional list diff: skip the common head and tail, edit the middle in place."""
    shorter = min(len(a), len(b))
    head = 0
    while head < shorter and json_equal(a[head], b[head]):
        head += 1
    tail = 0
    while tail < shorter - head and json_equal(a[-1 - tail], b[-1 - tail]):
        tail += 1
    old, new = a[head : len(a) - tail], b[head : len(b) - tail]
    out: dict[str, Any] = {}
    for i in range(max(len(old), len(new))):
        if i < len(old) and i < len(new):
            op = diff_value(old[i], new[i], list_diff=True)
            if op is not None:
                out[str(head + i)] = op
        elif i < len(old):
            out[str(head + i)] = {"o": "-"}
        else:
            out[str(head + i)] = {"o": "+", "v": _ad.copy(new[i])}
    return out


# ------------------------------------------------------------------------------------ apply


def apply(obj: dict[str, Any], d: dict[str, Any], *, checked: bool = False) -> dict[str, Any]:
    """Apply the object diff ``d`` to ``obj`` and return the result as a new dict.

    ``obj`` and ``d`` are left untouched and share no container with the result. Raises
    :class:`InvalidDiff` if ``d`` is malformed or does not fit ``obj``: ``+`` of a key that is
    there, ``-``/``r``/... of one that is not, an op for another type, a delta of another length.
    ``checked=True`` skips the shape check (:func:`validate`) for a diff that has passed it
    already or was made by :func:`diff` or :func:`transform`; whether it fits is still checked.
    """
    if not checked:
        validate(d)
    if not isinstance(obj, dict):
        raise _ad.fail("", f"an object diff applies to a dict, not {type(obj).__name__}")
    return _ad.apply_object(obj, d, "")


def apply_value(value: Any, op: dict[str, Any]) -> Any:
    """Apply one operation to a value and return the new value.

    Pass :data:`MISSING` as ``value`` for an absent key: ``+`` needs it, ``-`` returns it.
    """
    _ad.check_op(op, "")
    return _ad.apply_op(value, op, "")


# -------------------------------------------------------------------------------- transform


def transform(a: dict[str, Any], b: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Rebase the object diff ``a`` over ``b``, a concurrent diff of the same ``base``.

    Returns ``a2`` such that ``apply(apply(base, b), a2)`` keeps both edits. Where both touch
    one value: edits of different keys, list elements and text ranges merge, ``I`` deltas add
    up, identical edits count once, and otherwise ``a`` wins (an edit beats a removal).
    Raises :class:`InvalidDiff` if either diff is malformed or does not fit ``base``.
    """
    validate(a)
    validate(b)
    if not isinstance(base, dict):
        raise _ad.fail("", f"an object diff applies to a dict, not {type(base).__name__}")
    return _transform_object(a, b, base, "")


def _transform_object(
    a: dict[str, Any], b: dict[str, Any], base: dict[str, Any], path: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, aop in a.items():
        bop = b.get(key)
        if bop is None:
            out[key] = _ad.copy(aop)
            continue
        op = _transform_op(aop, bop, base.get(key, MISSING), f"{path}/{key}")
        if op is not None:
            out[key] = op
    return out


def _transform_op(
    aop: dict[str, Any], bop: dict[str, Any], base: Any, path: str
) -> dict[str, Any] | None:
    """Rebase one operation over another made on the same value; None if nothing is left."""
    if aop["o"] == bop["o"] == "d" and isinstance(base, str):
        return _transform_text(base, aop["v"], bop["v"], path)
    after_b = _ad.apply_op(base, bop, path)
    after_a = _ad.apply_op(base, aop, path)
    ao, bo = aop["o"], bop["o"]
    if ao == bo == "I":
        return dict(aop)  # increments add up
    if after_b is MISSING:
        # b removed it: a's edit brings the value back; a's own removal has nothing left to do.
        return None if after_a is MISSING else {"o": "+", "v": after_a}
    if after_a is MISSING:
        return {"o": "-"}
    if json_equal(after_a, after_b):
        return None  # both made the same change
    if ao == bo == "O":
        inner = _transform_object(aop["v"], bop["v"], base, path)
        return {"o": "O", "v": inner} if inner else None
    if ao == bo == "L":
        return diff_value(after_b, _merge_lists(base, aop["v"], bop["v"], path), list_diff=True)
    if ao == bo == "dL":
        return _rebase_lines(base, aop["v"], bop["v"], after_b, after_a, path)
    if ao == "+":
        return diff_value(after_b, after_a)  # both added the key: a's value, as a change of b's
    if ao == "I" and _ad.kind(after_b) == "number":
        return dict(aop)  # b set a new number; a's increment still adds to it
    return {"o": "r", "v": after_a}  # a wins: its value replaces whatever b made


class _Slot:
    """One element while a list diff is replayed: a base element or an inserted value."""

    __slots__ = ("gone", "index", "payload")

    def __init__(self, index: int | None, payload: Any) -> None:
        self.index = index  # position in the base list; None for an inserted element
        self.payload = payload  # the op applied to a base element, or an inserted value
        self.gone = False  # a deleted base element stays as a marker so inserts keep their place


def _list_edits(base: list[Any], d: dict[str, Any], path: str) -> tuple[list[list[Any]], list[Any]]:
    """Replay a list diff on ``base`` and say what it did in base positions.

    Returns ``(inserts, fates)``: ``inserts[g]`` are the new elements placed before base element
    ``g`` (``g == len(base)``: at the end); ``fates[i]`` is None (kept), MISSING (removed) or the
    op applied to element ``i``.
    """
    slots = [_Slot(i, None) for i in range(len(base))]
    deleted = 0
    for index, op in _ad.list_ops(d, path):
        at, where = index - deleted, f"{path}/{index}"
        live = [slot for slot in slots if not slot.gone]
        if op["o"] == "+":
            if at > len(live):
                raise _ad.fail(where, f"'+' inserts past the end of a list of {len(live)}")
            pos = slots.index(live[at]) if at < len(live) else len(slots)
            slots.insert(pos, _Slot(None, _ad.copy(op["v"])))
            continue
        if at >= len(live):
            raise _ad.fail(where, f"{op['o']!r} names an element past the end ({len(live)})")
        slot = live[at]
        if op["o"] == "-":
            deleted += 1
            if slot.index is None:
                slots.remove(slot)
            else:
                slot.gone = True
        elif slot.index is None:
            slot.payload = _ad.apply_op(slot.payload, op, where)
        elif slot.payload is None:
            slot.payload = op
        else:
            # The index shifts let one element be edited twice: both fold into a replacement.
            first = _ad.apply_op(base[slot.index], slot.payload, where)
            slot.payload = {"o": "r", "v": _ad.apply_op(first, op, where)}
    inserts: list[list[Any]] = [[] for _ in range(len(base) + 1)]
    fates: list[Any] = [None] * len(base)
    gap = 0
    for slot in slots:
        if slot.index is None:
            inserts[gap].append(slot.payload)
        else:
            fates[slot.index] = MISSING if slot.gone else slot.payload
            gap = slot.index + 1
    return inserts, fates


def _merge_lists(base: list[Any], a: dict[str, Any], b: dict[str, Any], path: str) -> list[Any]:
    """The list with both concurrent list diffs' edits, element by element."""
    a_inserts, a_fates = _list_edits(base, a, path)
    b_inserts, b_fates = _list_edits(base, b, path)
    merged: list[Any] = []
    for gap in range(len(base) + 1):
        new_a, new_b = a_inserts[gap], b_inserts[gap]
        # The same run inserted by both counts once; otherwise a's go first, as in the reference.
        merged += new_a if json_equal(new_a, new_b) else new_a + new_b
        if gap == len(base):
            break
        value, fa, fb, where = base[gap], a_fates[gap], b_fates[gap], f"{path}/{gap}"
        if fa is MISSING or (fa is None and fb is MISSING):
            continue  # a's removal wins; b's removal stands unless a edited the element
        if fa is None:
            merged.append(value if fb is None else _ad.apply_op(value, fb, where))
        elif fb is None or fb is MISSING:
            merged.append(_ad.apply_op(value, fa, where))
        else:
            after_b = _ad.apply_op(value, fb, where)
            op = _transform_op(fa, fb, value, where)
            merged.append(after_b if op is None else _ad.apply_op(after_b, op, where))
    return merged


def _merge_text(base: str, a: str, b: str, path: str) -> _tm.Merge:
    try:
        return _tm.transform(base, a, b)
    except _td.DeltaError as exc:
        raise _ad.fail(path, str(exc)) from None


def _transform_text(base: str, a: str, b: str, path: str) -> dict[str, Any] | None:
    """Rebase text delta ``a`` over ``b``: both edits by position (see text.transform)."""
    merge = _merge_text(base, a, b, path)
    if merge.adds_nothing():
        # a's edits are in b's text already, for one because both made them. Two deltas that
        # make one text by different edits (each deletes another "a" of "aa") both apply.
        return None
    if merge.delta is None:
        return {"o": "r", "v": merge.text}  # a's edits insert a lone surrogate
    return {"o": "d", "v": merge.delta}


def _rebase_lines(
    base: list[Any], a: str, b: str, after_b: list[Any], after_a: list[Any], path: str
) -> dict[str, Any] | None:
    """Rebase a ``dL`` delta over another one; a wins whole if the merged lines are not JSON."""
    merge = _merge_text(_ad.list_to_lines(base), a, b, path)
    try:
        merged = _ad.lines_to_list(merge.text, path)
    except InvalidDiff:
        return {"o": "r", "v": after_a}
    if json_equal(merged, after_b):
        return None
    new = _td.make_delta(_ad.list_to_lines(after_b), _ad.list_to_lines(merged))
    return {"o": "dL", "v": new} if new else {"o": "r", "v": merged}
