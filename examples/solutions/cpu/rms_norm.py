"""Hand-written reference solution (not model output): RMSNorm over dim 1 in C++.

Why it is fast: eager makes ~5 full passes (pow, mean, add, sqrt, divide). Here each thread
takes a (batch, spatial block) tile, accumulates the sum of squares over the features into a
small L1-resident buffer, then rescales the tile while it is still in L2: one read from DRAM,
one write.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>

constexpr int64_t BLOCK = 512;  // spatial columns per tile: features * 2 KiB stays in L2

extern "C" void rms_norm(const float* __restrict__ x, float* __restrict__ out, int64_t batch,
                         int64_t features, int64_t inner, float eps) {
    const int64_t blocks = (inner + BLOCK - 1) / BLOCK;
    const float inv_features = 1.0f / (float)features;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t j0 = blk * BLOCK;
            const int64_t len = inner - j0 < BLOCK ? inner - j0 : BLOCK;
            const float* xb = x + b * features * inner + j0;
            float* ob = out + b * features * inner + j0;
            float acc[BLOCK];
            #pragma omp simd
            for (int64_t j = 0; j < len; ++j) acc[j] = 0.0f;
            for (int64_t f = 0; f < features; ++f) {
                const float* row = xb + f * inner;
                #pragma omp simd
                for (int64_t j = 0; j < len; ++j) acc[j] += row[j] * row[j];
            }
            #pragma omp simd
            for (int64_t j = 0; j < len; ++j)
                acc[j] = 1.0f / std::sqrt(acc[j] * inv_features + eps);
            for (int64_t f = 0; f < features; ++f) {
                const float* row = xb + f * inner;
                float* orow = ob + f * inner;
                #pragma omp simd
                for (int64_t j = 0; j < len; ++j) orow[j] = row[j] * acc[j];
            }
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp", "-fno-math-errno"])


class ModelNew(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        inner = x[0, 0].numel()
        lib.rms_norm(x, out, x.shape[0], x.shape[1], inner, self.eps)
        return out
