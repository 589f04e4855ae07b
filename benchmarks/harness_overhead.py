"""The harness's cost per loop attempt: verify + time + profile of a hand-written solution.

    python benchmarks/harness_overhead.py [--target cpu|gpu] [--problems relu,softmax]
        [--size SIZE] [--no-ncu] [--out benchmarks/results/harness_overhead_cpu.md]

Per example problem with a hand-written solution for the target, what one attempt of the
loop runs, through the loop's own evaluator (`LocalEvaluator.verify`, `.time` against
eager, `.profile` with the default metrics, `.diagnose`), each call wall-timed with
time.perf_counter. Then where the workers' time went: the stage seconds each worker
reports (`JobResult.breakdown()`: start-up and imports, load problem, build, ...; the
profile's `overhead_s`), as medians and maxima over the problems. Rows are written as
they are measured, so a killed run keeps what it had.

The evaluator returns verdicts and timings, not the worker's JobResult; to read the stage
breakdown without changing it, `run_isolated` is wrapped where evaluate.py and the GPU
profiler call it, and each call's JobResult is kept (`Recorder`).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path

from _machine import describe

from pragma_kernels import evaluate
from pragma_kernels.agents.evaluator import LocalEvaluator
from pragma_kernels.profilers import gpu_ncu
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("verify", "time", "profile", "diagnose")
# "candidate forward (trial 2, seed 123)" -> "candidate forward": trials summed per stage
_PER_TRIAL = re.compile(r" \([^)]*\b(?:seed|trial)\b[^)]*\)")


class Recorder:
    """Wraps `run_isolated` in the modules that call it; keeps every JobResult by action."""

    def __init__(self) -> None:
        self.results: list = []
        self.original = evaluate.run_isolated

        def recording(job, *args, **kwargs):
            result = self.original(job, *args, **kwargs)
            self.results.append((job.action, result))
            return result

        for module in (evaluate, gpu_ncu):
            module.run_isolated = recording

    def take(self) -> list:
        taken, self.results = self.results, []
        return taken


def breakdown(stage: str, jobs: list, profile) -> dict[str, float]:
    """Seconds by 'stage: part': each worker's reported stages; the profile's own account
    (which includes the run under ncu and the report read-back) for the profile."""
    reported = (
        [profile.overhead_s]
        if stage == "profile" and profile is not None
        else [result.breakdown() for _, result in jobs]
    )
    parts: dict[str, float] = defaultdict(float)
    for seconds_by_part in reported:
        for part, seconds in seconds_by_part.items():
            parts[f"{stage}: {_PER_TRIAL.sub('', part)}"] += seconds
    return dict(parts)


def attempt(evaluator: LocalEvaluator, solution: Path, recorder: Recorder) -> dict:
    """One loop attempt on `solution`: wall seconds per stage, the workers' breakdown, notes."""
    walls: dict[str, float] = {}
    parts: dict[str, float] = {}
    notes = []
    start = time.perf_counter()
    verdict = evaluator.verify(solution)
    walls["verify"] = time.perf_counter() - start
    jobs = recorder.take()
    if not jobs:  # evaluate.py no longer calls run_isolated by that name: say so, go on
        notes.append("no worker breakdown recorded")
    parts |= breakdown("verify", jobs, None)
    if not verdict.ok:
        notes.append(f"verify failed: {verdict.summary()[:120]}")
        return {"walls": walls, "parts": parts, "notes": "; ".join(notes)}
    start = time.perf_counter()
    timed = evaluator.time(solution)
    walls["time"] = time.perf_counter() - start
    parts |= breakdown("time", recorder.take(), None)
    notes.append(f"{timed.speedup:.2f}x vs eager" if timed.speedup else f"time: {timed.method}")
    start = time.perf_counter()
    profile, error = evaluator.profile(solution, [])
    walls["profile"] = time.perf_counter() - start
    jobs = recorder.take()
    parts |= breakdown("profile", jobs, profile)
    if profile is None:
        notes.append(f"profile failed: {error[:120]}")
    else:
        notes.append(f"tools: {', '.join(profile.tools)}; {len(jobs)} worker(s)")
        start = time.perf_counter()
        evaluator.diagnose(profile, solution.read_text())
        walls["diagnose"] = time.perf_counter() - start
    return {"walls": walls, "parts": parts, "notes": "; ".join(notes)}


def pairs(problems: list[str] | None, target: str) -> list[tuple[str, Path | None]]:
    """(problem, its hand-written solution for the target or None), by name."""
    names = problems or sorted(p.stem for p in (ROOT / "examples" / "problems").glob("*.py"))
    folder = ROOT / "examples" / "solutions" / target
    return [(n, folder / f"{n}.py" if (folder / f"{n}.py").exists() else None) for n in names]


def summary(rows: list[dict]) -> list[str]:
    totals = [sum(r["walls"].values()) for r in rows]
    lines = ["", "| worker stage | median s | max s | problems |", "|---|---:|---:|---:|"]
    every: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for part, seconds in row["parts"].items():
            every[part].append(seconds)
    for part, values in every.items():
        lines.append(
            f"| {part} | {statistics.median(values):.2f} | {max(values):.2f} | {len(values)} |"
        )
    if totals:
        lines.append(
            f"\nPer attempt (verify + time + profile + diagnose, wall): median "
            f"{statistics.median(totals):.1f} s, max {max(totals):.1f} s over {len(totals)} "
            "problem(s)."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--problems", help="comma-separated problem names (default: all)")
    parser.add_argument("--size", default=None, help="problem size (default: the target's)")
    parser.add_argument("--no-ncu", action="store_true", help="GPU: profile without ncu")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    target = Target.resolve(args.target)
    gpu = target.kind == "gpu" and not target.interpreted
    sm_count = None
    if gpu:
        from pragma_kernels.hardware import detect_gpu

        sm_count = detect_gpu().sm_count
    ncu = "" if target.kind == "cpu" else ", no ncu" if args.no_ncu else ", ncu"
    lines = [
        f"# Harness overhead per attempt, {target.kind}, size {args.size or 'default'}{ncu}\n",
        f"Machine: {describe(gpu=gpu)}\n",
        "| problem | verify s | time s | profile s | diagnose s | total s | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    recorder, rows = Recorder(), []
    problems = args.problems.split(",") if args.problems else None
    for name, solution in pairs(problems, target.kind):
        if solution is None:
            lines.append(f"| {name} | | | | | | no hand-written {target.kind} solution |")
        else:
            evaluator = LocalEvaluator(
                ROOT / "examples" / "problems" / f"{name}.py",
                target,
                size=args.size,
                sm_count=sm_count,
                use_ncu=not args.no_ncu,
            )
            row = attempt(evaluator, solution, recorder)
            rows.append(row)
            walls = row["walls"]
            cells = " | ".join(f"{walls[s]:.2f}" if s in walls else "" for s in STAGES)
            lines.append(f"| {name} | {cells} | {sum(walls.values()):.2f} | {row['notes']} |")
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
