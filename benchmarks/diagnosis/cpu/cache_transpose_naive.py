"""Hand-written labelled case (not model output). Planted bottleneck: cache_miss_bound.

Naive out-of-place transpose: each thread reads rows of x contiguously but writes columns of
out, one float per 64-byte line, N * 4 bytes apart. With a power-of-two N those lines all
map to the same few L1 sets, so a line is evicted long before its other 15 floats are
written: nearly every store misses L1 (and the L2 is thrashed the same way). The twin
(cache_transpose_naive_fixed.py) walks 32 x 32 tiles (4 KiB in, 4 KiB out, both L1-resident):
same threads, same flags, same element copies.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// x is (M, N) row-major; out is (N, M) row-major: out[j, i] = x[i, j].
extern "C" void transpose(const float* __restrict__ x, float* __restrict__ out, int64_t M,
                          int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; ++i) {
        const float* row = x + i * N;
        for (int64_t j = 0; j < N; ++j) out[j * M + i] = row[j];
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty(x.shape[1], x.shape[0], dtype=x.dtype)
        lib.transpose(x, out, x.shape[0], x.shape[1])
        return out
