"""The three-way rebase of a stale copy's edits (pure), checked on generated objects."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simperium_orm.jsondiff import apply
from simperium_orm.orm.rebase import rebase, rebased_write, write_of

KEYS = ["a", "b", "c", "d"]
values = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.text("xyz", max_size=4),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from("pq"), st.integers(0, 3), max_size=2),
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=4)


def edited(base: dict[str, Any], draw: Any) -> dict[str, Any]:
    """``base`` with some keys set (the copy's edits never remove a declared field)."""
    return {**base, **draw}


@given(objects, objects, objects)
def test_the_rebased_diff_applies_to_the_server_and_touches_only_the_copys_keys(
    base: dict[str, Any], mine_edits: dict[str, Any], theirs: dict[str, Any]
) -> None:
    mine = edited(base, mine_edits)
    keys = [k for k in mine if k not in base or base[k] != mine[k]]
    merged = rebase(base, mine, keys, theirs)
    assert set(merged) <= set(keys)
    result = apply(theirs, merged)
    for key in theirs.keys() - set(keys):
        assert result[key] == theirs[key]  # what the copy did not change stays the server's
    for key in keys:
        if theirs.get(key, ...) == base.get(key, ...):
            assert result[key] == mine[key]  # only the copy changed it: its value


@given(objects, objects)
def test_without_concurrent_edits_the_rebase_is_the_copys_edits(
    base: dict[str, Any], mine_edits: dict[str, Any]
) -> None:
    mine = edited(base, mine_edits)
    keys = [k for k in mine if k not in base or base[k] != mine[k]]
    write = rebased_write(base, mine, keys, base, 7)
    if not keys:
        assert write is None
        return
    assert write is not None and write.version == 7 and not write.replace
    assert write.body == {k: mine[k] for k in keys}


@given(objects, objects)
def test_edits_the_server_holds_already_leave_nothing_to_send(
    base: dict[str, Any], mine_edits: dict[str, Any]
) -> None:
    mine = edited(base, mine_edits)
    keys = [k for k in mine if k not in base or base[k] != mine[k]]
    assert rebased_write(base, mine, keys, mine, 9) is None


def test_a_removed_key_is_written_with_replace() -> None:
    base = {"text": "milk", "color": "red", "size": 1}
    mine = {"text": "milk", "size": 1}  # the extra key "color" was removed
    assert write_of(mine, {"kept": 1}, {"color"}, 3) == ({"kept": 1, **mine}, 3, True)
    theirs = {**base, "text": "oat milk", "mood": "ok"}
    write = rebased_write(base, mine, {"color"}, theirs, 50)
    assert write == ({"text": "oat milk", "size": 1, "mood": "ok"}, 50, True)


def test_text_edits_of_both_sides_merge() -> None:
    base = {"text": "buy milk", "tags": ["a", "b"]}
    mine = {"text": "please buy milk", "tags": ["b"]}
    theirs = {"text": "buy milk today", "tags": ["a", "b", "c"]}
    write = rebased_write(base, mine, {"text", "tags"}, theirs, 12)
    assert write == ({"text": "please buy milk today", "tags": ["b", "c"]}, 12, False)
