"""Repeatability of the CPU timer: CV of N repeated timings (fresh worker each) of examples.

For each example, `time_problem` runs N times, each in a new isolated worker;
the CV is taken over the N medians (the figure we report) and, for comparison,
over the N minima, for eager and for the hand-written solution, and over the N
speedups: interleaving makes machine-wide drift hit both, so the ratio is steadier.

    python benchmarks/timing_noise.py [--runs 5] [--out benchmarks/results/timing_noise_cpu.md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import TimeOptions, time_problem
from pragma_kernels.targets import Target
from pragma_kernels.timing import Protocol

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("rms_norm", "argmax_dim", "softsign")


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per callable per run")
    parser.add_argument("--examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    target = Target.cpu()
    protocol = Protocol(budget_s=args.budget)
    lines = [
        f"# CPU timing noise\n\nMachine: {describe()}\n",
        f"{args.runs} runs per example, each a fresh worker; {target.threads} threads; "
        f"protocol: {protocol.describe()}.\n",
        "| example | callable | medians ms | CV of medians | CV of minima |",
        "|---|---|---|---:|---:|",
    ]
    for name in args.examples:
        problem = ROOT / "examples" / "problems" / f"{name}.py"
        solution = ROOT / "examples" / "solutions" / "cpu" / f"{name}.py"
        runs = [
            time_problem(
                problem, solution, target, TimeOptions(baselines=("eager",), protocol=protocol)
            )
            for _ in range(args.runs)
        ]
        for run in runs:
            if not run.verdict.ok:
                raise SystemExit(f"{name}: {run.verdict.summary()}")
        for label in ("eager", "candidate"):
            medians = [run.timings[label].median_ms for run in runs]
            minima = [run.timings[label].min_ms for run in runs]
            lines.append(
                f"| {name} | {label} | {', '.join(f'{v:.3f}' for v in medians)} | "
                f"{cv(medians):.2%} | {cv(minima):.2%} |"
            )
            print(lines[-1], flush=True)
        speedups = [run.speedup("eager") for run in runs]
        lines.append(
            f"| {name} | speedup vs eager | {', '.join(f'{v:.2f}x' for v in speedups)} | "
            f"{cv(speedups):.2%} | |"
        )
        print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
