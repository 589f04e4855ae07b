"""GPU timer repeatability: CV of N repeated timings (fresh worker each) of each hand-written
Triton solution and its eager baseline, plus the speedup.

    python benchmarks/gpu_repeatability.py [--runs 5] [--out benchmarks/results/...md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluate import TimeOptions, VerifyOptions, time_problem, verify
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    target = Target.gpu()
    lines = [
        f"# GPU timer repeatability ({args.runs} fresh workers per solution)\n",
        f"Machine: {describe(gpu=True)}\n",
        "| solution | verified | eager median ms | candidate median ms (runs) | CV candidate "
        "| CV eager | speedup vs eager (mean) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    method = ""
    for solution in sorted((ROOT / "examples" / "solutions" / "gpu").glob("*.py")):
        problem = ROOT / "examples" / "problems" / solution.name
        verdict = verify(problem, solution, target, VerifyOptions())
        if not verdict.ok:
            lines.append(f"| {solution.stem} | {verdict.summary()[:150]} | | | | | |")
            print(lines[-1], flush=True)
            continue
        runs = [
            time_problem(
                problem, solution, target, TimeOptions(baselines=("eager",), budget_s=args.budget)
            )
            for _ in range(args.runs)
        ]
        bad = [r.verdict.summary() for r in runs if not r.verdict.ok]
        if bad:
            lines.append(f"| {solution.stem} | timing failed: {bad[0][:150]} | | | | | |")
            print(lines[-1], flush=True)
            continue
        method = runs[0].method
        cand = [r.timings["candidate"].median_ms for r in runs]
        eager = [r.timings["eager"].median_ms for r in runs]
        speedups = [r.speedup("eager") for r in runs]
        lines.append(
            f"| {solution.stem} | yes (max abs err {verdict.max_abs_err:.2g}) | "
            f"{statistics.median(eager):.3f} | {', '.join(f'{v:.4f}' for v in cand)} | "
            f"{cv(cand):.2%} | {cv(eager):.2%} | {statistics.fmean(speedups):.2f}x |"
        )
        print(lines[-1], flush=True)
    lines.append(f"\nTimer: {method}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
