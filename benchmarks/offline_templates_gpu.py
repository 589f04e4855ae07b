"""The offline Triton templates changed for issue 18, on the GPU at KernelBench main sizes:
each candidate checked against the reference and timed beside eager and torch.compile.

Each main file is recognised as the bench does (on fake tensors: shapes only) and its
candidate runs on the main file's inputs on the GPU. Times are Triton's `do_bench` medians
(ms, L2 flushed between runs), autotuning and compilation excluded (one warm call first).

    python benchmarks/offline_templates_gpu.py --kernelbench ../shared/kernelbench \
        [--only 45,51] [--no-compile] [--variant 0]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import torch

from pragma_kernels import backends
from pragma_kernels.compare import compare_outputs
from pragma_kernels.evaluation import DEFAULT_TOLERANCE
from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import GPU_VARIANTS
from pragma_kernels.problems import import_module, import_source

# The slow cases, then the families added for it (main-size names).
PROBLEMS = (45, 51, 47, 38, 40, 23, 34, 37, 41, 42, 43, 46, 90, 92, 93, 95, 98, 99, 89)


def _bench(fn) -> float:
    import triton.testing

    return triton.testing.do_bench(fn, warmup=10, rep=40)


def run_one(main: Path, variant, compile_: bool) -> str:
    recognised = recognise(main)
    if recognised.family == "unsupported":
        return f"| {main.stem} | unsupported: {recognised.why} | | | | | |"
    source = backends.get("triton-cuda").offline_source(recognised, variant)
    namespace = vars(import_source(source, f"candidate_{main.stem}"))
    module = import_module(main)
    torch.manual_seed(0)
    init = module.get_init_inputs()
    inputs = [x.cuda() if isinstance(x, torch.Tensor) else x for x in module.get_inputs()]
    model = module.Model(*init).cuda()
    candidate = namespace["ModelNew"](*init).cuda()
    with torch.no_grad():
        expected = model(*inputs)
        started = time.perf_counter()
        got = candidate(*inputs)  # autotunes
        torch.cuda.synchronize()
        tune_s = time.perf_counter() - started
        tolerance = DEFAULT_TOLERANCE["float32"]
        check = compare_outputs(expected, got, tolerance, tolerance)
        ok = "yes" if check.kind is None else f"NO ({check.kind})"
        eager = _bench(lambda: model(*inputs))
        mine = _bench(lambda: candidate(*inputs))
        compiled_ms = float("nan")
        if compile_:
            compiled = torch.compile(model)
            compiled(*inputs)
            compiled_ms = _bench(lambda: compiled(*inputs))
    return (
        f"| {main.stem} | {recognised.family} {recognised.kind} | {ok} | {mine:.3f} | "
        f"{eager:.3f} | {compiled_ms:.3f} | {eager / mine:.2f}x | {compiled_ms / mine:.2f}x | "
        f"{tune_s:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernelbench", type=Path, default=Path("../shared/kernelbench"))
    parser.add_argument("--only", help="comma-separated problem numbers")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--variant", type=int, default=0, help="index into GPU_VARIANTS")
    args = parser.parse_args()
    numbers = [int(n) for n in args.only.split(",")] if args.only else PROBLEMS
    variant = GPU_VARIANTS[args.variant]
    print(f"GPU: {torch.cuda.get_device_name()}, variant {variant.name}")
    print(
        "| problem | recognised | correct | ms | eager ms | compile ms | vs eager |"
        " vs compile | tune s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for number in numbers:
        mains = sorted((args.kernelbench / "main" / "level1").glob(f"{number}_*.py"))
        if not mains:
            print(f"| {number} | no main file of that number | | | | | |")
            continue
        gc.collect()  # the last problem's tensors (its locals are gone now)
        torch.cuda.empty_cache()
        try:
            print(run_one(mains[0], variant, not args.no_compile), flush=True)
        except Exception as exc:  # noqa: BLE001 - one problem's failure is a row, not the end
            print(
                f"| {mains[0].stem} | error: {type(exc).__name__}: {str(exc)[:200]} |", flush=True
            )


if __name__ == "__main__":
    main()
