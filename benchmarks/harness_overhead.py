"""The harness's cost per loop attempt: verify + time + default profile (+ diagnosis).

    python benchmarks/harness_overhead.py [--target cpu|gpu] [--problems softmax,gelu]
        [--size SIZE] [--no-ncu] [--attempts 2] [--out benchmarks/results/FILE.md]

For each example problem with a hand-written solution for the target, what one attempt
of the loop runs, through the loop's own evaluator (`LocalEvaluator.evaluate`: the
attempt worker, plus the worker under Nsight Compute on a GPU), wall-timed with
time.perf_counter; `--attempts N` repeats it, as the loop would for N attempts on
one problem. Then where the time went: the stage seconds the workers report, as
medians and maxima. Rows are written as they are measured, so a killed run keeps what
it had.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import LocalEvaluator
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent
# "candidate forward (trial 2, seed 123)" -> "candidate forward": trials summed per stage
_PER_TRIAL = re.compile(r" \([^)]*\b(?:seed|trial)\b[^)]*\)")


def attempt(evaluator: LocalEvaluator, solution: Path) -> dict:
    """One loop attempt on `solution`: wall seconds, the workers' stages, notes."""
    start = time.perf_counter()
    evaluation = evaluator.evaluate(solution, [], profile=True)
    wall = time.perf_counter() - start
    parts: dict[str, float] = defaultdict(float)
    for part, seconds in evaluation.seconds.items():
        parts[_PER_TRIAL.sub("", part)] += seconds
    if evaluation.profile is not None:
        for part, seconds in evaluation.profile.overhead_s.items():
            if "/" in part or part.startswith("ncu"):  # the profile's own breakdown
                parts[f"profile: {part}"] += seconds
    notes = []
    if not evaluation.verdict.ok:
        notes.append(f"verify failed: {evaluation.verdict.summary()[:120]}")
    elif evaluation.timed and evaluation.timed.speedup:
        notes.append(f"{evaluation.timed.speedup:.2f}x vs eager")
    if evaluation.profile is not None:
        notes.append(f"tools: {', '.join(evaluation.profile.tools)}")
    elif evaluation.profile_error:
        notes.append(f"no profile: {evaluation.profile_error[:120]}")
    return {"wall": wall, "parts": dict(parts), "notes": "; ".join(notes)}


def pairs(problems: list[str] | None, target: str) -> list[tuple[str, Path | None]]:
    """(problem, its hand-written solution for the target or None), by name."""
    names = problems or sorted(p.stem for p in (ROOT / "examples" / "problems").glob("*.py"))
    folder = ROOT / "examples" / "solutions" / target
    return [(n, folder / f"{n}.py" if (folder / f"{n}.py").exists() else None) for n in names]


def summary(rows: list[dict]) -> list[str]:
    walls = [r["wall"] for r in rows]
    lines = ["", "| worker stage | median s | max s | attempts |", "|---|---:|---:|---:|"]
    every: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for part, seconds in row["parts"].items():
            every[part].append(seconds)
    for part, values in every.items():
        lines.append(
            f"| {part} | {statistics.median(values):.2f} | {max(values):.2f} | {len(values)} |"
        )
    if walls:
        quartiles = statistics.quantiles(walls, n=4) if len(walls) > 1 else [walls[0]] * 3
        lines.append(
            f"\nPer attempt (wall): median {statistics.median(walls):.1f} s (IQR "
            f"{quartiles[0]:.1f}-{quartiles[2]:.1f} s), max {max(walls):.1f} s over "
            f"{len(walls)} attempt(s)."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--problems", help="comma-separated problem names (default: all)")
    parser.add_argument("--size", default=None, help="problem size (default: the target's)")
    parser.add_argument("--no-ncu", action="store_true", help="GPU: profile without ncu")
    parser.add_argument("--attempts", type=int, default=1, help="attempts per problem")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    target = Target.resolve(args.target, size=args.size)
    backend = target.backend
    gpu = backend.name == "triton-cuda"
    ncu = ", no ncu" if args.no_ncu else ", ncu where it reads counters" if gpu else ""
    lines = [
        f"# Harness overhead per attempt, {backend.name}, size {target.size}{ncu}\n",
        f"Machine: {describe(gpu=gpu)}\n",
        "| problem | attempt | wall s | notes |",
        "|---|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    rows = []
    problems = args.problems.split(",") if args.problems else None
    for name, solution in pairs(problems, backend.target):
        if solution is None:
            lines.append(f"| {name} | | | no hand-written {backend.target} solution |")
            print(lines[-1], flush=True)
            continue
        evaluator = LocalEvaluator(
            ROOT / "examples" / "problems" / f"{name}.py", target, use_ncu=not args.no_ncu
        )
        for number in range(1, args.attempts + 1):
            row = attempt(evaluator, solution)
            rows.append(row)
            lines.append(f"| {name} | {number} | {row['wall']:.2f} | {row['notes']} |")
            print(lines[-1], flush=True)
            if args.out:
                args.out.write_text("\n".join(lines) + "\n")
    tail = summary(rows)
    lines += tail
    print("\n".join(tail), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
