"""Hand-written labelled case (not model output). Planted bottleneck: not_vectorised.

Matrix-vector product with one float accumulator per row. Without -ffast-math (or an
explicit `omp simd reduction`) g++ may not reorder the float sum: it "vectorises" the loop as
an in-order reduction (packed multiplies, then 16 scalar adds in sequence per vector), so the
adds stay scalar and serialised on the accumulator's latency. The twin
(nv_matvec_serial_sum_fixed.py) only adds `#pragma omp simd reduction(+ : s)`: same rows per
thread, same flags, a truly vectorised loop with several packed partial sums.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// out[m] = sum_k a[m, k] * x[k]; a is (M, K), x is (K), out is (M).
extern "C" void matvec(const float* __restrict__ a, const float* __restrict__ x,
                       float* __restrict__ out, int64_t M, int64_t K) {
    #pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
        const float* row = a + m * K;
        float s = 0.0f;
        for (int64_t k = 0; k < K; ++k) s += row[k] * x[k];
        out[m] = s;
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A = A.contiguous()
        x = B.contiguous().reshape(-1)
        out = torch.empty(A.shape[0], 1, dtype=A.dtype)
        lib.matvec(A, x, out, A.shape[0], A.shape[1])
        return out
