"""Filters pushed into SQL keep every row the lookup keeps (and the file's JSON paths hold)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field

import simperium_orm as so
from simperium_orm.orm.lookups import Q, compile_q
from simperium_orm.replica.sql import _successor, where_of
from simperium_orm.replica.store import json_path


class Item(so.Model, bucket="items"):
    name: str = ""
    n: int = 0
    x: float = 0.0
    flag: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}
    label: str = Field("", alias="the_label")


texts = st.text(alphabet=st.sampled_from("ab\u00e9\U0001f600\U0010ffff"), max_size=4)
scalars = st.one_of(texts, st.integers(-3, 3), st.booleans(), st.floats(-3, 3, allow_nan=False))
items = st.builds(
    dict,
    name=texts,
    n=st.integers(-3, 3),
    x=st.floats(-3, 3, allow_nan=False),
    flag=st.booleans(),
    tags=st.lists(texts, max_size=3),
    meta=st.dictionaries(st.sampled_from(["k", "j"]), scalars, max_size=2),
    the_label=texts,
)
lookups = st.one_of(
    st.tuples(
        st.sampled_from(
            [
                "name",
                "name__gt",
                "name__lte",
                "name__startswith",
                "name__contains",
                "name__endswith",
                "name__in",
            ]
        ),
        texts,
    ),
    st.tuples(
        st.sampled_from(["n", "n__gt", "n__gte", "n__lt", "n__lte", "x__gt", "x__lt"]),
        st.integers(-3, 3),
    ),
    st.tuples(st.just("flag"), st.booleans()),
    st.tuples(st.sampled_from(["meta__k", "meta__k__gt", "meta__k__startswith"]), texts),
    st.tuples(st.sampled_from(["tags__contains", "id__in", "label", "label__startswith"]), texts),
)


def _q(parts: list[tuple[str, Any]], how: str) -> Q:
    made = [Q(**{k: ([v] if k.endswith("__in") else v)}) for k, v in parts]
    if not made:
        return Q()
    q = made[0]
    for other in made[1:]:
        q = q & other if how == "and" else q | other
    return ~q if how == "not" else q


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(items, min_size=1, max_size=8),
    st.lists(lookups, max_size=3),
    st.sampled_from(["and", "or", "not"]),
)
def test_sql_never_drops_a_row_the_lookup_keeps(
    datas: list[dict[str, Any]], parts: list[tuple[str, Any]], how: str
) -> None:
    try:
        q = _q(parts, how)
        pred = compile_q(Item, q)
    except so.InvalidLookup:
        return
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE objects (bucket TEXT, id TEXT, version INTEGER, data TEXT)")
    objs = []
    for n, data in enumerate(datas):
        conn.execute(
            "INSERT INTO objects VALUES ('items', ?, 1, ?)",
            (f"i{n}", json.dumps(data, ensure_ascii=False)),
        )
        objs.append(Item.from_document(f"i{n}", 1, data))
    where, params = where_of(Item, [q])
    kept = {r[0] for r in conn.execute(f"SELECT id FROM objects WHERE {where}", params)}
    for obj in objs:
        if pred(obj):
            assert obj.id in kept, (q, obj)


def test_aliased_fields_are_read_under_their_stored_key() -> None:
    where, params = where_of(Item, [Q(label="x")])
    assert "the_label" in where and params == ["x"]


def test_a_prefix_range_is_pushed_as_a_range() -> None:
    where, params = where_of(Item, [Q(name__startswith="ab")])
    assert ">=" in where and "<" in where and params == ["ab", "ac"]
    assert _successor("a\U0010ffff") == "b"
    assert _successor("\U0010ffff") is None
    assert _successor("\ud7ff") == "\ue000"


@pytest.mark.parametrize(
    "q",
    [Q(name__icontains="a"), Q(name__isnull=True), ~Q(n=1), Q(n=1) | Q(name__icontains="x")],
)
def test_what_sql_cannot_state_is_left_to_the_check(q: Q) -> None:
    assert where_of(Item, [q]) == ("1", [])


def test_json_paths_take_plain_keys_only() -> None:
    assert json_path(["a", "b_1"]) == '$."a"."b_1"'
    assert json_path(["a'b"]) is None and json_path(['a"']) is None and json_path([""]) is None
