"""The server's nesting limit, measured on the request's text: the same answer as walking the
parsed value, whatever brackets, quotes and escapes the strings hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simperium_orm.server.changes import MAX_DEPTH, TooDeep, _nests_deeper, decode

bracket_text = st.text(alphabet='[]{}"\\,:ab\u00e9\U0001f600', max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | bracket_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(bracket_text, inner, max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(values, st.integers(0, 8), st.booleans())
def test_text_depth_agrees_with_the_parsed_value(value: Any, limit: int, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert _nests_deeper(text, limit) == (depth(value) > limit)


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_decode_allows_the_limit_and_refuses_one_more() -> None:
    assert depth(decode(nested(MAX_DEPTH))) == MAX_DEPTH
    assert depth(decode(nested(MAX_DEPTH).encode())) == MAX_DEPTH
    with pytest.raises(TooDeep):
        decode(nested(MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        decode(json.dumps({"a": [{"b": json.loads(nested(MAX_DEPTH - 2))}]}))
    wide = json.dumps([[["x"] * 50] * 50])  # many brackets, shallow
    assert depth(decode(wide)) == 3
