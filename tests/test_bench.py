"""The benchmark harness: targets, paired timing, the docs table, and a quick run of every bench.

Timing is never asserted here; the quick run only proves the benchmarks still run end to end
(``python -m bench --scale 0.01``) and write their results, chart and table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def report_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import _report

    return _report


def test_targets_read_in_the_right_direction(report_module: ModuleType) -> None:
    result = report_module.Result
    assert result("b", "ratio", 1.2, "x", 1.3).met
    assert not result("b", "ratio", 1.4, "x", 1.3).met
    assert result("b", "speedup", 25, "x", 20, "higher").met
    assert not result("b", "speedup", 15, "x", 20, "higher").met
    assert result("b", "info", 3.0, "x", None).met is None
    assert result("b", "speedup", 40, "x", 20, "higher").headroom == 0.5
    assert result("b", "ratio", 0.65, "x", 1.3).headroom == 0.5


def test_pairs_alternate_and_report_medians(report_module: ModuleType) -> None:
    calls: list[str] = []
    a, b = report_module.paired(lambda: calls.append("a"), lambda: calls.append("b"), runs=5)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert a >= 0 and b >= 0
    with pytest.raises(ValueError, match="at least 5"):
        report_module.paired(lambda: None, lambda: None, runs=3)


def test_the_docs_table_replaces_only_what_is_between_the_markers(
    report_module: ModuleType,
) -> None:
    start, end = report_module.START, report_module.END
    text = f"intro\n{start}\nold table\n{end}\noutro\n"
    assert report_module.replace_between_markers(text, "new") == (
        f"intro\n{start}\nnew\n{end}\noutro\n"
    )
    with pytest.raises(ValueError, match="markers"):
        report_module.replace_between_markers("no markers here", "new")
    assert start in (ROOT / "docs" / "performance.md").read_text()


def test_a_quick_run_of_every_benchmark_writes_results_chart_and_table(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n<!-- bench:results -->\n<!-- /bench:results -->\n")
    outputs = {"results": tmp_path / "results.json", "chart": tmp_path / "bench.png"}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.01", "--results", str(outputs["results"]),
         "--chart", str(outputs["chart"]), "--doc", str(doc)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(outputs["results"].read_text())
    benches = {row["bench"] for row in results["results"]}
    assert benches == {"orm", "server", "listener", "stream"}
    assert all(isinstance(row["value"], float) for row in results["results"])
    assert results["machine"]["cores"] and results["machine"]["python"]
    assert outputs["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = doc.read_text()
    assert "| benchmark | measured | target | met | details |" in table
    assert table.count("\n| ") == len(results["results"]) + 1
