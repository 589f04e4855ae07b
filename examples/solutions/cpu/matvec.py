"""Hand-written reference solution (not model output): matrix-vector product A @ B in C++.

Why it is fast: the product is bound by reading A once. Each thread streams a contiguous band
of rows, four rows at a time, so every vector load of B (which stays in L1/L2) feeds four FMAs
into four independent vector accumulators.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// out[m, n] = sum_k a[m, k] * bt[n, k]: a is (M, K), bt is B transposed, (N, K); out is (M, N).
extern "C" void matvec(const float* __restrict__ a, const float* __restrict__ bt,
                       float* __restrict__ out, int64_t M, int64_t K, int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        const int64_t rows = M - m0 < 4 ? M - m0 : 4;
        for (int64_t n = 0; n < N; ++n) {
            const float* b = bt + n * K;
            if (rows == 4) {
                const float* a0 = a + (m0 + 0) * K;
                const float* a1 = a + (m0 + 1) * K;
                const float* a2 = a + (m0 + 2) * K;
                const float* a3 = a + (m0 + 3) * K;
                float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
                #pragma omp simd reduction(+ : s0, s1, s2, s3)
                for (int64_t k = 0; k < K; ++k) {
                    const float bk = b[k];
                    s0 += a0[k] * bk;
                    s1 += a1[k] * bk;
                    s2 += a2[k] * bk;
                    s3 += a3[k] * bk;
                }
                out[(m0 + 0) * N + n] = s0;
                out[(m0 + 1) * N + n] = s1;
                out[(m0 + 2) * N + n] = s2;
                out[(m0 + 3) * N + n] = s3;
            } else {
                for (int64_t r = 0; r < rows; ++r) {
                    const float* ar = a + (m0 + r) * K;
                    float s = 0.0f;
                    #pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < K; ++k) s += ar[k] * b[k];
                    out[(m0 + r) * N + n] = s;
                }
            }
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A = A.contiguous()
        bt = B.t().contiguous()  # (N, K); a free view when B is (K, 1)
        M, K = A.shape
        N = bt.shape[0]
        out = torch.empty(M, N, dtype=A.dtype)
        lib.matvec(A, bt, out, M, K, N)
        return out
