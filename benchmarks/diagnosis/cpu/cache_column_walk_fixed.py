"""Hand-written labelled case (not model output). Fixed twin of cache_column_walk.py (planted
bottleneck there: cache_miss_bound).

Rows are streamed instead of columns: each thread takes slices of 1024 columns and, row by
row, adds the row's contiguous 4 KiB slice into a 4 KiB accumulator that stays in L1
(vectorised), so every line of x is read once, completely. Same threads, same flags.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

constexpr int64_t W = 1024;  // columns per slice: a 4 KiB accumulator

// x is (M, N) row-major; out[j] = sum_i x[i, j].
extern "C" void column_sum(const float* __restrict__ x, float* __restrict__ out, int64_t M,
                           int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t j0 = 0; j0 < N; j0 += W) {
        const int64_t w = N - j0 < W ? N - j0 : W;
        float acc[W];
        #pragma omp simd
        for (int64_t j = 0; j < w; ++j) acc[j] = 0.0f;
        for (int64_t i = 0; i < M; ++i) {
            const float* row = x + i * N + j0;
            #pragma omp simd
            for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
        }
        #pragma omp simd
        for (int64_t j = 0; j < w; ++j) out[j0 + j] = acc[j];
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape[1], dtype=x.dtype)
        lib.column_sum(x, out, x.shape[0], x.shape[1])
        return out
