"""Hand-written labelled case (not model output). Planted bottleneck: poor_data_reuse.

Matrix multiplication in i-k-j order without blocking: for every row i of C, all of B (4 MiB
at N = 1024, larger than L2) is streamed through the cache again, and every multiply-add
loads and stores the C row (3 memory operations per FMA). The inner loop is contiguous,
vectorised (512-bit) and the rows are split over the threads, so the access pattern itself
is friendly; what is missing is reuse: each B element fetched from L3 feeds one FMA per row.
The twin (reuse_gemm_unblocked_fixed.py) keeps a 4 x 32 tile of C in registers and walks a
32-column panel of B (128 KiB, L2-resident) for 4 rows of A at a time: each B vector loaded
feeds 4 FMAs, each A value 2, and C is written once. Same threads, same flags.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

// C = A @ B, all (N, N) row-major.
extern "C" void gemm(const float* __restrict__ A, const float* __restrict__ B,
                     float* __restrict__ C, int64_t N) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        float* c = C + i * N;
        #pragma omp simd
        for (int64_t j = 0; j < N; ++j) c[j] = 0.0f;
        for (int64_t k = 0; k < N; ++k) {
            const float a = A[i * N + k];
            const float* b = B + k * N;
            #pragma omp simd
            for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A, B = A.contiguous(), B.contiguous()
        C = torch.empty_like(A)
        lib.gemm(A, B, C, A.shape[0])
        return C
