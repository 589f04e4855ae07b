"""The offline convolution templates on a folder of KernelBench conv problems: recognised
family and parameters, then the first variant's candidate verified and timed against
eager through `pragma time`'s path (the Verifier's 3 input sets, then the Timer), without
the loop's profile (which costs minutes per problem on a small CPU).

    python benchmarks/offline_conv_cpu.py ../shared/kernelbench/v0/level1 [--target cpu]
        [--only 63,82] [--budget 0.5]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import TimeOptions, time_problem
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.targets import Target


def conv_problems(folder: Path, only: set[str]) -> list[Path]:
    """The conv problems, cheapest first (multiply-adds, from shapes recorded on meta)."""
    paths = [p for p in folder.glob("*_conv*.py") if not only or p.name.split("_")[0] in only]
    return sorted(paths, key=multiply_adds)


def multiply_adds(path: Path) -> float:
    recognised = recognise(path)
    if recognised.family != "conv":
        return 0.0
    total = 0.0
    for conv in recognised.spec.convs:
        space = [conv.output_size(s, a) for a, s in enumerate(conv.input_shape[2:])]
        per_output = conv.in_channels // conv.groups * math.prod(conv.kernel)
        total += conv.input_shape[0] * conv.out_channels * math.prod(space) * per_output
    return total


def run_one(path: Path, target: Target, budget: float) -> tuple[str, float | None]:
    """A result row and the speedup over eager (None: not correct)."""
    number = path.name.split("_")[0]
    recognised = recognise(path)
    if recognised.family != "conv":
        return f"| {number} | unsupported: {recognised.why} | | | | |", None
    variant = target.backend.offline_variants(recognised)[0]
    source = target.backend.offline_source(recognised, variant)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / "candidate.py"
        candidate.write_text(source)
        options = TimeOptions(baselines=("eager",), budget_s=budget)
        report = time_problem(path, candidate, target, options)
    took = time.monotonic() - start
    if not report.verdict.ok:
        summary = report.verdict.summary()[:300]
        return f"| {number} | {recognised.kind} | {summary} | | | {took:.0f} |", None
    eager, ours = report.timings["eager"].median_ms, report.timings["candidate"].median_ms
    return (
        f"| {number} | {recognised.kind} | correct | {eager:.2f} | {ours:.2f} | "
        f"{eager / ours:.2f}x ({took:.0f} s) |",
        eager / ours,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--target", default="cpu")
    parser.add_argument("--only", default="", help="comma-separated problem numbers")
    parser.add_argument("--budget", type=float, default=0.5, help="timing seconds per callable")
    args = parser.parse_args()
    target = Target.resolve(args.target)
    print(f"# offline conv templates, {args.target}, {args.folder}\n\nMachine: {describe()}\n")
    print("| problem | kind | result | eager ms | candidate ms | speedup (harness s) |")
    print("|---|---|---|---:|---:|---:|", flush=True)
    speedups = []
    paths = conv_problems(args.folder, set(filter(None, args.only.split(","))))
    for path in paths:
        try:
            line, speedup = run_one(path, target, args.budget)
        except Exception as exc:  # one problem's failure is a row, not the end of the run
            line, speedup = f"| {path.name} | failed: {type(exc).__name__}: {exc} | | | | |", None
        print(line, flush=True)
        speedups.append(speedup)
    correct = [s for s in speedups if s is not None]
    geomean = math.exp(sum(math.log(s) for s in correct) / len(correct)) if correct else 0.0
    print(f"\n{len(correct)} of {len(paths)} correct; geomean {geomean:.2f}x eager")


if __name__ == "__main__":
    main()
