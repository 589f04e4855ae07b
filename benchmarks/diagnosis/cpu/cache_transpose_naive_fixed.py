"""Hand-written labelled case (not model output). Fixed twin of cache_transpose_naive.py
(planted bottleneck there: cache_miss_bound).

The transpose walks 16 x 16 tiles: the tile's 16 input rows are copied (whole 64-byte lines)
into a 1 KiB local buffer, then written out as 16 whole output lines, so every line of x and
of out is touched once, completely. (A plain tiled loop nest is not enough with power-of-two
strides: the tile's rows map to the same two L1 sets and evict each other.) Same threads,
same flags, same element copies.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

constexpr int64_t T = 16;  // tile edge: 16 floats = one 64-byte line

// x is (M, N) row-major; out is (N, M) row-major: out[j, i] = x[i, j].
extern "C" void transpose(const float* __restrict__ x, float* __restrict__ out, int64_t M,
                          int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < M; i0 += T) {
        const int64_t ni = M - i0 < T ? M - i0 : T;
        float tile[T][T];
        for (int64_t j0 = 0; j0 < N; j0 += T) {
            const int64_t nj = N - j0 < T ? N - j0 : T;
            for (int64_t i = 0; i < ni; ++i)
                for (int64_t j = 0; j < nj; ++j) tile[j][i] = x[(i0 + i) * N + j0 + j];
            for (int64_t j = 0; j < nj; ++j)
                for (int64_t i = 0; i < ni; ++i) out[(j0 + j) * M + i0 + i] = tile[j][i];
        }
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
