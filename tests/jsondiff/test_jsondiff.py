"""jsondiff: diff/apply round trips, UTF-16 deltas, transform merges and strict errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from diff_match_patch import diff_match_patch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simperium_orm.errors import SimperiumError
from simperium_orm.jsondiff import (
    MISSING,
    InvalidDiff,
    apply,
    apply_value,
    diff,
    diff_value,
    is_empty,
    json_equal,
    transform,
    validate,
)
from simperium_orm.jsondiff import text as _textdiff

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Emoji that share a high surrogate (D83D) make diff-match-patch cut inside a pair.
SPECIAL = ["😀", "😁", "🙂", "𝄞", "é", "中", " ", "\n", "\t", "%", "+", "#", "a", "b"]
chars = st.sampled_from(SPECIAL) | st.characters(codec="utf-8")
texts = st.text(alphabet=chars, max_size=12)
keys = st.sampled_from(["a", "b", "c", "d", "😀"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=10,
)
objects = st.dictionaries(keys, values, max_size=5)


def containers(value: Any) -> set[int]:
    """The ids of every dict and list inside a value."""
    if isinstance(value, dict):
        return {id(value)}.union(*(containers(v) for v in value.values()))
    if isinstance(value, list):
        return {id(value)}.union(*(containers(v) for v in value))
    return set()


def reference_apply(text: str, delta: str) -> str:
    """Apply a delta the way jsondiff spells it: fromDelta, patch_make, patch_apply."""
    dmp = diff_match_patch()
    units = _textdiff.to_units(text)
    patches = dmp.patch_make(units, _textdiff.decode(units, delta))
    patched, applied = dmp.patch_apply(patches, units)
    assert all(applied)
    return _textdiff.from_units(patched)


# ------------------------------------------------------------------------ round trips


@FAST
@given(objects, objects, st.booleans())
def test_apply_of_diff_gives_the_target(a: dict[str, Any], b: dict[str, Any], lists: bool) -> None:
    d = diff(a, b, list_diff=lists)
    validate(d)
    assert json_equal(apply(a, d), b)
    # The diff survives the wire.
    assert json_equal(apply(a, json.loads(json.dumps(d))), b)
    assert is_empty(d) == json_equal(a, b)


@FAST
@given(objects, objects, st.booleans())
def test_apply_never_mutates_and_shares_nothing(
    a: dict[str, Any], b: dict[str, Any], lists: bool
) -> None:
    d = diff(a, b, list_diff=lists)
    a_before, d_before = copy.deepcopy(a), copy.deepcopy(d)
    result = apply(a, d)
    assert a == a_before and d == d_before
    assert not containers(result) & (containers(a) | containers(d) | containers(b))


@FAST
@given(objects)
def test_diff_of_equal_objects_is_empty(a: dict[str, Any]) -> None:
    assert diff(a, a) == {}
    assert diff(a, copy.deepcopy(a), list_diff=True) == {}


@FAST
@given(texts, texts)
def test_text_delta_round_trip_in_utf16_units(old: str, new: str) -> None:
    op = diff_value(old, new)
    if old == new:
        assert op is None
        return
    assert op is not None and op["o"] == "d"
    assert apply_value(old, op) == new
    assert reference_apply(old, op["v"]) == new  # the spec's patch route agrees
    # Counts are UTF-16 units, and no kept or deleted run ends inside a surrogate pair.
    units, pos = _textdiff.to_units(old), 0
    for token in op["v"].split("\t"):
        if token[0] in "=-":
            pos += int(token[1:])
            assert not (0 < pos < len(units) and "\ud800" <= units[pos - 1] <= "\udbff")
    assert pos == _textdiff.utf16_len(old)


# -------------------------------------------------------------------------- transform

MID = "|0123456789|"  # a distinctive middle, so fuzzy patching finds its place at once
edges = st.text(alphabet=st.sampled_from(["x", "y", " ", "😀", "😁", "é"]), max_size=5)


@FAST
@given(edges, edges, edges, edges, st.booleans())
def test_edits_of_head_and_tail_of_one_string_both_survive(
    head: str, tail: str, new_head: str, new_tail: str, nested: bool
) -> None:
    def wrap(text: str) -> dict[str, Any]:
        return {"n": {"t": text}} if nested else {"t": text}

    base = wrap(head + MID + tail)
    x = diff(base, wrap(new_head + MID + tail))
    y = diff(base, wrap(head + MID + new_tail))
    expected = wrap(new_head + MID + new_tail)
    assert apply(apply(base, x), transform(y, x, base)) == expected
    assert apply(apply(base, y), transform(x, y, base)) == expected


def _get(obj: dict[str, Any], key: str) -> Any:
    return obj.get(key, MISSING)


def _same(a: Any, b: Any) -> bool:
    return a is b if MISSING in (a, b) else json_equal(a, b)


@st.composite
def concurrent_edits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A base object and two edits of it that touch different keys."""
    base = draw(objects)
    left, right = dict(base), dict(base)
    for key in ["a", "b", "c", "d", "😀", "e", "f"]:
        side = draw(st.sampled_from([None, left, right]))
        if side is not None:
            if key in base and draw(st.booleans()):
                del side[key]
            else:
                side[key] = draw(values)
    return base, left, right


@FAST
@given(concurrent_edits(), st.booleans())
def test_edits_of_different_keys_both_survive(
    case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]], lists: bool
) -> None:
    base, left, right = case
    x, y = diff(base, left, list_diff=lists), diff(base, right, list_diff=lists)
    expected = dict(left)
    for key in base.keys() | right.keys():
        if not _same(_get(base, key), _get(right, key)):
            if key in right:
                expected[key] = right[key]
            else:
                expected.pop(key, None)
    assert json_equal(apply(apply(base, x), transform(y, x, base)), expected)


@FAST
@given(objects, objects, objects, st.booleans())
def test_transform_of_any_concurrent_diffs_applies(
    base: dict[str, Any], a: dict[str, Any], b: dict[str, Any], lists: bool
) -> None:
    da, db = diff(base, a, list_diff=lists), diff(base, b, list_diff=lists)
    da_before = copy.deepcopy(da)
    merged = apply(apply(base, db), transform(da, db, base))
    assert da == da_before
    for key in base.keys() | a.keys() | b.keys():
        old, mine, theirs, got = _get(base, key), _get(a, key), _get(b, key), _get(merged, key)
        if _same(old, theirs) or _same(mine, theirs):
            assert _same(got, mine)  # only a changed it, or both the same way
        elif _same(old, mine):
            assert _same(got, theirs)
        elif MISSING in (mine, theirs) or not isinstance(theirs, type(mine)):
            assert _same(got, mine)  # a wins a removal or a change of type


def test_concurrent_appends_to_one_string_keep_both_in_one_order() -> None:
    base = {"t": "b"}
    mine, theirs = diff(base, {"t": "bd"}), diff(base, {"t": "bc"})
    assert apply(apply(base, theirs), transform(mine, theirs, base)) == {"t": "bcd"}
    assert apply(apply(base, mine), transform(theirs, mine, base)) == {"t": "bcd"}


def test_transform_rules_for_one_key() -> None:
    base = {"n": 1, "s": "hello", "o": {"x": 1, "y": 2}, "l": [1, 2, 3], "c": 10}
    add = {"o": "+", "v": 5}

    def rebased(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return transform(a, b, base)

    assert rebased({"z": add}, {"z": add}) == {}  # both added the same
    assert rebased({"z": add}, {"z": {"o": "+", "v": 6}}) == {"z": {"o": "r", "v": 5}}
    assert rebased({"z": {"o": "+", "v": "ab"}}, {"z": {"o": "+", "v": "a"}}) == {
        "z": {"o": "d", "v": "=1\t+b"}
    }
    assert rebased({"n": {"o": "-"}}, {"n": {"o": "-"}}) == {}
    assert rebased({"n": {"o": "-"}}, {"n": {"o": "r", "v": 2}}) == {"n": {"o": "-"}}
    # An edit beats a removal: the edited value comes back.
    assert rebased({"o": diff_value(base["o"], {"x": 5, "y": 2})}, {"o": {"o": "-"}}) == {
        "o": {"o": "+", "v": {"x": 5, "y": 2}}
    }
    assert rebased({"s": diff_value("hello", "hello!")}, {"s": {"o": "-"}}) == {
        "s": {"o": "+", "v": "hello!"}
    }
    assert rebased({"c": {"o": "I", "v": 2}}, {"c": {"o": "-"}}) == {"c": {"o": "+", "v": 12}}
    # Nested objects merge key by key.
    mine = {"o": diff_value(base["o"], {"x": 5, "y": 2})}
    theirs = {"o": diff_value(base["o"], {"x": 1, "y": 7})}
    assert apply(apply(base, theirs), rebased(mine, theirs))["o"] == {"x": 5, "y": 7}
    # Increments add up; an increment also adds to a number b set.
    assert rebased({"c": {"o": "I", "v": 2}}, {"c": {"o": "I", "v": 3}}) == {
        "c": {"o": "I", "v": 2}
    }
    assert rebased({"c": {"o": "I", "v": 2}}, {"c": {"o": "r", "v": 0}}) == {
        "c": {"o": "I", "v": 2}
    }
    # Otherwise a wins.
    assert rebased({"n": {"o": "r", "v": 3}}, {"n": {"o": "r", "v": 4}}) == {
        "n": {"o": "r", "v": 3}
    }
    assert rebased({"o": mine["o"]}, {"o": {"o": "r", "v": "gone"}}) == {
        "o": {"o": "r", "v": {"x": 5, "y": 2}}
    }
    assert rebased({"s": diff_value("hello", "help")}, {"s": diff_value("hello", "help")}) == {}


def test_concurrent_list_diffs_merge_like_the_reference() -> None:
    def merge(base: list[Any], mine: list[Any], theirs: list[Any]) -> list[Any]:
        old = {"l": base}
        a, b = diff(old, {"l": mine}, list_diff=True), diff(old, {"l": theirs}, list_diff=True)
        result: list[Any] = apply(apply(old, b), transform(a, b, old))["l"]
        return result

    assert merge([1, 2, 3], [1, 2, 3, 5], [1, 2, 3, 4]) == [1, 2, 3, 5, 4]  # a's inserts first
    assert merge([1, 2, 3], [1, 2], [1, 2, 4]) == [1, 2]  # a's removal wins
    assert merge([1, 2, 3], [1, 2, 4], [1, 2]) == [1, 2, 4]  # a's edit beats b's removal
    assert merge([1, 2, 3, 4], [1, 5, 2, 3, 4], [1, 6, 7, 2, 3, 4]) == [1, 5, 6, 7, 2, 3, 4]
    assert merge([1, 2], [1, 2, 9], [1, 2, 9]) == [1, 2, 9]  # the same insert counts once
    assert merge(["ab", {"k": 1}], ["abc", {"k": 1}], ["xab", {"k": 2}]) == ["xabc", {"k": 2}]
    assert merge([0, 1, 2, 3], [0, 2, 3], [0, 1, 2, 3, 4]) == [0, 2, 3, 4]


def test_concurrent_line_list_diffs_merge() -> None:
    base = {"l": [1, 2, 3]}
    mine = {"l": {"o": "dL", "v": "=6\t+4%0A"}}  # [1, 2, 3, 4]
    theirs = {"l": {"o": "dL", "v": "=6\t+5%0A"}}  # [1, 2, 3, 5]
    # Lines merge as text does: inserts at one place in one order, whichever side is which.
    assert apply(apply(base, theirs), transform(mine, theirs, base)) == {"l": [1, 2, 3, 4, 5]}
    assert apply(apply(base, mine), transform(theirs, mine, base)) == {"l": [1, 2, 3, 4, 5]}


def test_transform_rejects_diffs_that_do_not_fit_the_base() -> None:
    with pytest.raises(InvalidDiff):
        transform({"x": {"o": "d", "v": "=9"}}, {"x": {"o": "d", "v": "=2"}}, {"x": "ab"})
    with pytest.raises(InvalidDiff):
        transform({"x": {"o": "+", "v": 1}}, {"x": {"o": "r", "v": 2}}, {"x": 0})


# ------------------------------------------------------------------------ op examples


def test_each_operation_applies() -> None:
    obj = {"a": 1, "b": "xy", "c": [1, 2], "d": {"e": 1}, "f": True, "g": [1, 2, 3]}
    d = {
        "a": {"o": "I", "v": 2},
        "b": {"o": "d", "v": "=1\t-1\t+z"},
        "c": {"o": "L", "v": {"0": {"o": "-"}, "2": {"o": "+", "v": 9}}},
        "d": {"o": "O", "v": {"e": {"o": "-"}, "h": {"o": "+", "v": None}}},
        "f": {"o": "r", "v": 1},
        "g": {"o": "dL", "v": "=2\t-2\t+%225%22%0A\t=2"},
        "new": {"o": "+", "v": [1]},
    }
    assert apply(obj, {**d, "x": {"o": "+", "v": 0}, "a": {"o": "-"}}) == {
        "b": "xz",
        "c": [2, 9],
        "d": {"h": None},
        "f": 1,
        "g": [1, "5", 3],
        "new": [1],
        "x": 0,
    }
    assert apply(obj, d)["a"] == 3
    assert list(apply(obj, d)) == ["a", "b", "c", "d", "f", "g", "new"]  # key order kept
    assert apply_value(MISSING, {"o": "+", "v": 4}) == 4
    assert apply_value(4, {"o": "-"}) is MISSING
    assert apply_value(1.5, {"o": "I", "v": 1}) == 2.5


def test_generated_operations() -> None:
    assert diff({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {
        "a": {"o": "-"},
        "b": {"o": "r", "v": 3},
        "c": {"o": "+", "v": 4},
    }
    assert diff_value({"x": "ab"}, {"x": "abc"}) == {
        "o": "O",
        "v": {"x": {"o": "d", "v": "=2\t+c"}},
    }
    assert diff_value([1, 2], [1, 3]) == {"o": "r", "v": [1, 3]}  # lists travel whole
    assert diff_value([1, 2], [1, 3], list_diff=True) == {"o": "L", "v": {"1": {"o": "r", "v": 3}}}
    assert diff_value([1, 2, 3], [1], list_diff=True) == {
        "o": "L",
        "v": {"1": {"o": "-"}, "2": {"o": "-"}},
    }
    assert diff_value("a", 1) == {"o": "r", "v": 1}
    assert diff_value(None, None) is None
    assert diff_value(MISSING, [1]) == {"o": "+", "v": [1]}
    assert diff_value(1, MISSING) == {"o": "-"}
    assert diff_value(MISSING, MISSING) is None


def test_true_and_one_differ_but_one_and_one_point_oh_do_not() -> None:
    # Python says True == 1; JSON, JavaScript and pydantic do not, so the change is sent.
    assert diff({"x": True}, {"x": 1}) == {"x": {"o": "r", "v": 1}}
    assert diff({"x": [0]}, {"x": [False]}) == {"x": {"o": "r", "v": [False]}}
    assert diff({"x": 1}, {"x": 1.0}) == {}  # one JSON number
    assert not json_equal(True, 1) and json_equal(1, 1.0)


def test_list_indexes_sort_as_numbers() -> None:
    # As text, "10" would run before "9" and put "b" after the 9.
    items = [*range(10), "S"]
    op = {"o": "L", "v": {"9": {"o": "+", "v": "a"}, "10": {"o": "+", "v": "b"}}}
    assert apply_value(items, op) == [*range(9), "a", "b", 9, "S"]
    # Later indexes shift left by the deletes before them.
    op = {"o": "L", "v": {"1": {"o": "-"}, "2": {"o": "-"}, "4": {"o": "r", "v": "x"}}}
    assert apply_value([0, 1, 2, 3, 4], op) == [0, 3, "x"]


# ------------------------------------------------------------------------ UTF-16 deltas


repetitive = st.text(alphabet=st.sampled_from(["a", "b", " ", "😀", "😁", "é", "\n"]), max_size=60)
small = st.text(alphabet=st.sampled_from(["a", "b", "😀", "😁", "x"]), max_size=5)


@settings(max_examples=300, deadline=None)
@given(repetitive, small, small, repetitive)
def test_deltas_are_diff_match_patchs_deltas_of_the_whole_texts(
    head: str, old_middle: str, new_middle: str, tail: str
) -> None:
    # Only the middle and some text around it is diffed; the delta must not change. Here the
    # whole texts are diffed, and written out, by diff-match-patch alone (it counts UTF-16).
    old, new = head + old_middle + tail, head + new_middle + tail
    dmp = diff_match_patch()
    diffs = dmp.diff_main(old, new)
    if len(diffs) > 2:
        dmp.diff_cleanupEfficiency(diffs)
    assert _textdiff.make_delta(old, new) == ("" if old == new else dmp.diff_toDelta(diffs))


def test_emoji_delta_matches_the_javascript_client() -> None:
    # "a😀b" is a, D83D, DE00, b in UTF-16: keep 3 units, insert x, keep 1.
    assert diff_value("a😀b", "a😀xb") == {"o": "d", "v": "=3\t+x\t=1"}
    assert apply_value("a😀b", {"o": "d", "v": "=3\t+x\t=1"}) == "a😀xb"
    assert apply_value("ab", {"o": "d", "v": "=1\t+%F0%9F%98%80\t=1"}) == "a😀b"
    assert apply({"t": "😀 ok"}, {"t": {"o": "d", "v": "-2\t=3"}}) == {"t": " ok"}


def test_emoji_sharing_a_high_surrogate_are_replaced_whole() -> None:
    # diff-match-patch alone keeps the shared D83D and inserts a lone DE01 encodeURI rejects.
    assert diff_value("😀", "😁") == {"o": "d", "v": "-2\t+%F0%9F%98%81"}
    assert diff_value("x😀y", "x😁y") == {"o": "d", "v": "=1\t-2\t+%F0%9F%98%81\t=1"}


def test_a_peer_delta_cutting_between_pairs_applies() -> None:
    # D83D DE00 D83D DE01 -> keep D83D, delete DE00 D83D, keep DE01: "😁".
    assert apply_value("😀😁", {"o": "d", "v": "=1\t-2\t=1"}) == "😁"


def test_inserted_text_is_encoded_like_encode_uri() -> None:
    # encodeURI keeps ;,/?:@&=+$-_.!~*'()# and diff_toDelta turns %20 back into a space.
    assert diff_value("", "a b#;/?:@&=+$,!~*'()%\t\né") == {
        "o": "d",
        "v": "+a b#;/?:@&=+$,!~*'()%25%09%0A%C3%A9",
    }


def test_every_escape_is_read_whatever_its_case() -> None:
    # Lower-case hex, a backslash, an escaped reserved character and raw non-ASCII text.
    assert apply_value("", {"o": "d", "v": "+%c3%a9\\%5C%23"}) == "é\\\\#"
    assert apply_value("", {"o": "d", "v": "+é%41"}) == "éA"
    assert apply_value("", {"o": "d", "v": "+\\x41"}) == "\\x41"


def test_lone_surrogates_travel_whole() -> None:
    assert diff_value("a", "a\ud800") == {"o": "r", "v": "a\ud800"}
    assert diff_value("a\ud800", "ab\ud800") == {"o": "d", "v": "=1\t+b\t=1"}


# ------------------------------------------------------------------------------ errors

BAD = [
    ({"a": {"o": "x", "v": 1}}, {"a": 1}, "unknown operation 'x'"),
    ({"a": {"v": 1}}, {"a": 1}, "unknown operation None"),
    ({"a": {"o": "r"}}, {"a": 1}, "needs a 'v'"),
    ({"a": [1]}, {"a": 1}, "an operation must be an object"),
    ({"a": {"o": "d", "v": "=1"}}, {"a": "ab"}, "covers 1 of the text's 2 UTF-16 code units"),
    ({"a": {"o": "d", "v": "=3"}}, {"a": "ab"}, "runs past the end"),
    ({"a": {"o": "d", "v": "=2"}}, {"a": "😀b"}, "covers 2 of the text's 3"),
    ({"a": {"o": "d", "v": "=1\t*1"}}, {"a": "ab"}, "starts with '*'"),
    ({"a": {"o": "d", "v": "=-1"}}, {"a": "ab"}, "non-negative count"),
    ({"a": {"o": "d", "v": "+%zz"}}, {"a": ""}, "malformed %-escape"),
    ({"a": {"o": "d", "v": "+%FF"}}, {"a": ""}, "not UTF-8"),
    ({"a": {"o": "d", "v": 3}}, {"a": "ab"}, "needs a delta string"),
    ({"a": {"o": "d", "v": "=1"}}, {"a": 1}, "'d' applies to a str"),
    ({"a": {"o": "O", "v": {}}}, {"a": "s"}, "'O' applies to a dict"),
    ({"a": {"o": "O", "v": []}}, {"a": {}}, "object diff must be a JSON object"),
    ({"a": {"o": "I", "v": "1"}}, {"a": 1}, "'I' needs a number"),
    ({"a": {"o": "I", "v": True}}, {"a": 1}, "'I' needs a number"),
    ({"a": {"o": "I", "v": 1}}, {"a": True}, "'I' applies to a number"),
    ({"a": {"o": "L", "v": {"x": {"o": "-"}}}}, {"a": []}, "not a non-negative index"),
    ({"a": {"o": "L", "v": {"1": {"o": "-"}}}}, {"a": [0]}, "past the end"),
    ({"a": {"o": "L", "v": {"2": {"o": "+", "v": 1}}}}, {"a": [0]}, "inserts past the end"),
    ({"a": {"o": "dL", "v": "=1\t+x\t=2"}}, {"a": [12]}, "not JSON"),
    ({"a": {"o": "+", "v": 1}}, {"a": 1}, "adds a value that is already there"),
    ({"a": {"o": "-"}}, {}, "changes a value that is not there"),
    ({"a": {"o": "r", "v": 1}}, {}, "changes a value that is not there"),
    ({"a": {"o": "r", "v": float("nan")}}, {"a": 1}, "not a JSON number"),
    ({"a": {"o": "r", "v": {1: 2}}}, {"a": 1}, "not a string"),
    ([], {}, "an object diff must be a JSON object"),
]


@pytest.mark.parametrize(("d", "obj", "message"), BAD)
def test_bad_diffs_raise_invalid_diff(d: Any, obj: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDiff, match=message.replace("(", r"\(").replace("*", r"\*")):
        apply(obj, d)


def test_invalid_diff_is_a_value_error_with_a_path() -> None:
    with pytest.raises(InvalidDiff, match="at /o/n: 'd' applies to a str") as info:
        validate({"o": {"o": "O", "v": {"n": {"o": "d", "v": "=1"}}}})
        apply({"o": {"n": 1}}, {"o": {"o": "O", "v": {"n": {"o": "d", "v": "=1"}}}})
    assert isinstance(info.value, ValueError) and isinstance(info.value, SimperiumError)


def test_validate_accepts_good_diffs_and_rejects_by_shape_alone() -> None:
    validate({"a": {"o": "L", "v": {"0": {"o": "d", "v": "=1\t+x%20"}}}, "b": {"o": "-"}})
    with pytest.raises(InvalidDiff, match="at /a/0: unknown operation 'q'"):
        validate({"a": {"o": "L", "v": {"0": {"o": "q"}}}})


def test_diff_refuses_values_that_are_not_json() -> None:
    with pytest.raises(TypeError):
        diff({"a": object()}, {"a": 1})
    with pytest.raises(TypeError):
        diff([], {})  # type: ignore[arg-type]
