"""A folding listener's net effects, and the states each mode needs (pure)."""

from __future__ import annotations

import pytest

from simperium_orm.listen.coalesce import coalesce, wanted_positions
from simperium_orm.listen.decode import Change, Kind
from simperium_orm.listen.replay import Step


def step(name: str, kind: Kind, version: int, fields: str = "", position: int = 0) -> Step:
    change = Change(name, name, None, kind, None, version, None, {"id": name}, True)
    data = None if kind == "deleted" else {"v": version}
    return Step(change, kind, version, data, frozenset(fields.split()), position)


def run(*kinds: Kind, first: int = 1) -> list[Step]:
    fields = ["" if kind == "deleted" else f"f{n}" for n, kind in enumerate(kinds)]
    return [step("a", k, first + n, fields[n], n) for n, k in enumerate(kinds)]


@pytest.mark.parametrize(
    ("kinds", "net"),
    [
        (["created", "updated", "updated"], [("created", 3, {"f0", "f1", "f2"})]),
        (["created", "deleted"], []),
        (["created", "updated", "deleted"], []),
        (["updated", "deleted"], [("deleted", 2, set())]),
        (["updated", "updated"], [("updated", 2, {"f0", "f1"})]),
        (["deleted"], [("deleted", 1, set())]),
        (["updated"], [("updated", 1, {"f0"})]),
        (["deleted", "created", "updated"], [("deleted", 1, set()), ("created", 3, {"f1", "f2"})]),
    ],
)
def test_net_effect_of_one_objects_round(
    kinds: list[Kind], net: list[tuple[str, int, set[str]]]
) -> None:
    out = coalesce(run(*kinds))
    assert [(str(s.kind), s.version, set(s.fields)) for s in out] == net
    for folded in out:
        if folded.kind != "deleted":
            assert folded.data == {"v": folded.version}  # the last state


def test_net_effects_come_in_the_order_of_each_objects_last_change() -> None:
    steps = [step("a", "created", 1, position=0), step("b", "created", 1, position=1)]
    steps.append(step("a", "updated", 2, position=2))
    assert [(s.change.name, s.position) for s in coalesce(steps)] == [("b", 1), ("a", 2)]


def test_wanted_states() -> None:
    def change(name: str, kind: Kind, emit: bool = True) -> Change:
        return Change(name, name, None, kind, None, 1, None, {}, emit)

    changes = [
        change("a", "created"),
        change("b", "updated"),
        change("a", "updated"),
        change("b", "deleted"),
        change("c", "updated", emit=False),
        change("a", "updated", emit=False),
    ]
    assert wanted_positions(changes, coalesce=False) == {0, 1, 2}
    assert wanted_positions(changes, coalesce=True) == {2}  # b ends deleted; c and a's last: own
