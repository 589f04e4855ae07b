"""Wall time of `profile` per hand-written CPU solution (one isolated worker each).

python benchmarks/profile_overhead.py [--out benchmarks/results/profile_overhead_cpu.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import profile_candidate
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        f"# CPU profile overhead\n\nMachine: {describe()}\n",
        "| solution | wall s | kernels | cachegrind size | not collected |",
        "|---|---:|---|---|---|",
    ]
    walls = []
    for solution in sorted((ROOT / "examples" / "solutions" / "cpu").glob("*.py")):
        problem = ROOT / "examples" / "problems" / solution.name
        start = time.perf_counter()
        verdict, profile = profile_candidate(problem, solution, Target.cpu())
        wall = time.perf_counter() - start
        walls.append(wall)
        if profile is None:
            lines.append(f"| {solution.stem} | {wall:.1f} | failed: {verdict.summary()} | | |")
        else:
            tiny = any("tiny" in u.why for u in profile.unavailable)
            missing = "; ".join(u.what for u in profile.unavailable)
            lines.append(
                f"| {solution.stem} | {wall:.1f} | "
                f"{', '.join(k.name for k in profile.kernels)} | "
                f"{'tiny' if tiny else 'cpu'} | {missing} |"
            )
        print(lines[-1], flush=True)
    lines.append(
        f"\nMedian {statistics.median(walls):.1f} s, max {max(walls):.1f} s per candidate "
        "(worker start-up, timing at 1 and N threads, copy bandwidth, cachegrind replay, "
        "vectorisation report and disassembly; target <= 5 s)."
    )
    print(lines[-1])
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
