"""The offline Triton GEMM family on a GPU at KernelBench level-1 (main) shapes: accuracy
against a float64 product (beside torch's own float32 error) and time against torch eager.

Each case builds the recognised record directly (recognising the reference would run it on
the CPU at these sizes), renders the offline agent's Triton candidate (the `autotune`
variant, 3xTF32 unless --tf32), checks it and times both with triton.testing.do_bench
(median of its repeats, after the autotuner's first call).

    python benchmarks/gemm_gpu.py [--cases 1_square,6_large_k] [--small] [--tf32]
"""

from __future__ import annotations

import argparse
import time

import torch

from pragma_kernels.offline.gemm import Gemm, Operand
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.gemm_triton import GEMM_GPU_VARIANTS, triton_gemm
from pragma_kernels.problems import import_source


def _mm(m, n, k, ta=False, tb=False, epi="", batch=1, folded=()):
    """(spec, input shapes, reference) of C = op(A) @ op(B)."""
    batched = batch > 1
    spec = Gemm(
        "matmul",
        Operand(0, ta),
        Operand(1, tb),
        m * _prod(folded),
        n,
        k,
        batch,
        batched,
        epi,
        folded=len(folded),
    )
    lead = (batch,) if batched else tuple(folded)
    a_shape = (*lead, k, m) if ta else (*lead, m, k)
    b_shape = ((batch,) if batched else ()) + ((n, k) if tb else (k, n))

    def reference(a, b):
        c = (a.mT if ta else a) @ (b.mT if tb else b)
        return {"triu": torch.triu, "tril": torch.tril}.get(epi, lambda x: x)(c)

    return spec, [a_shape, b_shape], reference


def _prod(values) -> int:
    total = 1
    for v in values:
        total *= v
    return total


def cases() -> dict:
    """KernelBench level-1 main sizes (problem number and form in the name)."""
    matvec = Gemm("matvec", Operand(0, False), Operand(1, False), 2048, 1, 1048576)
    diag = Gemm("diag", Operand(0, False), Operand(1, False), 4096, 4096, 1)
    scale = Gemm("scale", Operand(0, False), Operand(1, False), 0, 0, 0)
    return {
        "1_square": _mm(4096, 4096, 4096),
        "2_standard": _mm(2048, 4096, 8192),
        "3_batched": _mm(512, 2048, 1024, batch=128),
        "4_matvec": (matvec, [(2048, 1048576), (1048576, 1)], lambda a, b: a @ b),
        "5_scalar": (scale, [(65536, 16384), 3.14], lambda a, s: a * s),
        "6_large_k": _mm(256, 256, 524288),
        "7_small_k": _mm(32768, 32768, 64),
        "8_irregular": _mm(8205, 5921, 2949),
        "9_tall_skinny": _mm(32768, 32768, 32),
        "10_3d": _mm(1024, 768, 2048, folded=(16,)),
        "11_4d": _mm(512, 768, 256, folded=(8, 256)),
        "12_diag": (diag, [(4096,), (4096, 4096)], lambda a, b: a.unsqueeze(1) * b),
        "14_triu": _mm(4096, 4096, 4096, epi="triu"),
        "15_tril": _mm(4096, 4096, 4096, epi="tril"),
        "16_trans_a": _mm(2048, 4096, 8192, ta=True),
        "17_trans_b": _mm(2048, 4096, 8192, tb=True),
        "18_trans_both": _mm(2048, 4096, 8192, ta=True, tb=True),
    }


def shrink(spec: Gemm, shapes: list) -> tuple[Gemm, list]:
    """A quick variant: every dim over 512 cut to a 1/8 (at least 512), the same forms."""

    def cut(n):
        return n if n <= 512 else max(512, n // 8)

    new = [tuple(cut(d) for d in s) if isinstance(s, tuple) else s for s in shapes]
    from dataclasses import replace

    return replace(spec, m=cut(spec.m), n=cut(spec.n), k=cut(spec.k)), new


def make_inputs(shapes: list, dtype) -> list:
    return [
        torch.randn(s, device="cuda", dtype=dtype) if isinstance(s, tuple) else s for s in shapes
    ]


def run_case(name: str, spec: Gemm, shapes: list, reference, allow_tf32: bool, dtype) -> str:
    source = triton_gemm(
        Recognised("gemm", kind=spec.kind, spec=spec), GEMM_GPU_VARIANTS[0], allow_tf32=allow_tf32
    )
    model = import_source(source, f"gemm_{name}").ModelNew()
    torch.manual_seed(0)
    inputs = make_inputs(shapes, dtype)
    started = time.perf_counter()
    out = model(*inputs)  # compiles and autotunes
    torch.cuda.synchronize()
    tune_s = time.perf_counter() - started
    wide = [x.double() if isinstance(x, torch.Tensor) else x for x in inputs]
    exact = reference(*wide)
    eager = reference(*inputs)
    scale = exact.abs().max().item() or 1.0
    err = (out.double() - exact).abs().max().item() / scale
    err_torch = (eager.double() - exact).abs().max().item() / scale
    ok = out.shape == eager.shape and torch.allclose(
        out.float(), eager.float(), atol=1e-2, rtol=1e-2
    )
    del exact, wide, eager, out
    from triton.testing import do_bench

    t_new = do_bench(lambda: model(*inputs), warmup=50, rep=300)
    t_eager = do_bench(lambda: reference(*inputs), warmup=50, rep=300)

    torch.cuda.empty_cache()
    return (
        f"| {name} | {'yes' if ok else 'NO'} | {err:.1e} | {err_torch:.1e} | {t_new:.3f} | "
        f"{t_eager:.3f} | {t_eager / t_new:.2f}x | {tune_s:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="", help="comma-separated names (default: all)")
    parser.add_argument("--small", action="store_true", help="every dim over 512 cut to 1/8")
    parser.add_argument("--tf32", action="store_true", help="let the candidate use TF32")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    chosen = [c for c in args.cases.split(",") if c]
    print(
        f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, {args.dtype}, "
        f"{'TF32 allowed' if args.tf32 else '3xTF32'}{', small' if args.small else ''}"
    )
    print(
        "| case | correct (1e-2) | rel. err vs fp64 | torch's rel. err | ms | eager ms | "
        "speedup | first call s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (spec, shapes, reference) in cases().items():
        if chosen and name not in chosen:
            continue
        if args.small:
            spec, shapes = shrink(spec, shapes)
        try:
            print(run_case(name, spec, shapes, reference, args.tf32, dtype), flush=True)
        except Exception as exc:  # one failing case must not hide the others' figures
            print(f"| {name} | ERROR {type(exc).__name__}: {str(exc)[:200]} |", flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
