"""Templates for pointwise chains (one fused pass), reductions along one dimension (the
input viewed as [outer, R, inner]) and softmax / log-softmax over the last dimension."""

from __future__ import annotations

from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CPP_STREAM_INCLUDE,
    CpuVariant,
    GpuVariant,
    as_outer_r_inner,
    autotune,
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
    # One line per input, no list: at KernelBench's small CPU sizes a call is ~10 us and
    # each Python step of the forward is ~0.1-0.3 us of it.
    names = [f"x{i}" for i in range(problem.inputs)]
    loads = "".join(
        f"        {x} = inputs[{i}].contiguous().float()\n" for i, x in enumerate(names)
    )
    body = f"""{loads}        out = torch.empty_like(x0)
        lib.pointwise({", ".join(names)}, out, out.numel())
        return out"""
    return cpp_module(source, variant, f"fused pointwise {'/'.join(problem.ops)}", model_new(body))


_CPP_REDUCE = {
    # kind: (initial value, update of (acc, idx) by value v at position r, result)
    "sum": ("0.0f", "{a} += v;", "{a}"),
    "mean": ("0.0f", "{a} += v;", "{a} / (float)R"),
    "prod": ("1.0f", "{a} *= v;", "{a}"),
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


_TRITON_INIT = {
    "sum": "0.0",
    "mean": "0.0",
    "prod": "1.0",
    "max": "float('-inf')",
    "min": "float('inf')",
    "argmax": "float('-inf')",
    "argmin": "float('inf')",
}
_TRITON_UPDATE = {
    "sum": "acc += v",
    "mean": "acc += v",
    "prod": "acc *= v",
    "max": "acc = tl.maximum(acc, v)",
    "min": "acc = tl.minimum(acc, v)",
}
_TRITON_COMBINE = {  # the tile's lanes along `axis` into one value
    "sum": "tl.sum(acc, axis={axis})",
    "mean": "tl.sum(acc, axis={axis}) / R",
    "prod": "tl.reduce(acc, {axis}, _times)",
    "max": "tl.max(acc, axis={axis})",
    "min": "tl.min(acc, axis={axis})",
}
_REDUCE_PRUNE = """

@triton.jit
def _times(a, b):
    return a * b


def _prune_rows(configs, named, **kwargs):
    # Blocks no longer than the row; several rows per program only for short rows.
    R = named["R"]
    fit = [c for c in configs if c.kwargs["BLOCK"] <= max(16, triton.next_power_of_2(R))]
    fit = [c for c in fit if c.kwargs["ROWS"] == 1 or R <= 512]
    return fit or configs[:1]


def _prune_strided(configs, named, **kwargs):
    widest = max(32, triton.next_power_of_2(named["inner"]))
    fit = [c for c in configs if c.kwargs["BI"] <= widest]
    return fit or configs[:1]
"""


def _triton_reduce_code(kind: str, axis: int) -> tuple[str, str]:
    """(update of acc/index by the tile v at positions r, the result along `axis`)."""
    if kind in ("argmax", "argmin"):
        better = ">" if kind == "argmax" else "<"
        update = f"""take = v {better} acc
        index = tl.where(take, r, index)
        acc = tl.where(take, v, acc)"""
        best = f"tl.{kind[3:]}(acc, axis={axis})"
        best = f"tl.expand_dims({best}, {axis})"
        # Each lane holds its first best; the first overall is the smallest such index.
        return update, f"tl.min(tl.where(acc == {best}, index, R), axis={axis})"
    return _TRITON_UPDATE[kind], _TRITON_COMBINE[kind].format(axis=axis)


def triton_reduction(problem: Recognised, variant: GpuVariant) -> str:
    """Rows (inner == 1): [ROWS, BLOCK] tiles along contiguous rows. Strided (inner > 1):
    [BR, BI] tiles, BI along the contiguous inner dim (coalesced), BR rows of R in flight,
    reduced across BR at the end. Both autotuned from R and inner."""
    arg = problem.kind in ("argmax", "argmin")
    kind, init = problem.kind, _TRITON_INIT[problem.kind]
    update, rows_result = _triton_reduce_code(kind, 1)
    _, strided_result = _triton_reduce_code(kind, 0)
    block = min(variant.block, 4096)
    row_configs = [({"ROWS": 1, "BLOCK": block}, variant.num_warps)] + [
        ({"ROWS": rows, "BLOCK": b}, w)
        for rows, b, w in (
            (1, 1024, 4),
            (1, 2048, 8),
            (1, 4096, 8),
            (4, 128, 4),
            (8, 64, 4),
            (16, 32, 4),
        )
    ]
    strided_configs = [({"BR": 8, "BI": min(variant.block // 8, 256)}, variant.num_warps)] + [
        ({"BR": br, "BI": bi}, w)
        for br, bi, w in (
            (4, 256, 4),
            (8, 128, 4),
            (16, 64, 4),
            (32, 32, 4),
            (8, 256, 8),
            (16, 128, 8),
            (2, 512, 4),
        )
    ]
    kernel = f"""{_REDUCE_PRUNE}

{autotune(row_configs, ["R", "outer"], "_prune_rows")}@triton.jit
def _reduce_rows(x_ptr, out_ptr, outer, R, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    # inner == 1: ROWS contiguous rows of R values per program.
    rows = tl.program_id(0).to(tl.int64) * ROWS + tl.arange(0, ROWS)
    row_ok = rows < outer
    acc = tl.full([ROWS, BLOCK], {init}, tl.float32)
    index = tl.zeros([ROWS, BLOCK], tl.int64)
    for start in range(0, R, BLOCK):
        r = start + tl.arange(0, BLOCK)[None, :]
        ok = row_ok[:, None] & (r < R)
        v = tl.load(x_ptr + rows[:, None] * R + r, mask=ok, other={init}).to(tl.float32)
        {update}
    result = {rows_result}
    tl.store(out_ptr + rows, result.to(out_ptr.dtype.element_ty), mask=row_ok)


{autotune(strided_configs, ["inner", "R", "outer"], "_prune_strided")}@triton.jit
def _reduce_strided(x_ptr, out_ptr, R, inner, BR: tl.constexpr, BI: tl.constexpr):
    # inner > 1: one program per (outer, BI columns); [BR, BI] tiles walk R.
    o = tl.program_id(0).to(tl.int64)
    i = tl.program_id(1).to(tl.int64) * BI + tl.arange(0, BI)
    cols_ok = i < inner
    acc = tl.full([BR, BI], {init}, tl.float32)
    index = tl.zeros([BR, BI], tl.int64)
    for start in range(0, R, BR):
        r = start + tl.arange(0, BR)[:, None]
        ok = (r < R) & cols_ok[None, :]
        v = tl.load(x_ptr + (o * R + r) * inner + i[None, :], mask=ok, other={init})
        v = v.to(tl.float32)
        {update}
    result = {strided_result}
    tl.store(out_ptr + o * inner + i, result.to(out_ptr.dtype.element_ty), mask=cols_ok)
"""
    dtype = "torch.int64" if arg else "x.dtype"
    body = (
        as_outer_r_inner(problem.dim, "inputs[0].contiguous()")
        + f"""\
        out = torch.empty(shape, device=x.device, dtype={dtype})
        if out.numel() and R == 0:
            out.fill_({init if kind in ("sum", "prod") else "float('nan')"})
        elif out.numel() and inner == 1:
            grid = lambda meta: (triton.cdiv(outer, meta["ROWS"]),)
            _reduce_rows[grid](x, out, outer, R)
        elif out.numel():
            grid = lambda meta: (outer, triton.cdiv(inner, meta["BI"]))
            _reduce_strided[grid](x, out, R, inner)
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
