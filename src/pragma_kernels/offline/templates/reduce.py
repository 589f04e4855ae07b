"""Templates for pointwise chains (one fused pass), reductions along one dimension (the
input viewed as [outer, R, inner]) and softmax / log-softmax over the last dimension."""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CPP_STREAM_INCLUDE,
    CpuVariant,
    GpuVariant,
    as_outer_r_inner,
    cpp_expression_inputs,
    cpp_module,
    cpp_write_loop,
    model_new,
    omp,
    triton_expression_inputs,
    triton_module,
)

# -- C++ ----------------------------------------------------------------------------------


def cpp_pointwise(problem: Recognised, variant: CpuVariant) -> str:
    params, loads = cpp_expression_inputs(problem.inputs)
    write = cpp_write_loop(variant, "out", "n", "i", loads, problem.expression.c())
    source = f"""#include <cstdint>
#include <cmath>
{CPP_STREAM_INCLUDE}
extern "C" void pointwise({params}, float* __restrict__ out, int64_t n) {{
    {write}
}}
"""
    body = """        xs = [x.contiguous().float() for x in inputs]
        out = torch.empty_like(xs[0])
        lib.pointwise(*xs, out, out.numel())
        return out"""
    return cpp_module(source, variant, f"fused pointwise {'/'.join(problem.ops)}", model_new(body))


_CPP_REDUCE = {
    # kind: (initial value, update of (acc, idx) by value v at position r, result)
    "sum": ("0.0f", "{a} += v;", "{a}"),
    "mean": ("0.0f", "{a} += v;", "{a} / (float)R"),
    "max": ("-INFINITY", "{a} = v > {a} ? v : {a};", "{a}"),
    "min": ("INFINITY", "{a} = v < {a} ? v : {a};", "{a}"),
    # First best index wins, like torch.
    "argmax": ("-INFINITY", "if (v > {a}) {{ {a} = v; {i} = r; }}", "{i}"),
    "argmin": ("INFINITY", "if (v < {a}) {{ {a} = v; {i} = r; }}", "{i}"),
}


def cpp_reduction(problem: Recognised, variant: CpuVariant) -> str:
    arg = problem.kind in ("argmax", "argmin")
    out_type = "int64_t" if arg else "float"
    init, update, finish = _CPP_REDUCE[problem.kind]
    row_update = update.format(a="acc", i="idx")
    lane_update = update.format(a="acc[i - begin]", i="idx[i - begin]")
    source = f"""#include <cstdint>
#include <cmath>

extern "C" void reduce(const float* __restrict__ x, {out_type}* __restrict__ out,
                       int64_t outer, int64_t R, int64_t inner) {{
    if (inner == 1) {{
        {omp(variant, "parallel for schedule(static)")}
        for (int64_t o = 0; o < outer; ++o) {{
            const float* row = x + o * R;
            float acc = {init};
            int64_t idx = 0;
            for (int64_t r = 0; r < R; ++r) {{ const float v = row[r]; {row_update} }}
            (void)idx;
            out[o] = {finish.format(a="acc", i="idx")};
        }}
        return;
    }}
    // inner > 1: walk R over rows of `inner` contiguous values, vectorised over i.
    {omp(variant, "parallel for collapse(2) schedule(static)")}
    for (int64_t o = 0; o < outer; ++o) {{
        for (int64_t chunk = 0; chunk < (inner + 255) / 256; ++chunk) {{
            const int64_t begin = chunk * 256;
            const int64_t end = begin + 256 < inner ? begin + 256 : inner;
            float acc[256];
            int64_t idx[256];
            for (int64_t i = begin; i < end; ++i) {{ acc[i - begin] = {init}; idx[i - begin] = 0; }}
            for (int64_t r = 0; r < R; ++r) {{
                const float* row = x + (o * R + r) * inner;
                #pragma omp simd
                for (int64_t i = begin; i < end; ++i) {{
                    const float v = row[i];
                    {lane_update}
                }}
            }}
            for (int64_t i = begin; i < end; ++i)
                out[o * inner + i] = {finish.format(a="acc[i - begin]", i="idx[i - begin]")};
        }}
    }}
}}
"""
    dtype = "torch.int64" if arg else "torch.float32"
    body = (
        as_outer_r_inner(problem.dim, "inputs[0].contiguous().float()")
        + f"""\
        out = torch.empty(shape, dtype={dtype})
        lib.reduce(x, out, outer, R, inner)
        return out if {problem.keepdim} else out.squeeze(dim)"""
    )
    return cpp_module(source, variant, f"{problem.kind} over dim {problem.dim}", model_new(body))


def cpp_softmax(problem: Recognised, variant: CpuVariant) -> str:
    log = problem.kind == "log_softmax"
    write = "out_row[j] = row[j] - m - logf(s);" if log else "out_row[j] = out_row[j] * inv;"
    keep_exp = "" if log else "out_row[j] = e;"
    source = f"""#include <cstdint>
#include <cmath>

extern "C" void softmax(const float* __restrict__ x, float* __restrict__ out,
                        int64_t rows, int64_t R) {{
    {omp(variant, "parallel for schedule(static)")}
    for (int64_t r = 0; r < rows; ++r) {{
        const float* row = x + r * R;
        float* out_row = out + r * R;
        float m = -INFINITY;
        #pragma omp simd reduction(max:m)
        for (int64_t j = 0; j < R; ++j) m = row[j] > m ? row[j] : m;
        float s = 0.0f;
        #pragma omp simd reduction(+:s)
        for (int64_t j = 0; j < R; ++j) {{ const float e = expf(row[j] - m); {keep_exp} s += e; }}
        const float inv = 1.0f / s;
        (void)inv;
        #pragma omp simd
        for (int64_t j = 0; j < R; ++j) {{ {write} }}
    }}
}}
"""
    body = """        x = inputs[0].contiguous().float()
        out = torch.empty_like(x)
        R = x.shape[-1]
        lib.softmax(x, out, x.numel() // R, R)
        return out"""
    return cpp_module(source, variant, problem.kind + " over the last dim", model_new(body))


# -- Triton -------------------------------------------------------------------------------


def triton_pointwise(problem: Recognised, variant: GpuVariant) -> str:
    pointers, loads = triton_expression_inputs(problem.inputs, "    ")
    kernel = f"""@triton.jit
def _pointwise({pointers}, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
{loads}
    y = {problem.expression.triton()}
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)
"""
    body = f"""        xs = [x.contiguous() for x in inputs]
        out = torch.empty_like(xs[0])
        n = out.numel()
        if n:
            _pointwise[(triton.cdiv(n, {variant.block}),)](
                *xs, out, n, BLOCK={variant.block}, num_warps={variant.num_warps}
            )
        return out"""
    return triton_module(
        kernel, variant, f"fused pointwise {'/'.join(problem.ops)}", model_new(body)
    )


def triton_reduction(problem: Recognised, variant: GpuVariant) -> str:
    arg = problem.kind in ("argmax", "argmin")
    kind = problem.kind
    init = {
        "sum": "0.0",
        "mean": "0.0",
        "max": "float('-inf')",
        "min": "float('inf')",
        "argmax": "float('-inf')",
        "argmin": "float('inf')",
    }[kind]
    if arg:
        better = ">" if kind == "argmax" else "<"
        update = f"""take = v {better} acc
        index = tl.where(take, r, index)
        acc = tl.where(take, v, acc)"""
        lanes = "index"
        best = "tl.max(acc, axis=0)" if kind == "argmax" else "tl.min(acc, axis=0)"
        # Each lane holds its first best; the first global one is the smallest such index.
        row_result = f"tl.min(tl.where(acc == {best}, index, R), axis=0)"
    else:
        update = {
            "sum": "acc += v",
            "mean": "acc += v",
            "max": "acc = tl.maximum(acc, v)",
            "min": "acc = tl.minimum(acc, v)",
        }[kind]
        lanes = "acc / R" if kind == "mean" else "acc"
        row_result = {
            "sum": "tl.sum(acc, axis=0)",
            "mean": "tl.sum(acc, axis=0) / R",
            "max": "tl.max(acc, axis=0)",
            "min": "tl.min(acc, axis=0)",
        }[kind]
    kernel = f"""@triton.jit
def _reduce_rows(x_ptr, out_ptr, R, BLOCK: tl.constexpr):
    # inner == 1: one program per contiguous row of R values.
    row = tl.program_id(0).to(tl.int64)
    acc = tl.full([BLOCK], {init}, tl.float32)
    index = tl.zeros([BLOCK], tl.int64)
    for start in range(0, R, BLOCK):
        r = start + tl.arange(0, BLOCK)
        v = tl.load(x_ptr + row * R + r, mask=r < R, other={init}).to(tl.float32)
        {update}
    tl.store(out_ptr + row, {row_result})


@triton.jit
def _reduce_strided(x_ptr, out_ptr, R, inner, BLOCK: tl.constexpr):
    # inner > 1: one program per (outer, block of inner); each lane walks R.
    o = tl.program_id(0).to(tl.int64)
    i = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < inner
    acc = tl.full([BLOCK], {init}, tl.float32)
    index = tl.zeros([BLOCK], tl.int64)
    for r in range(0, R):
        v = tl.load(x_ptr + (o * R + r) * inner + i, mask=mask, other={init}).to(tl.float32)
        {update}
    tl.store(out_ptr + o * inner + i, {lanes}, mask=mask)
"""
    dtype = "torch.int64" if arg else "x.dtype"
    body = (
        as_outer_r_inner(problem.dim, "inputs[0].contiguous()")
        + f"""\
        out = torch.empty(shape, device=x.device, dtype={dtype})
        if out.numel() and inner == 1:
            block = min({variant.block}, triton.next_power_of_2(R))
            _reduce_rows[(outer,)](x, out, R, BLOCK=block, num_warps={variant.num_warps})
        elif out.numel():
            block = min({variant.block}, 1024)
            grid = (outer, triton.cdiv(inner, block))
            _reduce_strided[grid](x, out, R, inner, BLOCK=block, num_warps={variant.num_warps})
        return out if {problem.keepdim} else out.squeeze(dim)"""
    )
    return triton_module(kernel, variant, f"{kind} over dim {problem.dim}", model_new(body))


def triton_softmax(problem: Recognised, variant: GpuVariant) -> str:
    log = problem.kind == "log_softmax"
    final = "x - m - tl.log(s)" if log else "tl.exp(x - m) / s"
    # Two passes over each row in BLOCK chunks: an online max/sum, then the output.
    kernel = f"""@triton.jit
def _softmax(x_ptr, out_ptr, R, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64) * R
    m = tl.full([BLOCK], float('-inf'), tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    for start in range(0, R, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + row + cols, mask=cols < R, other=float('-inf')).to(tl.float32)
        new_m = tl.maximum(m, x)
        s = s * tl.exp(m - new_m) + tl.exp(x - new_m)
        s = tl.where(new_m == float('-inf'), 0.0, s)
        m = new_m
    total_m = tl.max(m, axis=0)
    s = tl.sum(tl.where(m == float('-inf'), 0.0, s * tl.exp(m - total_m)), axis=0)
    m = total_m
    for start in range(0, R, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(x_ptr + row + cols, mask=cols < R, other=0.0).to(tl.float32)
        y = {final}
        tl.store(out_ptr + row + cols, y.to(out_ptr.dtype.element_ty), mask=cols < R)
"""
    body = f"""        x = inputs[0].contiguous()
        out = torch.empty_like(x)
        R = x.shape[-1]
        if out.numel():
            _softmax[(x.numel() // R,)](x, out, R, BLOCK={variant.block},
                                        num_warps={variant.num_warps})
        return out"""
    return triton_module(kernel, variant, problem.kind + " over the last dim", model_new(body))
