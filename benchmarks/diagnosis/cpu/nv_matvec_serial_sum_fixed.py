"""Hand-written labelled case (not model output). Fixed twin of nv_matvec_serial_sum.py
(planted bottleneck there: not_vectorised).

The only change: `#pragma omp simd reduction(+ : s)` on the dot-product loop lets g++ reorder
the float sum, so the loop is vectorised with several partial sums; rows per thread and flags
are the same as in the planted case.
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
        #pragma omp simd reduction(+ : s)
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
