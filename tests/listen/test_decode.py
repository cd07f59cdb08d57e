"""Folding a change-feed round into per-object remote events (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simperium_orm.listen.decode import consistent_end, decode_round, end_version, split_id


def m(
    id: str, ev: int, cv: str, keys: list[str], *, sv: int | None = None, **extra: Any
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "id": id,
        "o": "M",
        "ev": ev,
        "cv": cv,
        "v": {k: {"o": "+", "v": 1} for k in keys},
        "clientid": extra.pop("clientid", "other"),
        **extra,
    }
    if sv is not None:
        change["sv"] = sv
    return change


def rm(id: str, ev: int, cv: str) -> dict[str, Any]:
    return {"id": id, "o": "-", "ev": ev, "cv": cv, "clientid": "other"}


def test_created_updated_deleted() -> None:
    out = decode_round([m("a", 1, "01", ["t"]), m("b", 3, "02", ["x"], sv=2), rm("c", 4, "03")])
    assert [(e.kind, e.id, e.version) for e in out] == [
        ("created", "a", 1),
        ("updated", "b", 3),
        ("deleted", "c", 4),
    ]
    assert out[1].changed_fields == {"x"}


def test_changes_to_one_object_fold_into_one_event() -> None:
    out = decode_round(
        [m("a", 1, "01", ["t"]), m("b", 2, "02", ["y"], sv=1), m("a", 2, "03", ["d"], sv=1)]
    )
    assert [(e.kind, e.id, e.version) for e in out] == [("updated", "b", 2), ("created", "a", 2)]
    assert out[1].changed_fields == {"t", "d"}
    assert out[1].change["cv"] == "03"


def test_delete_then_recreate_is_a_creation() -> None:
    out = decode_round([m("a", 5, "01", ["t"], sv=4), rm("a", 6, "02"), m("a", 1, "03", ["n"])])
    assert [(e.kind, e.version, e.changed_fields) for e in out] == [("created", 1, {"n"})]


def test_own_changes_and_errors_are_skipped() -> None:
    out = decode_round(
        [m("a", 1, "01", ["t"], clientid="me"), {"id": "b", "error": 409}, m("c", 1, "02", [])],
        own_clientid="me",
    )
    assert [e.id for e in out] == ["c"]


def test_namespaced_ids_and_data() -> None:
    out = decode_round(
        [m("u1/a", 1, "01", ["t"], d={"t": 1}), m("u2/a", 2, "02", [], sv=1, d=None)],
        namespaced=True,
    )
    assert [(e.userid, e.id, e.has_data, e.data) for e in out] == [
        ("u1", "a", True, {"t": 1}),
        ("u2", "a", True, None),
    ]
    assert split_id("u/x/y", namespaced=True) == ("u", "x/y")
    assert split_id("u/x", namespaced=False) == (None, "u/x")


ops = st.lists(
    st.tuples(st.sampled_from("abc"), st.booleans(), st.lists(st.sampled_from("xyz"), max_size=2)),
    max_size=30,
)


@given(ops)
def test_one_event_per_object_with_its_last_version(seq: list[tuple[str, bool, list[str]]]) -> None:
    changes = []
    versions: dict[str, int] = {}
    for n, (obj, delete, keys) in enumerate(seq):
        versions[obj] = versions.get(obj, 0) + 1
        cv = f"{n:024x}"
        changes.append(
            rm(obj, versions[obj], cv) if delete else m(obj, versions[obj], cv, keys, sv=1)
        )
    out = decode_round(changes)
    assert len({e.id for e in out}) == len(out) == len({c["id"] for c in changes})
    for event in out:
        assert event.version == versions[event.id]
        last = [c for c in changes if c["id"] == event.id][-1]
        assert (event.kind == "deleted") == (last["o"] == "-")
    last_cvs = [event.change["cv"] for event in out]
    assert last_cvs == sorted(last_cvs)


def test_whole_bucket_operations_are_skipped() -> None:
    out = decode_round([{"id": "todo", "o": "EMPTY", "cv": "01"}, m("a", 1, "02", ["t"])])
    assert [e.id for e in out] == ["a"]


def test_consistent_end_cuts_before_an_object_that_moved_on() -> None:
    changes = [m("y", 1, "01", ["t"]), m("x", 1, "02", ["t"]), m("z", 1, "03", ["t"])]
    assert consistent_end(changes, {"y": 1, "x": 1, "z": 1}) == 3
    assert consistent_end(changes, {"y": 1, "x": 2, "z": 1}) == 1  # x changed after the round
    assert consistent_end(changes, {"y": 2, "x": 1}) == 0  # even the first one moved on
    assert consistent_end([], {}) == 0


def test_consistent_end_also_cuts_objects_changed_on_both_sides_of_the_cut() -> None:
    changes = [
        m("a", 1, "01", ["t"]),
        m("b", 1, "02", ["t"]),
        m("a", 2, "03", ["u"], sv=1),
        m("c", 1, "04", ["t"]),
    ]
    # c moved on: cut before c, at 3; a and b are complete there.
    assert consistent_end(changes, {"a": 2, "b": 1, "c": 2}) == 3
    # b moved on: cut at 1; a then ends at v1 in the prefix but is at v2: cut at 0.
    assert consistent_end(changes, {"a": 2, "b": 2, "c": 1}) == 0
    # The listener's own later change counts: not a reason to cut.
    own = [*changes, m("c", 2, "05", ["t"], sv=1, clientid="me")]
    assert consistent_end(own, {"a": 2, "b": 1, "c": 2}) == 5


def test_end_version_ignores_non_integers() -> None:
    assert end_version({"ev": 3}) == 3
    assert end_version({"ev": True}) is None
    assert end_version({"ev": "3"}) is None
    assert end_version({}) is None
