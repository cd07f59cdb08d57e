"""Pure: the object at each version of a round, from its ghost and the round's diffs.

:class:`RoundStates` walks a round's changes in feed order. Each object starts from its ghost;
a change whose ``sv`` is the version the walk holds gets its diff applied (a creation's diff
applies to ``{}``). Where that is not possible (no ghost, a ghost at another version, a diff
that does not fit), the state a *wanted* change needs is asked for in ``needs``: the caller
reads that version (``i/{id}/v/{n}``) or the object's current state, tells :meth:`learn`, and
replays. Nothing is guessed: a state comes from a diff applied to a known state, or from a
read at that very version.

When a version cannot be read at all (the server no longer keeps it), the caller calls
:meth:`give_up`: that object's unreadable versions then fold into the next version the round
knows (with the union of their fields), or, at the round's end, into the newest state learned
(with every field counted as changed). Unreadable versions of an object deleted since are
dropped (:attr:`Replay.lost`); its delete is still signalled.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from simperium_orm.errors import InvalidDiff
from simperium_orm.jsondiff import apply
from simperium_orm.jsondiff.ops import copy
from simperium_orm.listen.decode import Change, Kind
from simperium_orm.listen.ghosts import Ghost

__all__ = ["Replay", "RoundStates", "Step", "base_version"]

#: An object's state during the walk: ``(version, data)``; data None once deleted.
_State = tuple[int, Mapping[str, Any] | None]


class Step(NamedTuple):
    """A change to signal, with the object at ``version`` (None for a delete, or not needed)."""

    change: Change
    kind: Kind
    version: int
    data: Mapping[str, Any] | None
    fields: frozenset[str]
    #: the change's place in the round (a fold takes its last change's)
    position: int


@dataclass
class Replay:
    """What one walk over the round found."""

    #: the changes to signal whose state is known (and deletes), in feed order
    steps: list[Step] = field(default_factory=list)
    #: object name -> its first wanted change whose state is unknown (read at :func:`base_version`)
    needs: dict[str, Change] = field(default_factory=dict)
    #: object name -> its state after the round (None: deleted, or not known)
    finals: dict[str, Ghost | None] = field(default_factory=dict)
    #: wanted changes whose state the server no longer has (their object was deleted since)
    lost: list[Change] = field(default_factory=list)


class RoundStates:
    """A round's changes, the states known for their objects, and replays over them.

    ``wanted`` holds the positions of the changes whose state is needed (every signalled
    modification, or in a folding listener only the last of each run); other changes are
    applied when their base is known, and skipped otherwise.
    """

    def __init__(
        self,
        changes: Sequence[Change],
        ghosts: Mapping[str, Ghost],
        wanted: Collection[int],
    ) -> None:
        self.changes = changes
        self.ghosts = ghosts
        self.wanted = wanted
        self.known: dict[str, dict[int, Mapping[str, Any]]] = {}
        self.gaps: set[str] = set()

    def learn(self, name: str, version: int, data: Mapping[str, Any]) -> None:
        """The server had object ``name`` as ``data`` at ``version``."""
        self.known.setdefault(name, {})[version] = data

    def give_up(self, name: str) -> None:
        """The versions ``name`` needs cannot be read: fold them (see the module's docstring)."""
        self.gaps.add(name)

    def replay(self) -> Replay:
        """Walk the round with what is known now."""
        out = Replay()
        running: dict[str, _State | None] = {}
        pending: dict[str, list[tuple[int, Change]]] = {}
        for position, change in enumerate(self.changes):
            name = change.name
            state = running[name] if name in running else self._ghost_state(name)
            if change.kind == "deleted":
                running[name] = (change.ev, None)
                out.lost.extend(c for _, c in pending.pop(name, []))
                if change.emit:
                    out.steps.append(
                        Step(change, "deleted", change.ev, None, frozenset(), position)
                    )
                continue
            data = self._state_after(change, state)
            running[name] = None if data is None else (change.ev, data)
            if not change.emit:
                continue
            if data is None and name in self.gaps:
                pending.setdefault(name, []).append((position, change))
            elif data is None and position in self.wanted:
                out.needs.setdefault(name, change)
            else:
                folded = [c for _, c in pending.pop(name, [])]
                out.steps.append(_fold(change, change.ev, data, folded, position, False))
        for name, waiting in pending.items():
            step = self._newest(name, waiting)
            if step is None:
                out.lost.extend(c for _, c in waiting)
            else:
                out.steps.append(step)
                running[name] = (step.version, step.data)
        if pending:
            out.steps.sort(key=lambda s: s.position)
        for name, state in running.items():
            version, data = state if state is not None else (0, None)
            out.finals[name] = None if data is None else Ghost(version, data)
        return out

    # -- one change ----------------------------------------------------------------------

    def _ghost_state(self, name: str) -> _State | None:
        ghost = self.ghosts.get(name)
        return None if ghost is None else (ghost.version, ghost.data)

    def _state_after(self, change: Change, state: _State | None) -> Mapping[str, Any] | None:
        """The object after ``change``, when it can be known; else None."""
        known = self.known.get(change.name)
        if known is not None and change.ev in known:
            return known[change.ev]
        ghost = self.ghosts.get(change.name)
        if ghost is not None and ghost.version == change.ev:
            return dict(copy(ghost.data))  # a round heard again: the store's data stays its own
        if change.diff is None:
            return None
        base: Mapping[str, Any] | None = None
        if change.sv is None:
            base = {}
        elif state is not None and state[0] == change.sv:
            base = state[1]
        elif known is not None:
            base = known.get(change.sv)
        if base is None:
            return None
        try:
            return apply(base if isinstance(base, dict) else dict(base), change.diff)
        except (InvalidDiff, ValueError, TypeError, RecursionError):
            return None  # a diff that does not fit: the state is read instead

    def _newest(self, name: str, waiting: list[tuple[int, Change]]) -> Step | None:
        """Unreadable versions folded into the newest state learned for ``name``, if newer."""
        known = self.known.get(name, {})
        last = waiting[-1][1]
        newer = [v for v in known if v > last.ev]
        if not newer:
            return None
        version = max(newer)
        data = known[version]
        folded = [c for _, c in waiting]
        # Versions after the round's went unseen: any field may have changed.
        return _fold(last, version, data, folded[:-1], waiting[-1][0], True)


def base_version(change: Change) -> int:
    """The version to read for ``change``: the one its diff starts from (a creation's own)."""
    return change.sv if change.sv is not None else change.ev


def _fold(
    change: Change,
    version: int,
    data: Mapping[str, Any] | None,
    folded: list[Change],
    position: int,
    every_field: bool,
) -> Step:
    """A step for ``change`` that also stands for the unreadable ``folded`` changes before it."""
    if not folded and not every_field:
        return Step(change, change.kind, version, data, change.fields, position)
    fields = set(change.fields)
    for earlier in folded:
        fields |= earlier.fields
    if every_field and data is not None:
        fields |= set(data)
    kind = folded[0].kind if folded else change.kind
    return Step(change, kind, version, data, frozenset(fields), position)
