"""Hand-written reference solution (not model output): LayerNorm over the last dim in C++.

Why it is fast: one thread per block of rows; each row (a few KiB) is read from memory once
into L1, then mean, variance (two-pass, as accurate as torch) and the affine output are
computed from L1 in vectorised loops.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

// x, out: (rows, cols); weight, bias: (cols) when affine (has_weight / has_bias).
extern "C" void layer_norm(const float* __restrict__ x, const float* __restrict__ weight,
                           const float* __restrict__ bias, float* __restrict__ out,
                           int64_t rows, int64_t cols, float eps, int64_t has_weight,
                           int64_t has_bias) {
    const float inv_cols = 1.0f / (float)cols;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int64_t c = 0; c < cols; ++c) sum += xr[c];
        const float mean = sum * inv_cols;
        float sq = 0.0f;
        #pragma omp simd reduction(+ : sq)
        for (int64_t c = 0; c < cols; ++c) sq += (xr[c] - mean) * (xr[c] - mean);
        const float rstd = 1.0f / std::sqrt(sq * inv_cols + eps);
        if (has_weight && has_bias) {
            #pragma omp simd
            for (int64_t c = 0; c < cols; ++c)
                yr[c] = (xr[c] - mean) * rstd * weight[c] + bias[c];
        } else {
            #pragma omp simd
            for (int64_t c = 0; c < cols; ++c) {
                const float w = has_weight ? weight[c] : 1.0f;
                const float b = has_bias ? bias[c] : 0.0f;
                yr[c] = (xr[c] - mean) * rstd * w + b;
            }
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp", "-fno-math-errno"])


class ModelNew(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.ln = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ln = self.ln
        x = x.contiguous()
        cols = 1
        for size in ln.normalized_shape:
            cols *= size
        empty = x.new_empty(0)
        weight = ln.weight.detach().contiguous() if ln.weight is not None else empty
        bias = ln.bias.detach().contiguous() if ln.bias is not None else empty
        out = torch.empty_like(x)
        flags = int(ln.weight is not None), int(ln.bias is not None)
        lib.layer_norm(x, weight, bias, out, x.numel() // cols, cols, ln.eps, *flags)
        return out
