"""Templates for max / average pooling over the last one, two or three dims
(`offline/pool.py`); a 2-D pooling is a 3-D one of depth 1.

The window, stride, padding and dilation are compile-time constants; the spatial size is
read at run time, so one candidate serves every size. Max pooling propagates NaN like
torch; average pooling divides by the full window, or by its in-bounds part when the
reference excludes padding.

C++: for each output row the window's input rows are combined into a padded row buffer
(contiguous, vectorised), then each output combines its KW neighbours in the buffer.
Triton: a program owns BW outputs of one output row; for each (kd, kh) it loads a
[BW, KW] tile whose fast axis is the window's width, so a warp reads contiguous input
runs (one lane per output reading KW strided values, the old layout, was 20x slower than
eager on an 11x11 window over 2048x2048 planes), and reduces the tile's rows once at the
end. BW and the warps are autotuned from the output width.
"""

from __future__ import annotations

from pragma_kernels.offline.pool import Pool
from pragma_kernels.offline.recorded import Recognised
from pragma_kernels.offline.templates.base import (
    CpuVariant,
    GpuVariant,
    autotune,
    cpp_module,
    model_new,
    triton_module,
)


def _what(problem: Recognised) -> str:
    spec: Pool = problem.spec
    dilated = "" if set(spec.dilation) == {1} else f" dilation {spec.dilation}"
    return (
        f"{problem.kind} kernel {spec.kernel} stride {spec.stride} padding {spec.padding}"
        + dilated
        + ("" if spec.kind == "max" or spec.count_include_pad else ", padding not counted")
    )


def _forward(spec: Pool, prepare: str, launch: str) -> str:
    """View the input as (planes, D, H, W), compute the output size, launch, reshape."""
    (kd, kh, kw), (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = spec.as_3d()
    three = len(spec.kernel) == 3
    view = "x.unsqueeze(-2)" if spec.one_d else "x"
    squeeze = ".squeeze(-2)" if spec.one_d else ""
    depth = "*lead, D, H, W = x.shape" if three else "*lead, H, W = x.shape\n        D = 1"
    out_shape = "*lead, Do, Ho, Wo" if three else "*lead, Ho, Wo"
    return f"""        x = inputs[0]{prepare}
        x = {view}
        {depth}
        Do = (D + {2 * pd} - {dd * (kd - 1) + 1}) // {sd} + 1
        Ho = (H + {2 * ph} - {dh * (kh - 1) + 1}) // {sh} + 1
        Wo = (W + {2 * pw} - {dw * (kw - 1) + 1}) // {sw} + 1
        out = torch.empty({out_shape}, device=x.device, dtype=x.dtype)
        planes = x.numel() // (D * H * W) if D * H * W else 0
{launch}
        return out{squeeze}.to(inputs[0].dtype)"""


def cpp_pool(problem: Recognised, variant: CpuVariant) -> str:
    spec: Pool = problem.spec
    (kd, kh, kw), (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = spec.as_3d()
    if spec.kind == "max":
        init, combine = "-INFINITY", "(v > a) | (v != v) ? v : a"  # NaN wins, as in torch
        finish = "acc"
    else:
        init, combine = "0.0f", "a + v"
        if spec.count_include_pad:
            finish = f"acc * {1.0 / (kd * kh * kw)!r}f"
        else:
            finish = "acc / (float)(rows * (std::min(c0 + KW, W) - std::max(c0, (int64_t)0)))"
    parallel = "#pragma omp parallel" if variant.parallel else ""
    for_rows = "#pragma omp for collapse(2) schedule(static)" if variant.parallel else ""
    source = f"""#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

constexpr int64_t KD = {kd}, KH = {kh}, KW = {kw}, SD = {sd}, SH = {sh}, SW = {sw};
constexpr int64_t PD = {pd}, PH = {ph}, PW = {pw}, DD = {dd}, DH = {dh}, DW = {dw};

static inline float combine(float a, float v) {{ return {combine}; }}

// x: (planes, D, H, W); out: (planes, Do, Ho, Wo). For each output row the window's
// input rows are combined into a padded row buffer (contiguous, vectorised); each output
// then combines its KW (dilated) neighbours in the buffer.
extern "C" void pool3d(const float* __restrict__ x, float* __restrict__ out, int64_t planes,
                       int64_t D, int64_t H, int64_t W, int64_t Do, int64_t Ho, int64_t Wo) {{
    {parallel}
    {{
        std::vector<float> buffer(W + 2 * PW + 1, {init});
        float* row = buffer.data();
        float* mid = row + PW;
        {for_rows}
        for (int64_t p = 0; p < planes; ++p) {{
            for (int64_t d = 0; d < Do; ++d) {{
                for (int64_t h = 0; h < Ho; ++h) {{
                    int64_t rows = 0;
                    for (int64_t i = 0; i < KD; ++i) {{
                        const int64_t z = d * SD - PD + i * DD;
                        if (z < 0 || z >= D) continue;
                        for (int64_t j = 0; j < KH; ++j) {{
                            const int64_t y = h * SH - PH + j * DH;
                            if (y < 0 || y >= H) continue;
                            const float* xr = x + ((p * D + z) * H + y) * W;
                            if (rows++ == 0) {{
                                #pragma omp simd
                                for (int64_t c = 0; c < W; ++c) mid[c] = xr[c];
                            }} else {{
                                #pragma omp simd
                                for (int64_t c = 0; c < W; ++c) mid[c] = combine(mid[c], xr[c]);
                            }}
                        }}
                    }}
                    if (rows == 0) {{
                        for (int64_t c = 0; c < W; ++c) mid[c] = {init};
                    }}
                    float* orow = out + ((p * Do + d) * Ho + h) * Wo;
                    #pragma omp simd
                    for (int64_t w = 0; w < Wo; ++w) {{
                        const int64_t c0 = w * SW - PW;
                        (void)c0;
                        float acc = {init};
                        for (int64_t k = 0; k < KW; ++k) acc = combine(acc, row[w * SW + k * DW]);
                        orow[w] = {finish};
                    }}
                }}
            }}
        }}
    }}
}}
"""
    launch = """        if out.numel():
            lib.pool3d(x, out, planes, D, H, W, Do, Ho, Wo)"""
    forward = _forward(spec, ".contiguous().float()", launch)
    return cpp_module(source, variant, _what(problem), model_new(forward))


_PRUNE = """

def _prune(configs, named, **kwargs):
    # Tiles no wider than the output row (rounded up to 16): the rest would be masked.
    widest = max(16, triton.next_power_of_2(named["Wo"]))
    kept = [c for c in configs if c.kwargs["BW"] <= widest]
    return kept or configs[:1]
"""


def triton_pool(problem: Recognised, variant: GpuVariant) -> str:
    spec: Pool = problem.spec
    (kd, kh, kw), (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = spec.as_3d()
    kwp = 1 << max(0, (kw - 1).bit_length())
    if spec.kind == "max":
        init, update = "float('-inf')", "tl.where((v > acc) | (v != v), v, acc)"
        reduce = """m = tl.max(acc, axis=1)
    y = tl.where(tl.max((acc != acc).to(tl.int32), axis=1) > 0, float('nan'), m)"""
    else:
        init, update = "0.0", "acc + v"
        if spec.count_include_pad:
            reduce = f"y = tl.sum(acc, axis=1) * {1.0 / (kd * kh * kw)!r}"
        else:
            reduce = f"""inside = (tl.minimum(d0 + {kd}, D) - tl.maximum(d0, 0)) * (
        tl.minimum(h0 + {kh}, H) - tl.maximum(h0, 0))
    wide = tl.minimum(w0 + {kw}, W) - tl.maximum(w0, 0)
    y = tl.sum(acc, axis=1) / tl.maximum(inside * wide, 1).to(tl.float32)"""
    block = max(16, min(256, variant.block // 8))
    configs = [({"BW": block}, variant.num_warps)] + [
        ({"BW": bw}, warps) for bw in (32, 64, 128, 256) for warps in (2, 4, 8) if bw >= 16 * warps
    ]
    kernel = f"""{_PRUNE}

{autotune(configs, ["Wo", "W", "H"], "_prune")}@triton.jit
def _pool(x_ptr, out_ptr, D, H, W, Do, Ho, Wo, BW: tl.constexpr):
    # One program: BW outputs of one output row (plane, d, h); tiles [BW, KW] of the input.
    row = tl.program_id(0).to(tl.int64)
    h_out = row % Ho
    d_out = (row // Ho) % Do
    plane = row // (Ho * Do)
    w_out = tl.program_id(1) * BW + tl.arange(0, BW)
    d0 = d_out * {sd} - {pd}
    h0 = h_out * {sh} - {ph}
    w0 = w_out * {sw} - {pw}
    k = tl.arange(0, {kwp})
    w = w0[:, None] + k[None, :] * {dw}
    cols_ok = (w_out[:, None] < Wo) & (k[None, :] < {kw}) & (w >= 0) & (w < W)
    acc = tl.full([BW, {kwp}], {init}, tl.float32)
    for i in tl.static_range({kd}):
        z = d0 + i * {dd}
        for j in tl.static_range({kh}):
            y_in = h0 + j * {dh}
            ok = cols_ok & (z >= 0) & (z < D) & (y_in >= 0) & (y_in < H)
            base = ((plane * D + z) * H + y_in) * W
            v = tl.load(x_ptr + base + w, mask=ok, other={init}).to(tl.float32)
            acc = {update}
    {reduce}
    tl.store(out_ptr + row * Wo + w_out, y.to(out_ptr.dtype.element_ty), mask=w_out < Wo)
"""
    launch = """        rows = planes * Do * Ho
        if out.numel():
            grid = lambda meta: (rows, triton.cdiv(Wo, meta["BW"]))
            _pool[grid](x, out, D, H, W, Do, Ho, Wo)"""
    forward = _forward(spec, ".contiguous()", launch)
    return triton_module(kernel, variant, _what(problem), model_new(forward))
