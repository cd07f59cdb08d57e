"""Cross-checks with node-simperium's jsondiff, the code Simplenote's desktop app runs.

``simperium@1.1.4`` is installed with npm into ``build/`` (ignored by git) and driven through
``node_jsondiff.js``: every case of this module goes to one node process. Random objects, lists
and strings with astral characters, combining marks and CRLF are diffed by each side and applied
by the other, and both must give the target exactly. Concurrent edits of different keys, and of
one text in distant places of natural text, must merge to node's result.

Where node is wrong, the case is left out of those checks on purpose and its behaviour is
pinned by a test of its own (docs/jsondiff.md lists them): ``transform_object_diff`` returns
after the first key both diffs touch, and returns nothing when they share none; applying a diff
copies ``null`` as ``{}``; keys that name ``Object.prototype`` members (``constructor``...) break
diffing; a list diff's ``+`` replaces; and text merges are fuzzy, so repetitive text can merge
elsewhere. The generators below therefore use no ``null``, no such keys, no list diffs, edit one
shared key (a text) in the merges, and keep those edits apart in text of distinct words.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from simperium_orm.jsondiff import apply, diff, json_equal, transform, validate

VERSION = "1.1.4"
ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "build" / f"node-simperium-{VERSION}"
SCRIPT = Path(__file__).with_name("node_jsondiff.js")
SEED = 20240611

JSONDict = dict[str, Any]
Case = dict[str, Any]


# ---------------------------------------------------------------------------- node side


def _installed() -> bool:
    manifest = INSTALL / "node_modules" / "simperium" / "package.json"
    return manifest.exists() and json.loads(manifest.read_text())["version"] == VERSION


def _install(npm: str) -> None:
    """npm-install simperium@VERSION into INSTALL (once: later runs reuse it)."""
    if _installed():
        return
    INSTALL.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=INSTALL.parent, prefix=f"{INSTALL.name}-"))
    try:
        (tmp / "package.json").write_text('{"private": true}\n')
        command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"]
        run = subprocess.run(
            [*command, f"simperium@{VERSION}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if run.returncode != 0:
            pytest.fail(f"npm install simperium@{VERSION} failed:\n{run.stdout}\n{run.stderr}")
        try:
            os.replace(tmp, INSTALL)
        except OSError:
            if not _installed():  # unless another run has just installed it
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_node(node: str, cases: list[Case]) -> list[dict[str, Any]]:
    request = json.dumps({"root": str(INSTALL), "cases": cases})
    run = subprocess.run(
        [node, str(SCRIPT)],
        input=request,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    results: list[dict[str, Any]] = json.loads(run.stdout)
    assert len(results) == len(cases)
    return results


# ------------------------------------------------------------------------ random values

# No Object.prototype names, and nothing at one place could be both a bool and 0 or 1 (node
# counts true and 1 as equal, so it would send no change).
KEYS = ["a", "b", "title", "content", "tags", "n", "😀", "é", "two words", "0"]
CHARS = [*"abcdefgh ", "😀", "😁", "🎉", "𝄞", "é", "e\u0301", "中", "\r\n", "%", "+", "#", "\t"]


def text(rng: random.Random, longest: int = 12) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, longest)))


def scalar(rng: random.Random) -> Any:
    kind = rng.randrange(4)
    if kind == 0:
        return text(rng)
    if kind == 1:
        return rng.choice([-1, 1]) * rng.randint(2, 10**6)
    if kind == 2:
        return round(rng.uniform(2, 1000), 3) * rng.choice([-1, 1])
    return rng.random() < 0.5


def value(rng: random.Random, depth: int = 0) -> Any:
    if depth < 2 and rng.random() < 0.3:
        if rng.random() < 0.5:
            return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return obj(rng, depth + 1)
    return scalar(rng)


def obj(rng: random.Random, depth: int = 0) -> JSONDict:
    return {k: value(rng, depth) for k in rng.sample(KEYS, rng.randint(0, 5))}


def edit_text(rng: random.Random, old: str) -> str:
    new = old
    for _ in range(rng.randint(1, 3)):
        start = rng.randint(0, len(new))
        end = min(len(new), start + rng.choice([0, 0, 1, 2, 5]))
        new = new[:start] + (text(rng, 4) if rng.random() < 0.7 else "") + new[end:]
    return new


def changed(rng: random.Random, old: Any, depth: int = 0) -> Any:
    """A changed copy of ``old``: texts edited in place, objects key by key, others anew."""
    if isinstance(old, str) and rng.random() < 0.8:
        return edit_text(rng, old)
    if isinstance(old, dict) and depth < 2:
        return changed_obj(rng, old, depth + 1)
    if isinstance(old, list) and old and rng.random() < 0.6:
        new = list(old)
        new[rng.randrange(len(new))] = value(rng, 2)
        return new + ([value(rng, 2)] if rng.random() < 0.5 else [])
    return value(rng, depth)


def changed_obj(rng: random.Random, old: JSONDict, depth: int = 0) -> JSONDict:
    new: JSONDict = {}
    for key, item in old.items():
        roll = rng.random()
        if roll < 0.15:
            continue  # removed
        new[key] = changed(rng, item, depth) if roll < 0.6 else item
    for key in rng.sample(KEYS, rng.randint(0, 2)):
        new.setdefault(key, value(rng, depth))
    return new


def round_trip_cases(rng: random.Random, count: int) -> list[tuple[JSONDict, JSONDict]]:
    return [(a, changed_obj(rng, a)) for a in (obj(rng) for _ in range(count))]


# -------------------------------------------------------------- natural text and merges

LETTERS = "abcdefghijklmnopqrstuvwxyz"
ODD_WORDS = ["😀", "🎉", "naïve", "e\u0301té", "中文", "𝄞clef", "line\r\nbreak"]


def word(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(ODD_WORDS) + rng.choice(LETTERS)
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8)))


Edit = tuple[int, int, list[str]]  # replace words[start:end] with these words


def word_edit(rng: random.Random, at: int) -> Edit:
    """Insert words before word ``at``, delete it, or replace it."""
    kind = rng.randrange(3)
    if kind == 0:
        return at, at, [word(rng) for _ in range(rng.randint(1, 3))]
    return at, at + 1, [] if kind == 1 else [word(rng)]


def edited(words: list[str], *edits: Edit) -> str:
    out = list(words)
    for start, end, new in sorted(edits, reverse=True):
        out[start:end] = new
    return " ".join(out)


def merge_case(rng: random.Random) -> tuple[JSONDict, JSONDict, JSONDict, str]:
    """A base object, two edits of it, and the text both edits should make.

    Both edit the text ``t`` (distinct words, edits far apart) and disjoint sets of other keys.
    """
    words = [word(rng) for _ in range(40)]
    near, far = word_edit(rng, rng.randint(2, 12)), word_edit(rng, rng.randint(27, 37))
    base: JSONDict = {"t": " ".join(words), **obj(rng)}
    base.pop("0", None)
    keys = [k for k in KEYS if k != "0"]
    rng.shuffle(keys)
    a, b = dict(base), dict(base)
    for target, own in ((a, keys[:4]), (b, keys[4:8])):
        for key in own:
            if key in base and rng.random() < 0.2:
                del target[key]
            elif rng.random() < 0.7:
                target[key] = changed(rng, base[key]) if key in base else value(rng)
    if rng.random() < 0.5:
        near, far = far, near
    a["t"], b["t"] = edited(words, near), edited(words, far)
    a["0"] = "a's own key, last in a's key order"  # a key only in a, after the shared one
    return base, a, b, edited(words, near, far)


# ------------------------------------------------------------------------ every case

rng = random.Random(SEED)
ROUND_TRIPS = round_trip_cases(rng, 250)
MERGES = [merge_case(rng) for _ in range(150)]
REPETITIVE = [("baaaabab", "abaaaababaaaaabab", "aaaabaaaabab"), ("baa", "aaaabbab", "abaa")]
QUIRKS: dict[str, Case] = {
    "null": {"op": "apply", "obj": {"a": None, "b": 1}, "diff": {"b": {"o": "r", "v": 2}}},
    "constructor": {"op": "diff", "a": {"constructor": 1}, "b": {}},
    "first key only": {
        "op": "transform",
        "a": {"x": {"o": "d", "v": "=3\t+A"}, "y": {"o": "d", "v": "=3\t+B"}},
        "b": {"x": {"o": "d", "v": "+C\t=3"}, "y": {"o": "d", "v": "+D\t=3"}},
        "base": {"x": "xxx", "y": "yyy"},
    },
    "no shared key": {
        "op": "transform",
        "a": {"x": {"o": "r", "v": 2}},
        "b": {"y": {"o": "r", "v": 3}},
        "base": {"x": 1, "y": 1},
    },
    "list insert": {
        "op": "apply",
        "obj": {"l": [1, 2]},
        "diff": {"l": {"o": "L", "v": {"1": {"o": "+", "v": 9}}}},
    },
}


def all_cases() -> dict[str, list[Case]]:
    return {
        "apply": [{"op": "apply", "obj": a, "diff": diff(a, b)} for a, b in ROUND_TRIPS],
        "diff": [{"op": "diff", "a": a, "b": b} for a, b in ROUND_TRIPS],
        "merge": [{"op": "merge", "base": s, "a": a, "b": b} for s, a, b, _t in MERGES],
        "repetitive": [
            {"op": "merge", "base": {"t": s}, "a": {"t": a}, "b": {"t": b}}
            for s, a, b in REPETITIVE
        ],
        "quirks": list(QUIRKS.values()),
    }


@pytest.fixture(scope="module")
def node_results() -> dict[str, list[dict[str, Any]]]:
    """Every case of this module, run by node-simperium's jsondiff in one node process."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to compare with node-simperium's jsondiff")
    _install(npm)
    groups = all_cases()
    flat = [case for cases in groups.values() for case in cases]
    results = iter(_run_node(node, flat))
    return {name: [next(results) for _ in cases] for name, cases in groups.items()}


def value_of(result: dict[str, Any]) -> Any:
    assert "error" not in result, result["error"]
    return result.get("value")


# ------------------------------------------------------------------------------ checks


@pytest.mark.timeout(600)  # the first test may wait for npm
def test_node_applies_python_diffs_exactly(node_results: dict[str, list[Any]]) -> None:
    for (a, b), result in zip(ROUND_TRIPS, node_results["apply"], strict=True):
        assert json_equal(value_of(result), b), (a, b, diff(a, b), result)


def test_python_applies_node_diffs_exactly(node_results: dict[str, list[Any]]) -> None:
    for (a, b), result in zip(ROUND_TRIPS, node_results["diff"], strict=True):
        node_diff = value_of(result)
        validate(node_diff)
        assert json_equal(apply(a, node_diff), b), (a, b, node_diff)


def test_edits_of_different_keys_and_distant_text_merge_as_node_merges(
    node_results: dict[str, list[Any]],
) -> None:
    for (base, a, b, both), result in zip(MERGES, node_results["merge"], strict=True):
        theirs = value_of(result)
        assert theirs["transformed"]
        da, db = diff(base, a), diff(base, b)
        merged = apply(apply(base, db), transform(da, db, base))
        assert merged["t"] == both  # both edits, each where it was made
        assert json_equal(merged, theirs["merged"]), (base, a, b)
        # The server takes changes in either order: the other way round merges alike.
        assert json_equal(apply(apply(base, da), transform(db, da, base)), merged)


# ----------------------------------------------------- where node is wrong, pinned down


def test_node_copies_null_as_an_empty_object(node_results: dict[str, list[Any]]) -> None:
    result = value_of(node_results["quirks"][list(QUIRKS).index("null")])
    assert result == {"a": {}, "b": 2}
    assert apply({"a": None, "b": 1}, {"b": {"o": "r", "v": 2}}) == {"a": None, "b": 2}


def test_node_cannot_diff_keys_named_like_object_members(
    node_results: dict[str, list[Any]],
) -> None:
    # "constructor" in {} is true in JavaScript, so the removal is not seen as one.
    result = value_of(node_results["quirks"][list(QUIRKS).index("constructor")])
    assert result != {"constructor": {"o": "-"}}
    assert diff({"constructor": 1}, {}) == {"constructor": {"o": "-"}}


def test_node_transform_stops_after_the_first_shared_key(
    node_results: dict[str, list[Any]],
) -> None:
    case = QUIRKS["first key only"]
    result = value_of(node_results["quirks"][list(QUIRKS).index("first key only")])
    assert result["y"] == case["a"]["y"]  # left as it was, though b changed "y" too
    merged = apply(apply(case["base"], case["b"]), transform(case["a"], case["b"], case["base"]))
    assert merged == {"x": "CxxxA", "y": "DyyyB"}


def test_node_transform_of_diffs_sharing_no_key_returns_nothing(
    node_results: dict[str, list[Any]],
) -> None:
    # node-simperium's channel then queues none of the local change: it is dropped.
    result = node_results["quirks"][list(QUIRKS).index("no shared key")]
    assert result == {"undefined": True}
    case = QUIRKS["no shared key"]
    assert transform(case["a"], case["b"], case["base"]) == case["a"]


def test_node_list_insert_replaces(node_results: dict[str, list[Any]]) -> None:
    case = QUIRKS["list insert"]
    assert value_of(node_results["quirks"][list(QUIRKS).index("list insert")]) == {"l": [1, 9]}
    assert apply(case["obj"], case["diff"]) == {"l": [1, 9, 2]}


def test_node_merges_repetitive_text_by_fuzzy_matching(
    node_results: dict[str, list[Any]],
) -> None:
    # Context matching finds another place in repetitive text. Ours merges by position, the
    # same either way round (checked against a reference in tests/jsondiff/test_text_merge.py).
    node_says = ["aaaaabaaaabaaaaaababb", "aaaaabbba"]
    we_say = ["aaaaabaaaababaaaaabab", "aaaaabbab"]
    for (base, x, y), result, theirs, ours in zip(
        REPETITIVE, node_results["repetitive"], node_says, we_say, strict=True
    ):
        assert value_of(result)["merged"]["t"] == theirs
        old = {"t": base}
        dx, dy = diff(old, {"t": x}), diff(old, {"t": y})
        assert apply(apply(old, dy), transform(dx, dy, old))["t"] == ours
        assert apply(apply(old, dx), transform(dy, dx, old))["t"] == ours
