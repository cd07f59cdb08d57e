"""jsondiff text-merge benchmarks: pure Python, no server (``python -m bench bench_jsondiff``).

Measured, each pair timed turn about (medians):

1. merging two concurrent edits of an emoji-heavy note vs an ASCII note of the same number of
   characters, at 1,000, 10,000 and 100,000 characters: target <= 2x. A merge is what the
   server does with a stale change: ``transform`` over the other edit, then ``apply``. One edit
   inserts a passage a tenth as long as the note, the other rewrites a passage as long
   elsewhere; every merge uses a fresh pair of diffs;
2. one ``transform`` of two 1,000-character edits of a 100,000-character note, ASCII and
   emoji-heavy: target <= 2 ms each (an absolute time, the median of the runs).

The notes are random words. The emoji-heavy note is the ASCII one with five letters spelt as
emoji (about a third of its characters; each is two UTF-16 units), so both have the same
length and their diffs the same shape: only the astral characters differ. ``BENCH_SCALE``
shrinks every size.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from _report import Report, Result, paired, scaled

from simperium_orm import jsondiff

BENCH = "jsondiff"
SIZES = [scaled(1_000, 100), scaled(10_000, 200), scaled(100_000, 1_000)]
BIG = scaled(100_000, 1_000)
EDIT = scaled(1_000, 20)
WORDS = "the quick brown fox jumps over a lazy dog while we sync notes across every device"
EMOJI = str.maketrans({"a": "😀", "e": "🎉", "o": "🚀", "t": "👍", "s": "🙂"})
RUNS = 9

Case = tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]


def note(rng: random.Random, size: int) -> str:
    """``size`` characters of random words."""
    words = WORDS.split()
    text = ""
    while len(text) < size:
        text += " ".join(rng.choices(words, k=max(1, size // 4))) + " "
    return text[:size]


def case(rng: random.Random, size: int, edit: int) -> tuple[Case, Case]:
    """A note and two concurrent edits of it, in ASCII and in the same text with emoji.

    Each is the note, the two edits as diffs, and the note after the first edit. The first
    edit inserts ``edit`` new characters a quarter of the way in; the second replaces ``edit``
    characters three fifths of the way in with as many new ones.
    """
    text = note(rng, size)
    at, cut = size // 4, size * 3 // 5
    x = text[:at] + note(rng, edit) + text[at:]
    y = text[:cut] + note(rng, edit) + text[cut + edit :]
    out = []
    for table in ({}, EMOJI):
        base = {"title": "bench", "t": text.translate(table)}
        dx = jsondiff.diff(base, {**base, "t": x.translate(table)})
        dy = jsondiff.diff(base, {**base, "t": y.translate(table)})
        out.append((base, dx, dy, jsondiff.apply(base, dx)))
    return out[0], out[1]


def merges(cases: list[Case]) -> Callable[[], None]:
    """Merge every case once, as the server merges a stale change over a newer one."""

    def merge_all() -> None:
        for base, dx, dy, after_x in cases:
            jsondiff.apply(after_x, jsondiff.transform(dy, dx, base), checked=True)

    return merge_all


def bench_emoji_vs_ascii(report: Report) -> None:
    rng = random.Random(7)
    for size in SIZES:
        edit = max(10, size // 10)
        count = max(3, 40_000 // size)  # merges per timed run, so a run takes a few ms
        # Each merge of each run has diffs of its own, so nothing read once is reused.
        pairs = [[case(rng, size, edit) for _ in range(count)] for _ in range(RUNS)]
        ascii_runs = iter([merges([pair[0] for pair in run]) for run in pairs])
        emoji_runs = iter([merges([pair[1] for pair in run]) for run in pairs])
        subject, baseline = paired(
            lambda runs=emoji_runs: next(runs)(), lambda runs=ascii_runs: next(runs)(), RUNS
        )
        report.add(Result(
            BENCH, f"merge two edits of a {size:,}-character note: emoji-heavy / ASCII",
            subject / baseline, "x", 2,
            detail=f"emoji {subject / count * 1e3:.3f} ms, ASCII {baseline / count * 1e3:.3f} ms"
            f" a merge; edits of {edit:,} characters",
        ))  # fmt: skip


def bench_big_note(report: Report) -> None:
    rng = random.Random(11)
    pairs = [case(rng, BIG, EDIT) for _ in range(15)]
    for kind, cases in (("ASCII", [p[0] for p in pairs]), ("emoji-heavy", [p[1] for p in pairs])):
        times = []
        for base, dx, dy, _after in cases:
            started = time.perf_counter()
            jsondiff.transform(dy, dx, base)
            times.append(time.perf_counter() - started)
        report.add(Result(
            BENCH, f"transform two {EDIT:,}-character edits of a {BIG:,}-character {kind} note",
            statistics.median(times) * 1e3, " ms", 2,
            detail=f"median of {len(times)}, each a fresh pair of diffs; "
            f"slowest {max(times) * 1e3:.2f} ms",
        ))  # fmt: skip


def run(report: Report) -> None:
    bench_emoji_vs_ascii(report)
    bench_big_note(report)


if __name__ == "__main__":
    run(Report())
