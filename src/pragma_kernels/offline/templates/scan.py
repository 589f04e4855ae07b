"""Templates for a prefix sum (cumsum) along one dimension, forward or reversed, with the
input viewed as [outer, R, inner]. Along contiguous rows the running total is kept in
double (as torch's CPU cumsum does for float) on the CPU and carried in float64 between
blocks on the GPU, so the error does not grow along long rows; the strided paths (inner > 1)
accumulate per column, in double on the CPU and in float32 on the GPU."""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    as_outer_r_inner,
    cpp_module,
    model_new,
    omp,
    triton_module,
)

LANES = 16  # C++: values scanned in float per block before the double carry takes them


def cpp_scan(problem: Recognised, variant: CpuVariant) -> str:
    reverse = problem.kind == "reverse_cumsum"
    at = "(R - 1 - ({k}))" if reverse else "({k})"  # position of the k-th value scanned
    source = f"""#include <cstdint>

extern "C" void scan(const float* __restrict__ x, float* __restrict__ out,
                     int64_t outer, int64_t R, int64_t inner) {{
    if (inner == 1) {{
        // One row per thread. Blocks of {LANES}: a short float scan each (independent
        // across blocks, so they overlap), plus one double carry add per block.
        {omp(variant, "parallel for schedule(static)")}
        for (int64_t o = 0; o < outer; ++o) {{
            const float* row = x + o * R;
            float* out_row = out + o * R;
            double carry = 0.0;
            int64_t k = 0;
            for (; k + {LANES} <= R; k += {LANES}) {{
                float local[{LANES}];
                float s = 0.0f;
                for (int j = 0; j < {LANES}; ++j) {{
                    s += row[{at.format(k="k + j")}];
                    local[j] = s;
                }}
                for (int j = 0; j < {LANES}; ++j)
                    out_row[{at.format(k="k + j")}] = (float)(carry + (double)local[j]);
                carry += (double)s;
            }}
            for (; k < R; ++k) {{
                carry += (double)row[{at.format(k="k")}];
                out_row[{at.format(k="k")}] = (float)carry;
            }}
        }}
        return;
    }}
    // inner > 1: walk R over rows of `inner` contiguous values, vectorised over i.
    {omp(variant, "parallel for collapse(2) schedule(static)")}
    for (int64_t o = 0; o < outer; ++o) {{
        for (int64_t chunk = 0; chunk < (inner + 255) / 256; ++chunk) {{
            const int64_t begin = chunk * 256;
            const int64_t end = begin + 256 < inner ? begin + 256 : inner;
            double acc[256];
            for (int64_t i = begin; i < end; ++i) acc[i - begin] = 0.0;
            for (int64_t k = 0; k < R; ++k) {{
                const int64_t offset = (o * R + {at.format(k="k")}) * inner;
                #pragma omp simd
                for (int64_t i = begin; i < end; ++i) {{
                    acc[i - begin] += (double)x[offset + i];
                    out[offset + i] = (float)acc[i - begin];
                }}
            }}
        }}
    }}
}}
"""
    body = (
        as_outer_r_inner(problem.dim, "inputs[0].contiguous().float()")
        + """\
        out = torch.empty_like(x)
        lib.scan(x, out, outer, R, inner)
        return out"""
    )
    return cpp_module(source, variant, f"{problem.kind} over dim {problem.dim}", model_new(body))


def triton_scan(problem: Recognised, variant: GpuVariant) -> str:
    reverse = problem.kind == "reverse_cumsum"
    kernel = f"""@triton.jit
def _scan_rows(x_ptr, out_ptr, R, BLOCK: tl.constexpr):
    # inner == 1: one program per contiguous row, BLOCK values at a time; the block's
    # total joins a float64 carry, so rounding does not pile up along the row.
    row = tl.program_id(0).to(tl.int64) * R
    carry = tl.zeros([1], tl.float64)
    for start in range(0, R, BLOCK):
        k = start + tl.arange(0, BLOCK)
        at = {"R - 1 - k" if reverse else "k"}
        v = tl.load(x_ptr + row + at, mask=k < R, other=0.0).to(tl.float32)
        y = tl.cumsum(v, axis=0) + carry.to(tl.float32)
        tl.store(out_ptr + row + at, y.to(out_ptr.dtype.element_ty), mask=k < R)
        carry += tl.sum(v, axis=0).to(tl.float64)


@triton.jit
def _scan_strided(x_ptr, out_ptr, R, inner, BLOCK: tl.constexpr):
    # inner > 1: one program per (outer, block of inner); each lane walks R.
    o = tl.program_id(0).to(tl.int64)
    i = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < inner
    acc = tl.zeros([BLOCK], tl.float32)
    for k in range(0, R):
        offset = (o * R + {"R - 1 - k" if reverse else "k"}) * inner + i
        acc += tl.load(x_ptr + offset, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_ptr + offset, acc.to(out_ptr.dtype.element_ty), mask=mask)
"""
    body = (
        as_outer_r_inner(problem.dim, "inputs[0].contiguous()")
        + f"""\
        out = torch.empty_like(x)
        if out.numel() and inner == 1:
            block = min({variant.block}, triton.next_power_of_2(R))
            _scan_rows[(outer,)](x, out, R, BLOCK=block, num_warps={variant.num_warps})
        elif out.numel():
            block = min({variant.block}, 1024)
            grid = (outer, triton.cdiv(inner, block))
            _scan_strided[grid](x, out, R, inner, BLOCK=block, num_warps={variant.num_warps})
        return out"""
    )
    return triton_module(kernel, variant, f"{problem.kind} over dim {problem.dim}", model_new(body))
