"""The offline agent (no LLM) on every example: success and speedup vs eager.

    python benchmarks/offline_cpu.py [--size SIZE] [--out benchmarks/results/offline_cpu.md]
    python benchmarks/offline_cpu.py --target gpu [--attempts 2] [--no-ncu] [--out FILE.md]

Per problem: the family the agent recognised (or why it is unsupported), attempts,
the best verified speedup over PyTorch eager (same timing protocol as
`pragma time`); per category: success rate where the templates apply and the
geometric mean speedup.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import defaultdict
from pathlib import Path

from _machine import describe

from pragma_kernels import optimize
from pragma_kernels.problems import load_problem

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--size", default=None, help="problem size (default: the target's)")
    parser.add_argument("--attempts", type=int, default=15, help="attempts per problem at most")
    parser.add_argument("--no-ncu", action="store_true", help="GPU: profile without ncu")
    parser.add_argument("--out", type=Path)
    parser.add_argument("names", nargs="*", help="problems to run (default: all examples)")
    args = parser.parse_args()
    lines = [
        f"# Offline agent (no LLM), {args.target}, size {args.size or 'default'}, "
        f"at most {args.attempts} attempts{', no ncu' if args.no_ncu else ''}\n",
        f"Machine: {describe(gpu=args.target == 'gpu')}\n",
        "| problem | category | result | attempts | best speedup vs eager | best variant |",
        "|---|---|---|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    by_category: dict[str, list[float | None]] = defaultdict(list)
    for path in sorted((ROOT / "examples" / "problems").glob("*.py")):
        if args.names and path.stem not in args.names:
            continue
        category = load_problem(path).category
        with tempfile.TemporaryDirectory() as run:
            result = optimize(
                path,
                target=args.target,
                mode="offline",
                size=args.size,
                attempts=args.attempts,
                run_dir=run,
                use_ncu=not args.no_ncu,
            )
        if result.stopped.startswith("unsupported offline"):
            lines.append(f"| {path.stem} | {category} | {result.stopped[:120]} | 0 | | |")
        else:
            speedup = result.speedup if result.best else None
            by_category[category].append(speedup)
            variant = (result.best.variant or "") if result.best else ""
            shown = f"{speedup:.2f}x" if speedup else "no correct kernel"
            lines.append(
                f"| {path.stem} | {category} | {'correct' if result.best else 'failed'} | "
                f"{len(result.attempts)} | {shown} | {variant} |"
            )
        print(lines[-1], flush=True)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")
    lines += ["", "| category | supported | correct | geomean speedup |", "|---|---:|---:|---:|"]
    every = []
    for category, speedups in sorted(by_category.items()):
        correct = [s for s in speedups if s]
        every += correct
        geomean = math.exp(sum(map(math.log, correct)) / len(correct)) if correct else float("nan")
        lines.append(f"| {category} | {len(speedups)} | {len(correct)} | {geomean:.2f}x |")
    total = sum(len(s) for s in by_category.values())
    geomean = math.exp(sum(map(math.log, every)) / len(every)) if every else float("nan")
    lines.append(f"| all | {total} | {len(every)} | {geomean:.2f}x |")
    print("\n".join(lines[-(len(by_category) + 3) :]), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
