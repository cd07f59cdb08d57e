"""What a benchmark run measured: results against targets, paired timing, and the outputs.

Every result is a number with its target. Comparisons time the subject and its baseline turn
about (A B, B A, ...) in the same run and report the ratio of the medians, so load on the machine
hits both alike; absolute times go into ``detail`` and are printed, never asserted.

A run writes ``bench/results.json``, ``docs/assets/bench.png`` (a chart of every result against
its target) and the table between the ``bench:results`` markers of ``docs/performance.md``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
CHART = ROOT / "docs" / "assets" / "bench.png"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:results -->", "<!-- /bench:results -->"

#: Every size in the benchmarks is multiplied by this (``--scale`` / ``BENCH_SCALE``).
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int, least: int = 1) -> int:
    return max(least, int(n * SCALE))


@dataclass(frozen=True)
class Result:
    """One measured number and the bound it should stay within."""

    bench: str
    label: str
    value: float
    unit: str  # "x" (a ratio), "ms", "MB", "%"
    target: float | None  # None: reported for context, no bound
    better: Literal["lower", "higher"] = "lower"
    detail: str = ""
    stretch: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    @property
    def headroom(self) -> float:
        """Measured over target, turned so that below 1 always means the target is met."""
        assert self.target is not None
        if self.better == "lower":
            return self.value / self.target
        return self.target / self.value if self.value else float("inf")

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        sign = "≤" if self.better == "lower" else "≥"
        text = f"{sign} {_number(self.target)}{self.unit}"
        if self.stretch is not None:
            text += f" (stretch {_number(self.stretch)}{self.unit})"
        return text

    def value_text(self) -> str:
        return f"{_number(self.value)}{self.unit}"

    def line(self) -> str:
        detail = f"  [{self.detail}]" if self.detail else ""
        if self.met is None:
            return f"{self.label}: {self.value_text()}{detail}"
        verdict = "met" if self.met else "MISSED"
        return f"{self.label}: {self.value_text()} (target {self.target_text()}: {verdict}){detail}"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass
class Report:
    """Results of a run, printed as they come."""

    results: list[Result] = field(default_factory=list)
    echo: Callable[[str], None] = print

    def add(self, result: Result) -> Result:
        self.results.append(result)
        self.echo(f"  {result.line()}")
        return result

    def note(self, text: str) -> None:
        self.echo(f"  {text}")


def paired(
    subject: Callable[[], object], baseline: Callable[[], object], runs: int = 7
) -> tuple[float, float]:
    """Median seconds of ``subject`` and ``baseline``, run turn about ``runs`` times each."""
    if runs < 5:
        raise ValueError("medians of at least 5 runs")
    a: list[float] = []
    b: list[float] = []
    for n in range(runs):
        order = ((subject, a), (baseline, b)) if n % 2 == 0 else ((baseline, b), (subject, a))
        for fn, times in order:
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


def machine() -> dict[str, Any]:
    """Where the run happened."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "scale": SCALE,
    }


def machine_text(info: dict[str, Any]) -> str:
    return (
        f"{info['date']}, Python {info['python']} on {info['platform']}, "
        f"{info['cores']} cores ({info['cpu']})"
        + (f", sizes scaled by {info['scale']}" if info.get("scale", 1) != 1 else "")
    )


def write_json(report: Report, info: dict[str, Any], path: Path = RESULTS) -> None:
    rows = [{**asdict(r), "met": r.met} for r in report.results]
    path.write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")


def table(report: Report, info: dict[str, Any]) -> str:
    lines = [
        f"Measured {machine_text(info)}, with the local server in its own process.",
        "",
        "| benchmark | measured | target | met | details |",
        "|---|---|---|---|---|",
    ]
    for r in report.results:
        met = {None: "", True: "yes", False: "**no**"}[r.met]
        detail = r.detail.replace("|", "\\|")
        lines.append(f"| {r.label} | {r.value_text()} | {r.target_text()} | {met} | {detail} |")
    return "\n".join(lines)


def replace_between_markers(text: str, body: str) -> str:
    """``text`` with everything between the result markers replaced by ``body``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{START} ... {END} markers not found")
    return f"{text[: start + len(START)]}\n{body}\n{text[end:]}"


def write_docs(report: Report, info: dict[str, Any], path: Path = DOC) -> None:
    path.write_text(replace_between_markers(path.read_text(), table(report, info)))


def write_chart(report: Report, info: dict[str, Any], path: Path = CHART) -> None:
    """One bar per result: measured over target on a log scale, the target line at 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in report.results if r.target is not None]
    height = 0.9 + 0.42 * len(results)
    fig, ax = plt.subplots(figsize=(10, height), dpi=110)
    rows = range(len(results))
    values = [max(r.headroom, 1e-3) for r in results]
    colours = ["#3b8f4e" if r.met else "#c0392b" for r in results]
    ax.barh(list(rows), values, color=colours, height=0.6)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(list(rows), [r.label for r in results], fontsize=8)
    ax.invert_yaxis()
    for row, r, value in zip(rows, results, values, strict=True):
        ax.text(
            value * 1.08,
            row,
            f"{r.value_text()} (target {r.target_text()})",
            va="center",
            fontsize=7,
        )
    ax.set_xlim(min(values) / 2, max(max(values) * 20, 2.0))
    ax.set_xlabel("measured / target (left of the line: target met; log scale)")
    ax.set_title(f"simperium_orm benchmarks: {machine_text(info)}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
