"""Decoding a change-feed round into one change per version (pure)."""

from __future__ import annotations

from typing import Any

from simperium_orm.listen.decode import decode_round, split_id


def m(id: str, ev: int, keys: list[str], *, sv: int | None = None, **extra: Any) -> dict[str, Any]:
    change: dict[str, Any] = {
        "id": id,
        "o": "M",
        "ev": ev,
        "cv": f"{ev:024x}",
        "v": {k: {"o": "+", "v": 1} for k in keys},
        "clientid": extra.pop("clientid", "other"),
        **extra,
    }
    if sv is not None:
        change["sv"] = sv
    return change


def rm(id: str, ev: int) -> dict[str, Any]:
    return {"id": id, "o": "-", "sv": ev - 1, "ev": ev, "cv": f"{ev:024x}", "clientid": "other"}


def test_one_change_per_version_in_feed_order() -> None:
    raw = [m("a", 1, ["t"]), m("a", 2, ["d"], sv=1), rm("a", 3), m("a", 4, ["n"])]
    out = decode_round(raw).changes
    assert [(c.kind, c.id, c.sv, c.ev, c.fields) for c in out] == [
        ("created", "a", None, 1, {"t"}),
        ("updated", "a", 1, 2, {"d"}),
        ("deleted", "a", 3 - 1, 3, frozenset()),
        ("created", "a", None, 4, {"n"}),  # created again after its delete
    ]
    assert [c.raw for c in out] == raw
    assert out[2].diff is None and all(c.emit for c in out)


def test_own_changes_and_delivered_versions_are_kept_but_not_emitted() -> None:
    raw = [m("a", 1, ["t"], clientid="me"), m("b", 4, ["t"], sv=3), m("b", 5, ["t"], sv=4)]
    out = decode_round(raw, own_clientid="me", delivered={"b": 4}).changes
    assert [(c.name, c.ev, c.emit) for c in out] == [
        ("a", 1, False),
        ("b", 4, False),
        ("b", 5, True),
    ]


def test_errors_whole_bucket_operations_and_malformed_entries() -> None:
    round_ = decode_round(
        [
            {"id": "b", "error": 409},
            {"id": "todo", "o": "EMPTY", "cv": "01"},
            {"id": "c", "o": "M", "v": {}},  # no ev
            {"o": "M", "ev": 1},  # no id
            m("d", 1, ["t"]),
            {"id": "e", "o": "M", "ev": 2, "sv": 1, "v": "not a diff"},
        ]
    )
    assert [c.id for c in round_.changes] == ["d", "e"]
    assert round_.changes[1].diff is None  # kept: its state will be read instead
    assert [r.get("id") for r in round_.malformed] == ["c", None]
    assert round_.whole_bucket
    assert decode_round([{"id": "x", "o": "M", "ev": True}]).malformed  # ev must be an integer
    assert not decode_round([m("d", 1, [])]).whole_bucket


def test_a_start_version_that_is_not_a_positive_integer_is_a_creation() -> None:
    out = decode_round([m("a", 1, ["t"], sv=0), {**m("b", 1, ["t"]), "sv": True}]).changes
    assert [(c.kind, c.sv) for c in out] == [("created", None), ("created", None)]


def test_namespaced_ids() -> None:
    out = decode_round([m("u1/a", 1, ["t"]), m("u2/a/b", 2, [], sv=1)], namespaced=True)
    assert [(c.name, c.userid, c.id) for c in out.changes] == [
        ("u1/a", "u1", "a"),
        ("u2/a/b", "u2", "a/b"),
    ]
    assert split_id("u/x/y", namespaced=True) == ("u", "x/y")
    assert split_id("u/x", namespaced=False) == (None, "u/x")
    assert decode_round([m("u/x", 1, [])]).changes[0].userid is None
