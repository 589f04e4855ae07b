"""Median build time of the shipped C++ solutions with a cold and a warm build cache.

Each solution is imported in a fresh process (torch already imported, not timed)
with an empty PRAGMA_CACHE_DIR, so the figure is what a candidate costs to build
the first time; the second import in the same cache shows a cache hit.

    python benchmarks/build_time.py [--repeats 3] [--out benchmarks/results/build_time_cpu.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import describe

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "examples" / "solutions" / "cpu"

_PROBE = """
import importlib.util, sys, time
import torch  # not part of the build figure
spec = importlib.util.spec_from_file_location("candidate", sys.argv[1])
module = importlib.util.module_from_spec(spec)
start = time.perf_counter()
spec.loader.exec_module(module)
print(time.perf_counter() - start)
"""


def import_seconds(solution: Path, cache: str) -> float:
    env = {**os.environ, "PRAGMA_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(solution)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    lines = [
        f"# Build time of the shipped CPU solutions\n\nMachine: {describe()}\n",
        f"Cold: empty cache, median of {args.repeats} fresh processes. Warm: cache hit.\n",
        "| solution | cold build s | warm load s |",
        "|---|---:|---:|",
    ]
    colds = []
    for solution in sorted(SOLUTIONS.glob("*.py")):
        cold, warm = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                cold.append(import_seconds(solution, cache))
                warm.append(import_seconds(solution, cache))
        colds.append(statistics.median(cold))
        lines.append(
            f"| {solution.stem} | {statistics.median(cold):.3f} | {statistics.median(warm):.4f} |"
        )
        print(lines[-1], flush=True)
    lines.append(
        f"\n**Median cold build over {len(colds)} solutions: "
        f"{statistics.median(colds):.3f} s** (max {max(colds):.3f} s; target <= 1.5 s)"
    )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
