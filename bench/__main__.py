"""Run the benchmarks (``make bench``) and publish what they measured.

``python -m bench`` runs every ``bench_*.py`` here, each against a local server it starts for
itself, then writes ``bench/results.json``, the chart ``docs/assets/bench.png`` and the results
table of ``docs/performance.md``. ``python -m bench bench_orm`` runs one; ``--scale 0.1`` shrinks
every size for a quick look; ``--no-write`` only prints; ``--results``, ``--chart`` and
``--doc`` write elsewhere.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="bench_* scripts to run (default: all)")
    parser.add_argument("--scale", type=float, help="multiply every size (default 1)")
    parser.add_argument("--no-write", action="store_true", help="print only; write no files")
    parser.add_argument("--results", type=Path, help="results JSON (default bench/results.json)")
    parser.add_argument("--chart", type=Path, help="chart PNG (default docs/assets/bench.png)")
    parser.add_argument("--doc", type=Path, help="page with the table (docs/performance.md)")
    args = parser.parse_args(argv)
    if args.scale is not None:
        os.environ["BENCH_SCALE"] = str(args.scale)  # read when _report is first imported
    sys.path.insert(0, str(HERE))  # the scripts import their shared helpers as plain modules
    import _report

    names = args.names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    report = _report.Report()
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        importlib.import_module(name).run(report)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    missed = [r for r in report.results if r.met is False]
    print(f"{len(report.results)} results, {len(missed)} targets missed")
    if not args.no_write:
        info = _report.machine()
        results = args.results or _report.RESULTS
        chart = args.chart or _report.CHART
        doc = args.doc or _report.DOC
        _report.write_json(report, info, results)
        _report.write_chart(report, info, chart)
        _report.write_docs(report, info, doc)
        print(f"wrote {results}, {chart} and the table in {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
