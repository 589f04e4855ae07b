"""Our GPU timer vs a plain CUDA-event loop with an L2 flush (KernelBench's method).

For each example's eager reference at GPU size, in one process: our
`measure_cuda` median, and a plain loop (flush L2, synchronize, record start,
call, record end, synchronize; 100 reps, median). Prints both and the difference.

    python benchmarks/timer_agreement.py [--out benchmarks/results/...md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from _machine import describe

from pragma_kernels.problems import import_module
from pragma_kernels.timing_gpu import GpuProtocol, measure_cuda

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("softmax", "rms_norm", "gemm_square", "conv2d", "sum_reduction_dim")


def kernelbench_loop(fn, reps: int = 100) -> float:
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    flush = torch.empty(2 * l2, dtype=torch.int8, device="cuda")
    for _ in range(10):
        fn()
    times = []
    for _ in range(reps):
        flush.zero_()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def time_example(name: str) -> tuple[float, float]:
    module = import_module(ROOT / "examples" / "problems" / f"{name}.py", "gpu")
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs()).cuda()
    inputs = [x.cuda() if isinstance(x, torch.Tensor) else x for x in module.get_inputs()]
    with torch.no_grad():
        ours = measure_cuda({"eager": lambda: model(*inputs)}, GpuProtocol())["eager"]
        plain = kernelbench_loop(lambda: model(*inputs))
    return ours.median_ms, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        "# GPU timer agreement with a plain CUDA-event loop (KernelBench's method)\n",
        f"Machine: {describe(gpu=True)}\n",
        "| example (eager, size gpu) | ours ms | plain loop ms | difference |",
        "|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.examples:
        ours, plain = time_example(name)
        lines.append(f"| {name} | {ours:.4f} | {plain:.4f} | {(ours - plain) / plain:+.2%} |")
        print(lines[-1], flush=True)
        torch.cuda.empty_cache()
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
