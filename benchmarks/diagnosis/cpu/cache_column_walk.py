"""Hand-written labelled case (not model output). Planted bottleneck: cache_miss_bound.

Column sums computed one column at a time: the inner loop walks down a column, N * 4 bytes
between consecutive loads, so every load touches a new 64-byte line and uses one float of
it. With a power-of-two N the column's lines fall into the same few L1 sets, so by the time
the next column needs the same lines they are long evicted: almost every load misses L1.
The loop is vectorised (`omp simd`, packed adds on vectors assembled from single loads), so
this is not a vectorisation problem. The twin (cache_column_walk_fixed.py) streams the rows:
each thread owns a 1024-column slice, adds each row's slice into an L1-resident accumulator
(contiguous, vectorised), so each line of x is read once, completely.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// x is (M, N) row-major; out[j] = sum_i x[i, j].
extern "C" void column_sum(const float* __restrict__ x, float* __restrict__ out, int64_t M,
                           int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < N; ++j) {
        float acc = 0.0f;
        #pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < M; ++i) acc += x[i * N + j];
        out[j] = acc;
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
