"""Pure: which states a round needs, and a folding listener's net effect per object.

By default every signalled modification needs the object at its version. A folding listener
(``coalesce=True``) signals each object's net effect over the round instead, so it needs only
the state after each object's last modification (and none for an object whose run ends in a
delete). Runs are split by deletes:

=================================  ==============================================
an object's changes in the round   net effect
=================================  ==============================================
created, updated...                one ``created``: the last state
updated, updated...                one ``updated``: the union of the changed fields
created..., deleted                nothing
updated..., deleted                ``deleted``
deleted                            ``deleted``
=================================  ==============================================

A delete followed by a creation is two runs: ``deleted`` then ``created``. Net effects come in
the order of each run's last change.
"""

from __future__ import annotations

from collections.abc import Sequence

from simperium_orm.listen.decode import Change, Kind
from simperium_orm.listen.replay import Step

__all__ = ["coalesce", "wanted_positions"]


def wanted_positions(changes: Sequence[Change], *, coalesce: bool) -> set[int]:
    """The positions of the changes whose state is needed to signal the round."""
    if not coalesce:
        return {n for n, c in enumerate(changes) if c.emit and c.kind != "deleted"}
    last: dict[str, int] = {}
    for n, change in enumerate(changes):
        if not change.emit:
            continue
        if change.kind == "deleted":
            last.pop(change.name, None)
        else:
            last[change.name] = n
    return set(last.values())


def coalesce(steps: Sequence[Step]) -> list[Step]:
    """Fold a round's steps into each object's net effect (see the module's docstring)."""
    runs: dict[str, list[Step]] = {}
    net: list[Step] = []
    for step in steps:
        name = step.change.name
        run = runs.setdefault(name, [])
        run.append(step)
        if step.kind == "deleted":
            del runs[name]
            if run[0].kind != "created":
                net.append(step)
    for run in runs.values():
        last = run[-1]
        if len(run) == 1:
            net.append(last)
            continue
        fields = frozenset().union(*(s.fields for s in run))
        kind: Kind = "created" if run[0].kind == "created" else "updated"
        net.append(Step(last.change, kind, last.version, last.data, fields, last.position))
    net.sort(key=lambda s: s.position)
    return net
