"""GPU timer repeatability: CV of N repeated timings of each hand-written Triton solution and
its eager baseline, plus the speedup.

The N timings are taken one after another in one worker (after one verification
and one compile/autotune), so the figure is the timer's own repeatability, not
process start-up or autotuning choices.

    python benchmarks/gpu_repeatability.py [--runs 5] [--out benchmarks/results/...md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import TimeOptions, VerifyOptions, time_problem, verify
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("names", nargs="*", help="solutions to time (default: all)")
    args = parser.parse_args()

    target = Target.gpu()
    lines = [
        f"# GPU timer repeatability ({args.runs} timings per solution, one worker)\n",
        f"Machine: {describe(gpu=True)}\n",
        "| solution | verified | eager median ms | candidate median ms (runs) | CV candidate "
        "| CV eager | speedup vs eager (mean) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)
        if args.out:  # written as it goes: a run cut short keeps what it measured
            args.out.write_text("\n".join(lines) + "\n")

    method = ""
    for solution in sorted((ROOT / "examples" / "solutions" / "gpu").glob("*.py")):
        if args.names and solution.stem not in args.names:
            continue
        problem = ROOT / "examples" / "problems" / solution.name
        verdict = verify(problem, solution, target, VerifyOptions())
        if not verdict.ok:
            emit(f"| {solution.stem} | {verdict.summary()[:150]} | | | | | |")
            continue
        report = time_problem(
            problem,
            solution,
            target,
            TimeOptions(baselines=("eager",), budget_s=args.budget, repeats=args.runs),
        )
        if not report.verdict.ok:
            emit(f"| {solution.stem} | timing failed: {report.verdict.summary()[:150]} |")
            continue
        method = report.method
        cand = [r["candidate"].median_ms for r in report.repeats]
        eager = [r["eager"].median_ms for r in report.repeats]
        speedups = [e / c for e, c in zip(eager, cand, strict=True)]
        emit(
            f"| {solution.stem} | yes (max abs err {verdict.max_abs_err:.2g}) | "
            f"{statistics.median(eager):.3f} | {', '.join(f'{v:.4f}' for v in cand)} | "
            f"{cv(cand):.2%} | {cv(eager):.2%} | {statistics.fmean(speedups):.2f}x |"
        )
    lines.append(f"\nTimer: {method}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
