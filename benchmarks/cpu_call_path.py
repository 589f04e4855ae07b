"""Per-call cost of generated C++ candidates at small sizes: eager vs two candidate files.

    python benchmarks/cpu_call_path.py PROBLEM.py A.py B.py [--reps 4000] [--rounds 5]

Builds `Model` and each file's `ModelNew` (same init inputs), then times one forward of
each in blocks of BLOCK calls (the per-call mean of a block is one sample), the blocks
interleaved and their order rotated (eager A B, A B eager, B eager A, ...), `--reps`
calls per callable and round, under torch.no_grad(). Prints per callable the median and
IQR of the block samples in microseconds, and each candidate's speedup over eager (the
median over rounds of each round's median ratio).
For comparing two versions of a template's Python path (the C++ kernel the same): at
KernelBench's v0 sizes a call is ~10 us and the path around the kernel is a large part.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch
from _machine import describe

BLOCK = 100  # calls per sample


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4)
    return q1, median, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem", type=Path)
    parser.add_argument("candidates", type=Path, nargs=2)
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    problem = load(args.problem, "problem")
    torch.manual_seed(0)
    inputs = problem.get_inputs()
    init = problem.get_init_inputs()
    models = {"eager": problem.Model(*init)}
    for index, path in enumerate(args.candidates):
        models[f"{'AB'[index]}: {path}"] = load(path, f"candidate{index}").ModelNew(*init)
    samples: dict[str, list[float]] = {name: [] for name in models}
    ratios: dict[str, list[float]] = {name: [] for name in models if name != "eager"}
    with torch.no_grad():
        for model in models.values():  # warm-up, and the outputs agree
            torch.testing.assert_close(model(*inputs), models["eager"](*inputs))
        for _ in range(args.rounds):
            rounds = {name: [] for name in models}
            order = list(models.items())
            for block in range(args.reps // BLOCK):
                # Blocks of BLOCK calls, the order rotated per block: a call right after
                # another callable pays for its leftovers (OpenMP threads still spinning,
                # caches), which per-call interleaving charged to whoever came second.
                shift = block % len(order)
                for name, model in order[shift:] + order[:shift]:
                    start = time.perf_counter_ns()
                    for _ in range(BLOCK):
                        model(*inputs)
                    rounds[name].append((time.perf_counter_ns() - start) / 1e3 / BLOCK)
            for name, values in rounds.items():
                samples[name] += values
            eager = statistics.median(rounds["eager"])
            for name in ratios:
                ratios[name].append(eager / statistics.median(rounds[name]))
    print(f"{describe(gpu=False)}; {args.problem.name}, {args.rounds} x {args.reps} calls each")
    for name, values in samples.items():
        q1, median, q3 = quartiles(values)
        speedup = f", {statistics.median(ratios[name]):.2f}x of eager" if name in ratios else ""
        print(f"  {name}: median {median:.2f} us (IQR {q3 - q1:.2f}){speedup}")


if __name__ == "__main__":
    main()
