"""The object at each version from ghosts and diffs, and what must be read (pure).

A small simulated server writes random histories (creations, updates, deletes, creations
again) and keeps the truth: every object's data at every version. Replays are then checked
against it: a state is either exactly the truth or absent (asked for), never a guess.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simperium_orm import jsondiff
from simperium_orm.listen.coalesce import coalesce, wanted_positions
from simperium_orm.listen.decode import Change, decode_round
from simperium_orm.listen.ghosts import Ghost
from simperium_orm.listen.replay import Replay, RoundStates, Step, base_version


@dataclass
class History:
    """A simulated bucket: its change log and each object's data at each version."""

    log: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    heads: dict[str, tuple[int, dict[str, Any] | None]] = field(default_factory=dict)

    def write(self, item: str, data: dict[str, Any] | None, clientid: str = "phone") -> None:
        version, old = self.heads.get(item, (0, None))
        change: dict[str, Any] = {"id": item, "ev": version + 1, "clientid": clientid}
        change["cv"] = f"{len(self.log):024x}"
        if data is None:
            assert old is not None
            change.update(o="-", sv=version)
        else:
            change.update(o="M", v=jsondiff.diff(old or {}, data))
            if old is not None:
                change["sv"] = version
            self.truth[item, version + 1] = data
        self.log.append(change)
        self.heads[item] = (version + 1, data)

    def random_op(self, rng: random.Random, item: str, clientid: str = "phone") -> None:
        _, data = self.heads.get(item, (0, None))
        if data is None:
            self.write(item, {"title": f"t{rng.randrange(1000)}"}, clientid)
        elif rng.random() < 0.2:
            self.write(item, None, clientid)
        else:
            key = rng.choice(["title", "done", "n", "tags"])
            new = dict(data)
            new[key] = len(self.log)  # always a new value: never an empty change
            if rng.random() < 0.2 and len(new) > 1:
                del new[rng.choice([k for k in new if k != key])]
            self.write(item, new, clientid)


def history(seed: int, objects: int, before: int, during: int) -> tuple[History, int]:
    """A history and where the round starts in its log."""
    rng = random.Random(seed)
    h = History()
    names = [f"o{n}" for n in range(objects)]
    for _ in range(before):
        h.random_op(rng, rng.choice(names))
    start = len(h.log)
    for _ in range(during):
        h.random_op(rng, rng.choice(names), "me" if rng.random() < 0.15 else "phone")
    return h, start


def ghosts_for(h: History, start: int, rng: random.Random) -> dict[str, Ghost]:
    """Ghosts as a listener may hold them at the round's start: right, stale or missing."""
    at_start: dict[str, tuple[int, dict[str, Any] | None]] = {}
    for change in h.log[:start]:
        at_start[change["id"]] = (change["ev"], h.truth.get((change["id"], change["ev"])))
    ghosts = {}
    for name, (version, data) in at_start.items():
        roll = rng.random()
        if data is not None and roll < 0.5:
            ghosts[name] = Ghost(version, data)
        elif roll < 0.7:  # stale: an older version (it must not be mistaken for the current)
            older = [v for (i, v) in h.truth if i == name and v < version]
            if older:
                ghosts[name] = Ghost(max(older), h.truth[name, max(older)])
    return ghosts


def resolve(states: RoundStates, h: History, readable: set[str] | None = None) -> Replay:
    """What the feed does: read each needed version (from the truth) until nothing is needed."""
    replay = states.replay()
    for _ in range(10):
        if not replay.needs:
            return replay
        for name, change in replay.needs.items():
            version = base_version(change)
            if readable is None or name in readable:
                states.learn(name, version, h.truth[name, version])
            else:  # that version is gone: fold into the current state, if the object has one
                states.give_up(name)
                head, data = h.heads[name]
                if data is not None:
                    states.learn(name, head, data)
        replay = states.replay()
    raise AssertionError("the replay did not settle")


def assert_exact(steps: list[Step], h: History) -> None:
    for step in steps:
        if step.data is not None:
            assert step.data == h.truth[step.change.name, step.version], step


def decode(h: History, start: int) -> list[Change]:
    return decode_round(h.log[start:], own_clientid="me").changes


seeds = st.integers(0, 2**32)


@settings(max_examples=150, deadline=None)
@given(seeds, st.integers(1, 4), st.integers(0, 12), st.integers(1, 30))
def test_every_version_is_exact_and_only_reads_fill_gaps(
    seed: int, objects: int, before: int, during: int
) -> None:
    h, start = history(seed, objects, before, during)
    changes = decode(h, start)
    ghosts = ghosts_for(h, start, random.Random(seed))
    states = RoundStates(changes, ghosts, wanted_positions(changes, coalesce=False))
    first = states.replay()
    assert_exact(first.steps, h)  # before any read: exact where known, asked for otherwise
    for name, change in first.needs.items():
        assert change.emit and change.kind == "updated"
        assert ghosts.get(name) is None or ghosts[name].version != change.sv
    replay = resolve(states, h)
    emitted = [c for c in changes if c.emit]
    assert [(s.change.name, s.version) for s in replay.steps] == [(c.name, c.ev) for c in emitted]
    assert_exact(replay.steps, h)
    assert all(s.data is not None for s in replay.steps if s.kind != "deleted")
    assert all(s.fields == s.change.fields for s in replay.steps)
    for name, final in replay.finals.items():
        version, data = h.heads[name]
        assert final is None or (final.version, final.data) == (version, data)
    assert not replay.lost


@settings(max_examples=150, deadline=None)
@given(seeds, st.integers(1, 4), st.integers(0, 12), st.integers(1, 30))
def test_coalescing_needs_only_each_objects_last_state(
    seed: int, objects: int, before: int, during: int
) -> None:
    h, start = history(seed, objects, before, during)
    changes = decode(h, start)
    wanted = wanted_positions(changes, coalesce=True)
    replay = resolve(RoundStates(changes, {}, wanted), h)
    net = coalesce(replay.steps)
    assert_exact(net, h)
    per_object: dict[str, list[Change]] = {}
    for change in changes:
        if change.emit:
            per_object.setdefault(change.name, []).append(change)
    for name, emitted in per_object.items():
        mine = [s for s in net if s.change.name == name]
        last = emitted[-1]
        if last.kind != "deleted":  # the object's last net effect is its last state
            assert (mine[-1].kind != "deleted", mine[-1].version) == (True, last.ev)
            assert mine[-1].data == h.truth[name, last.ev]
        deletes = sum(c.kind == "deleted" for c in emitted)
        assert len(mine) <= deletes + 1  # at most one net effect per run between deletes
    positions = [s.position for s in net]
    assert positions == sorted(positions)


@settings(max_examples=100, deadline=None)
@given(seeds, st.integers(1, 3), st.integers(1, 12), st.integers(1, 20))
def test_unreadable_versions_fold_into_a_later_exact_state(
    seed: int, objects: int, before: int, during: int
) -> None:
    h, start = history(seed, objects, before, during)
    changes = decode(h, start)
    states = RoundStates(changes, {}, wanted_positions(changes, coalesce=False))
    replay = resolve(states, h, readable=set())
    assert_exact(replay.steps, h)
    for step in replay.steps:
        if step.version != step.change.ev:  # folded into the current state, after the round
            assert step.version == h.heads[step.change.name][0] > step.change.ev
            assert step.fields >= set(step.data or ())
    lost = {(c.name, c.ev) for c in replay.lost}
    signalled = {(s.change.name, s.change.ev) for s in replay.steps}
    for change in changes:  # every emitted version: signalled, folded or reported lost
        if change.emit and (change.name, change.ev) not in signalled | lost:
            later = [s for s in replay.steps if s.change.name == change.name]
            assert any(s.position > changes.index(change) for s in later)


def test_a_ghost_at_the_start_version_needs_no_read() -> None:
    h = History()
    h.write("a", {"title": "one"})
    h.write("a", {"title": "two"})
    h.write("a", {"title": "two", "done": True})
    changes = decode_round(h.log[1:]).changes
    replay = RoundStates(changes, {"a": Ghost(1, {"title": "one"})}, {0, 1}).replay()
    assert not replay.needs
    assert [(str(s.kind), s.version, s.data, set(s.fields)) for s in replay.steps] == [
        ("updated", 2, {"title": "two"}, {"title"}),
        ("updated", 3, {"title": "two", "done": True}, {"done"}),
    ]
    assert replay.finals == {"a": Ghost(3, {"title": "two", "done": True})}


def test_a_stale_ghost_or_a_diff_that_does_not_fit_is_read_not_guessed() -> None:
    h = History()
    for title in ("one", "two", "three"):
        h.write("a", {"title": title})
    changes = decode_round(h.log[2:]).changes
    stale = RoundStates(changes, {"a": Ghost(1, {"title": "one"})}, {0})
    replay = stale.replay()
    assert replay.steps == [] and base_version(replay.needs["a"]) == 2
    stale.learn("a", 2, {"title": "two"})
    assert [s.data for s in stale.replay().steps] == [{"title": "three"}]

    lying = RoundStates(changes, {"a": Ghost(2, {"other": 1})}, {0})  # right version, wrong data
    assert lying.replay().needs  # the diff does not apply: read it


def test_a_round_heard_again_takes_states_from_the_ghost_without_sharing_it() -> None:
    h = History()
    h.write("a", {"title": "one", "tags": ["x"]})
    h.write("a", {"title": "two", "tags": ["x"]})
    changes = decode_round(h.log).changes
    ghost = Ghost(2, {"title": "two", "tags": ["x"]})
    replay = RoundStates(changes, {"a": ghost}, {1}).replay()  # v1 not wanted: delivered already
    [step] = replay.steps[1:]
    assert step.data == ghost.data and step.data is not ghost.data
    assert step.data["tags"] is not ghost.data["tags"]


def test_a_delete_drops_what_could_not_be_read() -> None:
    h = History()
    h.write("a", {"title": "one"})
    h.write("a", {"title": "two"})
    h.write("a", None)
    changes = decode_round(h.log[1:]).changes
    states = RoundStates(changes, {}, {0})
    states.give_up("a")  # deleted: no version of it can be read any more
    replay = states.replay()
    assert [(s.kind, s.version) for s in replay.steps] == [("deleted", 3)]
    assert [(c.name, c.ev) for c in replay.lost] == [("a", 2)]
    assert replay.finals == {"a": None}
