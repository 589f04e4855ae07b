"""Templates for a pointwise chain summed or averaged over every element (losses such as
MSE, hinge or L1): one pass reading each input once, no intermediate tensor.

C++ accumulates in double (an fp32 running sum over 10^7 elements drifts past 1e-2 of a
mean's size); Triton sums fp32 partials per program (a fixed grid striding over the
tensor, a few programs per SM) and a one-program kernel adds the partials.

Inputs of different shapes (`Recognised.broadcast`) are read by strides: each is expanded
to the broadcast shape (stride 0 along its broadcast dims), the dims every input can merge
are merged (`_coalesce`, emitted into the candidate), and the rest is walked as [outer0,
outer1, inner] (rows of `inner` values); more than three dims left materialises the
inputs, which is correct for any broadcast, only slower.
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


def _per_sm(variant: GpuVariant) -> int:
    """Programs per SM of the fixed grid: as many as fill the SM's 64 warps, so enough loads
    are in flight to stream from DRAM. Four per SM left KernelBench's losses on the H200 at
    1.3-2.6 ms where torch.compile streams the same bytes in 0.8-2.1 ms."""
    return max(4, 64 // variant.num_warps)


def _rescale(problem: Recognised) -> str:
    """Python for the final factor of a total scaled by a number (kl_div's batchmean)."""
    if problem.spec is None:
        return "1.0"
    op, number = problem.spec
    value = "xs[0].shape[0]" if number == "batch" else repr(number)
    return f"(1.0 / {value})" if op == "div" else f"{value}"


_FINISH = """@triton.jit
def _finish(partial_ptr, out_ptr, programs, scale, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for start in range(0, programs, BLOCK):
        acc += tl.load(partial_ptr + start + offs, mask=start + offs < programs, other=0.0)
    total = tl.sum(acc, axis=0) * scale
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
"""
# Python emitted into a broadcasting candidate: the inputs as (sizes, strides per input) of
# at most 3 dims, outer to inner, after merging the dims every input can merge.
COALESCE = """

def _coalesce(xs):
    shape = torch.broadcast_shapes(*(x.shape for x in xs))
    strides = [x.expand(shape).stride() for x in xs]
    merged = []  # (size, strides of the inputs), outer to inner
    for d, size in enumerate(shape):
        if size == 1:
            continue
        now = [s[d] for s in strides]
        if merged and all(p == q * size for p, q in zip(merged[-1][1], now)):
            merged[-1] = (merged[-1][0] * size, now)
        else:
            merged.append((size, now))
    if len(merged) > 3:  # materialised: one contiguous dim
        xs = [x.expand(shape).contiguous() for x in xs]
        merged = [(xs[0].numel(), [1] * len(xs))]
    merged = [(1, [0] * len(xs))] * (3 - len(merged)) + merged
    return xs, [m[0] for m in merged], [[m[1][i] for m in merged] for i in range(len(xs))]
"""


def cpp_pointwise_total(problem: Recognised, variant: CpuVariant) -> str:
    if problem.broadcast:
        return _cpp_broadcast_total(problem, variant)
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


def _cpp_broadcast_total(problem: Recognised, variant: CpuVariant) -> str:
    """Rows of the [outer0, outer1, inner] walk in parallel, each summed in double."""
    count = problem.inputs
    params = ", ".join(
        f"const float* __restrict__ x{i}, int64_t a{i}, int64_t b{i}, int64_t c{i}"
        for i in range(count)
    )
    rows = "\n".join(
        f"        const float* r{i} = x{i} + o * a{i} + p * b{i};" for i in range(count)
    )
    loads = "\n".join(f"            const float v{i} = r{i}[i * c{i}];" for i in range(count))
    scale = " / (double)(n0 * n1 * n2)" if problem.kind == "mean" else ""
    source = f"""#include <cstdint>
#include <cmath>

extern "C" void total({params}, float* __restrict__ out,
                      int64_t n0, int64_t n1, int64_t n2, double rescale) {{
    double acc = 0.0;
    {omp(variant, "parallel for collapse(2) reduction(+ : acc) schedule(static)")}
    for (int64_t o = 0; o < n0; ++o) {{
      for (int64_t p = 0; p < n1; ++p) {{
{rows}
        double row = 0.0;
        #pragma omp simd reduction(+ : row)
        for (int64_t i = 0; i < n2; ++i) {{
{loads}
            row += (double)({problem.expression.c()});
        }}
        acc += row;
      }}
    }}
    out[0] = (float)(acc{scale} * rescale);
}}
"""
    body = f"""        xs, sizes, strides = _coalesce([x.float() for x in inputs])
        out = torch.empty((), dtype=xs[0].dtype)
        args = [v for x, s in zip(xs, strides) for v in (x, *s)]
        lib.total(*args, out, *sizes, {_rescale(problem)})
        return out"""
    return cpp_module(source, variant, _what(problem), COALESCE + model_new(body))


def triton_pointwise_total(problem: Recognised, variant: GpuVariant) -> str:
    if problem.broadcast:
        return _triton_broadcast_total(problem, variant)
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


{_FINISH}"""
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
        programs = max(1, min(triton.cdiv(n, {variant.block}), {_per_sm(variant)} * sms))
        partial = torch.empty(programs, device=out.device, dtype=torch.float32)
        _partial[(programs,)](*xs, partial, n, BLOCK={variant.block},
                              num_warps={variant.num_warps})
        _finish[(1,)](partial, out, programs, {scale}, BLOCK=1024, num_warps=4)
        return out"""
    return triton_module(kernel, variant, _what(problem), model_new(body))


def _triton_broadcast_total(problem: Recognised, variant: GpuVariant) -> str:
    """Tiles of [rows, inner] (rows: outer0 x outer1, split by one division per row),
    strided over by a fixed grid; the inner stride 1 is specialised by Triton."""
    count = problem.inputs
    pointers = ", ".join(f"x{i}_ptr, a{i}, b{i}, c{i}" for i in range(count))
    loads = "\n".join(
        f"        v{i} = tl.load(x{i}_ptr + (o * a{i} + p * b{i})[:, None] + i[None, :] * c{i},"
        " mask=mask, other=0.0).to(tl.float32)"
        for i in range(count)
    )
    kernel = f"""{COALESCE}

@triton.jit
def _partial({pointers}, partial_ptr, rows, n1, n2, BLOCK_R: tl.constexpr,
             BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)
    col_tiles = tl.cdiv(n2, BLOCK_C)
    acc = tl.zeros([BLOCK_R, BLOCK_C], tl.float32)
    for tile in range(pid, tl.cdiv(rows, BLOCK_R) * col_tiles, tl.num_programs(0)):
        r = tl.cast(tile // col_tiles, tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
        i = tl.cast(tile % col_tiles, tl.int64) * BLOCK_C + tl.arange(0, BLOCK_C)
        o = r // n1
        p = r % n1
        mask = (r < rows)[:, None] & (i < n2)[None, :]
{loads}
        acc += tl.where(mask, {problem.expression.triton()}, 0.0)
    tl.store(partial_ptr + pid, tl.sum(tl.sum(acc, axis=1), axis=0))


{_FINISH}"""
    scale = "1.0 / n if n else float('nan')" if problem.kind == "mean" else "1.0"
    scale = f"({scale}) * {_rescale(problem)}"
    body = f"""        xs, sizes, strides = _coalesce(list(inputs))
        out = torch.empty((), device=xs[0].device, dtype=xs[0].dtype)
        n = sizes[0] * sizes[1] * sizes[2]
        sms = (
            torch.cuda.get_device_properties(out.device).multi_processor_count
            if out.device.type == "cuda"
            else 4
        )
        block_c = min({variant.block}, triton.next_power_of_2(sizes[2]))
        block_r = max(1, {variant.block} // block_c)
        rows = sizes[0] * sizes[1]
        tiles = triton.cdiv(rows, block_r) * triton.cdiv(sizes[2], block_c)
        programs = max(1, min(tiles, {_per_sm(variant)} * sms))
        partial = torch.empty(programs, device=out.device, dtype=torch.float32)
        args = [v for x, s in zip(xs, strides) for v in (x, *s)]
        _partial[(programs,)](*args, partial, rows, sizes[1], sizes[2], BLOCK_R=block_r,
                              BLOCK_C=block_c, num_warps={variant.num_warps})
        _finish[(1,)](partial, out, programs, {scale}, BLOCK=1024, num_warps=4)
        return out"""
    return triton_module(kernel, variant, _what(problem), model_new(body))
