"""The offline templates added for KernelBench main's unrecognised forms, on the GPU: the
exclusive cumsum written after the scan, the hinge loss of broadcast targets, scaled
dot-product attention (float32 at E = 1024 and float16), and the 2-D scale kernel of
`a.unsqueeze(1) * b`. Each candidate (the backend's first variant: autotuned where the
family autotunes) is checked against the reference and against a float64 run of it, then
timed beside eager with Triton's `do_bench` (median ms, one warm call first).

Shapes come from the fixture problems' GPU sizes (tests/fixtures/offline); with
--kernelbench DIR the main level-1 files 12, 92, 97 and 100 are run as well.

    python benchmarks/kb_main_forms_gpu.py [--kernelbench ../shared/kernelbench] [--only sdpa]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import torch

from pragma_kernels.offline.recognise import recognise
from pragma_kernels.offline.templates import (
    GEMM_GPU_VARIANTS,
    GPU_VARIANTS,
    TRITON_GENERATORS,
)
from pragma_kernels.problems import import_module

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "offline"
CASES = (
    ("scan_exclusive_after", "gpu"),
    ("hinge_broadcast", "gpu"),
    ("hinge_broadcast", "gpu_column"),
    ("sdpa", "gpu"),
    ("sdpa", "gpu_half"),
    ("diag_scale", "gpu"),
    ("diag_scale", "gpu_tall"),
)
MAIN = (12, 92, 97, 100)
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2}  # of the output's largest value


def _bench(fn) -> float:
    import triton.testing

    return triton.testing.do_bench(fn, warmup=10, rep=50)


def _candidate(recognised):
    tiled = recognised.family in ("gemm", "attention")
    variant = GEMM_GPU_VARIANTS[0] if tiled else GPU_VARIANTS[0]
    source = TRITON_GENERATORS[recognised.family](recognised, variant)
    namespace: dict = {}
    exec(compile(source, f"candidate_{recognised.family}", "exec"), namespace)
    return namespace["ModelNew"], variant.name


def _errors(model, inputs, expected, got) -> tuple[float, float]:
    """(candidate's, eager's) largest error against float64, relative to the output's size."""
    doubled = [x.double() if isinstance(x, torch.Tensor) else x for x in inputs]
    exact = model.double()(*doubled)
    scale = exact.abs().max().clamp_min(1e-30)
    del doubled
    mine = ((got.double() - exact).abs().max() / scale).item()
    eager = ((expected.double() - exact).abs().max() / scale).item()
    return mine, eager


def run_one(path: Path, size: str | None) -> str:
    name = f"{path.stem}[{size}]" if size else path.stem
    recognised = recognise(path, size)
    if recognised.family == "unsupported":
        return f"| {name} | unsupported: {recognised.why} | | | | | |"
    new, variant = _candidate(recognised)
    module = import_module(path, size)
    torch.manual_seed(0)
    init = module.get_init_inputs()
    with torch.device("cuda"):
        inputs = module.get_inputs()
    model = module.Model(*init).cuda()
    candidate = new(*init).cuda()
    with torch.no_grad():
        expected = model(*inputs)
        started = time.perf_counter()
        got = candidate(*inputs)  # autotunes
        torch.cuda.synchronize()
        tune_s = time.perf_counter() - started
        mine_error, eager_error = _errors(model, inputs, expected, got)
        limit = max(TOLERANCE.get(got.dtype, 1e-4), 4 * eager_error)
        ok = "yes" if got.shape == expected.shape and mine_error <= limit else "NO"
        eager = _bench(lambda: model(*inputs))
        mine = _bench(lambda: candidate(*inputs))
    moved = sum(x.nbytes for x in inputs if isinstance(x, torch.Tensor)) + got.nbytes
    return (
        f"| {name} | {recognised.family} {recognised.kind} ({variant}) | {ok} | "
        f"{mine_error:.1e} / {eager_error:.1e} | {mine:.3f} | {eager:.3f} | "
        f"{eager / mine:.2f}x | {moved / mine / 1e9:.0f} | {tune_s:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernelbench", type=Path, help="KernelBench root (main/level1 in it)")
    parser.add_argument("--only", help="comma-separated fixture or main-file name parts")
    args = parser.parse_args()
    runs = [(FIXTURES / f"{stem}.py", size) for stem, size in CASES]
    if args.kernelbench:
        level = args.kernelbench / "main" / "level1"
        runs += [(next(level.glob(f"{n}_*.py")), None) for n in MAIN]
    if args.only:
        parts = args.only.split(",")
        runs = [(p, s) for p, s in runs if any(part in f"{p.stem}[{s}]" for part in parts)]
    print(f"GPU: {torch.cuda.get_device_name()}")
    print(
        "| problem | recognised (variant) | correct | error vs fp64: mine / eager | ms |"
        " eager ms | vs eager | GB/s (inputs + output once) | first call s |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for path, size in runs:
        gc.collect()
        torch.cuda.empty_cache()
        try:
            print(run_one(path, size), flush=True)
        except Exception as exc:  # noqa: BLE001 - one case's failure is a row, not the end
            print(f"| {path.stem}[{size}] | error: {type(exc).__name__}: {str(exc)[:300]} |")


if __name__ == "__main__":
    main()
