"""Templates for a pointwise chain summed or averaged over every element (losses such as
MSE, hinge or L1): one pass reading each input once, no intermediate tensor.

C++ accumulates in double (an fp32 running sum over 10^7 elements drifts past 1e-2 of a
mean's size); Triton sums fp32 partials per program (a fixed grid striding over the
tensor, a few programs per SM) and a one-program kernel adds the partials.
"""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    cpp_expression_inputs,
    cpp_module,
    model_new,
    omp,
    triton_expression_inputs,
    triton_module,
)


def _what(problem: Recognised) -> str:
    return f"{problem.kind} over every element of pointwise {'/'.join(problem.ops[:-1]) or 'x'}"


def _rescale(problem: Recognised) -> str:
    """Python for the final factor of a total scaled by a number (kl_div's batchmean)."""
    if problem.spec is None:
        return "1.0"
    op, number = problem.spec
    value = "xs[0].shape[0]" if number == "batch" else repr(number)
    return f"(1.0 / {value})" if op == "div" else f"{value}"


def cpp_pointwise_total(problem: Recognised, variant: CpuVariant) -> str:
    params, loads = cpp_expression_inputs(problem.inputs)
    scale = " / (double)n" if problem.kind == "mean" else ""
    scale += " * rescale"
    source = f"""#include <cstdint>
#include <cmath>

extern "C" void total({params}, float* __restrict__ out, int64_t n, double rescale) {{
    double acc = 0.0;
    {omp(variant, "parallel for simd reduction(+ : acc) schedule(static)")}
    for (int64_t i = 0; i < n; ++i) {{
{loads}
        acc += (double)({problem.expression.c()});
    }}
    out[0] = (float)(acc{scale});
}}
"""
    body = f"""        xs = [x.contiguous().float() for x in inputs]
        out = torch.empty((), dtype=xs[0].dtype)
        lib.total(*xs, out, xs[0].numel(), {_rescale(problem)})
        return out"""
    return cpp_module(source, variant, _what(problem), model_new(body))


def triton_pointwise_total(problem: Recognised, variant: GpuVariant) -> str:
    pointers, loads = triton_expression_inputs(problem.inputs, "        ")
    # Masked lanes must add 0, not f(0) (a hinge's max(0, 1 - p*t) is 1 at p = t = 0).
    kernel = f"""@triton.jit
def _partial({pointers}, partial_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros([BLOCK], tl.float32)
    for tile in range(pid, tl.cdiv(n, BLOCK), tl.num_programs(0)):
        offs = tl.cast(tile, tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
{loads}
        acc += tl.where(mask, {problem.expression.triton()}, 0.0)
    tl.store(partial_ptr + pid, tl.sum(acc, axis=0))


@triton.jit
def _finish(partial_ptr, out_ptr, programs, scale, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, programs, BLOCK):
        acc += tl.load(partial_ptr + start + offs, mask=start + offs < programs, other=0.0)
    total = tl.sum(acc, axis=0) * scale
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
"""
    scale = "1.0 / n if n else float('nan')" if problem.kind == "mean" else "1.0"
    scale = f"({scale}) * {_rescale(problem)}"
    body = f"""        xs = [x.contiguous() for x in inputs]
        out = torch.empty((), device=xs[0].device, dtype=xs[0].dtype)
        n = xs[0].numel()
        sms = (
            torch.cuda.get_device_properties(out.device).multi_processor_count
            if out.device.type == "cuda"
            else 4
        )
        programs = max(1, min(triton.cdiv(n, {variant.block}), 4 * sms))
        partial = torch.empty(programs, device=out.device, dtype=torch.float32)
        _partial[(programs,)](*xs, partial, n, BLOCK={variant.block},
                              num_warps={variant.num_warps})
        _finish[(1,)](partial, out, programs, {scale}, BLOCK=1024, num_warps=4)
        return out"""
    return triton_module(kernel, variant, _what(problem), model_new(body))
