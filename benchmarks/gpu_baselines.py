"""Eager and torch.compile baselines of every example at its GPU size, one results file.

Each problem runs in its own isolated worker through the same path as
`pragma time --target gpu PROBLEM` (reference only), which also checks that the
reference runs on the GPU and returns tensors.

    python benchmarks/gpu_baselines.py [--shard 0/2] [--out benchmarks/results/...md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _machine import describe

from pragma_kernels.evaluation import TimeOptions, time_problem
from pragma_kernels.problems import load_problems
from pragma_kernels.targets import Target

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard", default="0/1", help="i/n: every n-th problem from i")
    parser.add_argument("--start", type=int, default=0, help="skip the first N problems")
    parser.add_argument("--budget", type=float, default=0.5)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    index, count = (int(v) for v in args.shard.split("/"))

    target = Target.gpu()
    problems, errors = load_problems(ROOT / "examples" / "problems", target.size)
    assert not errors, errors
    lines = [
        f"# GPU baselines ({args.dtype}, size gpu), shard {args.shard}\n",
        f"Machine: {describe(gpu=True)}\n",
        "| problem | category | eager ms | compile ms | compile setup s | compile speedup |"
        " method |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    for problem in problems[args.start :][index::count]:
        report = time_problem(
            problem.path, None, target, TimeOptions(budget_s=args.budget, dtype=args.dtype)
        )
        if not report.verdict.ok:
            lines.append(
                f"| {problem.name} | {problem.category} | failed: "
                f"{report.verdict.summary()[:200]} | | | | |"
            )
        else:
            eager, compiled = report.timings["eager"], report.timings["compile"]
            flagged = "host-timed" if "WARNING" in eager.method + compiled.method else "events"
            lines.append(
                f"| {problem.name} | {problem.category} | {eager.median_ms:.3f} | "
                f"{compiled.median_ms:.3f} | {compiled.setup_s:.1f} | "
                f"{eager.median_ms / compiled.median_ms:.2f}x | {flagged} |"
            )
        print(lines[-1], flush=True)
        if args.out:  # written as it goes: a run cut short keeps what it measured
            args.out.write_text("\n".join(lines) + "\n")
    lines.append(f"\nTimer: {report.method}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
