"""Templates for max / average pooling over the last two dims (`offline/pool.py`).

The window, stride and padding are compile-time constants (the loops over the window
unroll); the spatial size is read at run time, so one candidate serves every size. Max
pooling propagates NaN like torch; average pooling divides by the full window, or by
its in-bounds part when the reference excludes padding.
"""

from __future__ import annotations

from pragma_kernels.offline.pool import Pool
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    cpp_module,
    model_new,
    triton_module,
)


def _what(problem: Recognised) -> str:
    spec: Pool = problem.spec
    return f"{problem.kind} kernel {spec.kernel} stride {spec.stride} padding {spec.padding}" + (
        "" if spec.kind == "max" or spec.count_include_pad else ", padding not counted"
    )


def _forward(spec: Pool, prepare: str, launch: str) -> str:
    """View the input as (planes, H, W), compute the output size, launch, reshape back."""
    (kh, kw), (sh, sw), (ph, pw) = spec.kernel, spec.stride, spec.padding
    view = "x.unsqueeze(-2)" if spec.one_d else "x"
    squeeze = ".squeeze(-2)" if spec.one_d else ""
    return f"""        x = inputs[0]{prepare}
        x = {view}
        *lead, H, W = x.shape
        Ho, Wo = (H + {2 * ph} - {kh}) // {sh} + 1, (W + {2 * pw} - {kw}) // {sw} + 1
        out = torch.empty(*lead, Ho, Wo, device=x.device, dtype=x.dtype)
        planes = x.numel() // (H * W) if H * W else 0
{launch}
        return out{squeeze}.to(inputs[0].dtype)"""


def cpp_pool(problem: Recognised, variant: CpuVariant) -> str:
    spec: Pool = problem.spec
    (kh, kw), (sh, sw), (ph, pw) = spec.kernel, spec.stride, spec.padding
    if spec.kind == "max":
        init, combine = "-INFINITY", "(v > a) | (v != v) ? v : a"  # NaN wins, as in torch
        finish = "acc"
    else:
        init, combine = "0.0f", "a + v"
        if spec.count_include_pad:
            finish = f"acc * {1.0 / (kh * kw)!r}f"
        else:
            finish = "acc / (float)(rows * (std::min(c0 + KW, W) - std::max(c0, (int64_t)0)))"
    parallel = "#pragma omp parallel" if variant.parallel else ""
    for_planes = "#pragma omp for schedule(static)" if variant.parallel else ""
    source = f"""#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

constexpr int64_t KH = {kh}, KW = {kw}, SH = {sh}, SW = {sw}, PH = {ph}, PW = {pw};

static inline float combine(float a, float v) {{ return {combine}; }}

// x: (planes, H, W); out: (planes, Ho, Wo). For each output row the window's input rows
// are combined into a padded row buffer (contiguous, vectorised); each output then
// combines its KW neighbours in the buffer.
extern "C" void pool2d(const float* __restrict__ x, float* __restrict__ out, int64_t planes,
                       int64_t H, int64_t W, int64_t Ho, int64_t Wo) {{
    {parallel}
    {{
        std::vector<float> buffer(W + 2 * PW, {init});
        float* row = buffer.data();
        float* mid = row + PW;
        {for_planes}
        for (int64_t p = 0; p < planes; ++p) {{
            const float* xp = x + p * H * W;
            float* op = out + p * Ho * Wo;
            for (int64_t h = 0; h < Ho; ++h) {{
                const int64_t r0 = std::max(h * SH - PH, (int64_t)0);
                const int64_t r1 = std::min(h * SH - PH + KH, H);
                const int64_t rows = r1 - r0;
                (void)rows;
                const float* first = xp + r0 * W;
                #pragma omp simd
                for (int64_t c = 0; c < W; ++c) mid[c] = first[c];
                for (int64_t r = r0 + 1; r < r1; ++r) {{
                    const float* xr = xp + r * W;
                    #pragma omp simd
                    for (int64_t c = 0; c < W; ++c) mid[c] = combine(mid[c], xr[c]);
                }}
                float* orow = op + h * Wo;
                #pragma omp simd
                for (int64_t w = 0; w < Wo; ++w) {{
                    const int64_t c0 = w * SW - PW;
                    (void)c0;
                    float acc = {init};
                    for (int64_t k = 0; k < KW; ++k) acc = combine(acc, row[w * SW + k]);
                    orow[w] = {finish};
                }}
            }}
        }}
    }}
}}
"""
    launch = """        if out.numel():
            lib.pool2d(x, out, planes, H, W, Ho, Wo)"""
    forward = _forward(spec, ".contiguous().float()", launch)
    return cpp_module(source, variant, _what(problem), model_new(forward))


def triton_pool(problem: Recognised, variant: GpuVariant) -> str:
    spec: Pool = problem.spec
    (kh, kw), (sh, sw), (ph, pw) = spec.kernel, spec.stride, spec.padding
    if spec.kind == "max":
        init, update, finish = "float('-inf')", "tl.where((v > acc) | (v != v), v, acc)", "acc"
    else:
        init, update = "0.0", "acc + v"
        if spec.count_include_pad:
            finish = f"acc * {1.0 / (kh * kw)!r}"
        else:
            finish = (
                f"acc / ((tl.minimum(h0 + {kh}, H) - tl.maximum(h0, 0))"
                f" * (tl.minimum(w0 + {kw}, W) - tl.maximum(w0, 0))).to(tl.float32)"
            )
    kernel = f"""@triton.jit
def _pool2d(x_ptr, out_ptr, total, H, W, Ho, Wo, BLOCK: tl.constexpr):
    # One lane per output element of (planes, Ho, Wo); the window's loads unroll.
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    w_out = offs % Wo
    h_out = (offs // Wo) % Ho
    plane = offs // (Wo * Ho)
    h0 = h_out * {sh} - {ph}
    w0 = w_out * {sw} - {pw}
    acc = tl.full([BLOCK], {init}, tl.float32)
    for kh in tl.static_range({kh}):
        h = h0 + kh
        row_ok = mask & (h >= 0) & (h < H)
        for kw in tl.static_range({kw}):
            w = w0 + kw
            ok = row_ok & (w >= 0) & (w < W)
            v = tl.load(x_ptr + (plane * H + h) * W + w, mask=ok, other={init}).to(tl.float32)
            acc = {update}
    y = {finish}
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)
"""
    launch = f"""        total = out.numel()
        if total:
            grid = (triton.cdiv(total, {variant.block}),)
            _pool2d[grid](x, out, total, H, W, Ho, Wo, BLOCK={variant.block},
                          num_warps={variant.num_warps})"""
    forward = _forward(spec, ".contiguous()", launch)
    return triton_module(kernel, variant, _what(problem), model_new(forward))
