"""One table by category over several bench stores of the same suite (a suite run in parts,
e.g. by category with different --attempts): correct of run, geomean speedups vs eager and
torch.compile over the correct runs, and how many are at least as fast as each baseline.

    python benchmarks/combine_benches.py BENCH_DIR [BENCH_DIR ...]

Each problem counts once: a problem found in two stores is refused (the parts must not
overlap). Unsupported and errored runs count as failures, as in `pragma report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pragma_kernels.bench.metrics import Metrics, metrics
from pragma_kernels.bench.summary import read_bench


def _row(name: str, m: Metrics) -> str:
    def geo(s) -> str:
        return f"{s.geomean:.2f}x" if s.n else "-"

    eager = round(m.fast_eager["fast_1"] * m.runs)
    compiled = round(m.fast_compile["fast_1"] * m.runs)
    return (
        f"| {name} | {m.correct}/{m.runs} | {geo(m.vs_eager)} | {geo(m.vs_compile)} "
        f"| {eager}/{m.runs} | {compiled}/{m.runs} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="+", type=Path)
    args = parser.parse_args()
    runs, attempts, categories, seen = [], [], {}, {}
    for bench in args.benches:
        rows = read_bench(bench)
        for run in rows.runs:
            if run.problem in seen:
                raise SystemExit(f"{run.problem} is in both {seen[run.problem]} and {bench}")
            seen[run.problem] = bench
        runs += rows.runs
        attempts += rows.attempts
        categories.update(rows.categories)
    print("| category | correct / run | geomean vs eager | geomean vs compile "
          "| > 1.0x eager | > 1.0x compile |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for category in sorted({categories[r.problem] for r in runs}):
        chosen = [r for r in runs if categories[r.problem] == category]
        print(_row(category, metrics(chosen, attempts)))
    print(_row(f"**all {len(runs)}**", metrics(runs, attempts)))


if __name__ == "__main__":
    main()
