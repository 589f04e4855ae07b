"""Hand-written labelled case (not model output). Planted bottleneck: single_threaded.

Batched matmul (64 products of 256 x 256) with a register-blocked kernel: a 16-column panel
of B packed contiguously (16 KiB, L1-resident), 4 x 16 tiles of C accumulated in 8 vector
registers (2 loads + 4 broadcasts per 8 FMAs). Fast on one core, but the batch loop has no
threading at all (no OpenMP pragma, no -fopenmp): the 64 independent products run one after
the other on one core while the others idle. The twin (st_bmm_serial_fixed.py) is the same
source with an OpenMP parallel-for over the batch, built with -fopenmp.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

typedef float vf __attribute__((vector_size(32)));  // 8 floats

static inline vf load(const float* p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

constexpr int64_t MR = 4;     // rows of C per register tile
constexpr int64_t NR = 16;    // columns of C per register tile (2 vectors of 8)
constexpr int64_t KMAX = 4096;

// One product C = A @ B: A (m, k), B (k, n), C (m, n), row-major.
static void gemm(const float* __restrict__ A, const float* __restrict__ B,
                 float* __restrict__ C, int64_t m, int64_t k, int64_t n) {
    alignas(64) static thread_local float panel[KMAX * NR];  // B[:, j0:j0+16], contiguous
    const int64_t row_tiles = m / MR, col_tiles = k <= KMAX ? n / NR : 0;
    for (int64_t jt = 0; jt < col_tiles; ++jt) {
        const int64_t j0 = jt * NR;
        for (int64_t kk = 0; kk < k; ++kk)
            for (int64_t j = 0; j < NR; ++j) panel[kk * NR + j] = B[kk * n + j0 + j];
        for (int64_t it = 0; it < row_tiles; ++it) {
            const int64_t i0 = it * MR;
            vf acc[MR][2];
            for (int64_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = (vf){};
            for (int64_t kk = 0; kk < k; ++kk) {
                const vf b0 = load(panel + kk * NR);
                const vf b1 = load(panel + kk * NR + 8);
                for (int64_t r = 0; r < MR; ++r) {
                    const float a = A[(i0 + r) * k + kk];
                    acc[r][0] += a * b0;
                    acc[r][1] += a * b1;
                }
            }
            for (int64_t r = 0; r < MR; ++r) {
                store(C + (i0 + r) * n + j0, acc[r][0]);
                store(C + (i0 + r) * n + j0 + 8, acc[r][1]);
            }
        }
    }
    // Ragged edges: columns right of the last full panel, rows below the last full tile.
    const int64_t jr = col_tiles * NR, ir = col_tiles ? row_tiles * MR : 0;
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = i < ir ? jr : 0; j < n; ++j) {
            float s = 0.0f;
            for (int64_t kk = 0; kk < k; ++kk) s += A[i * k + kk] * B[kk * n + j];
            C[i * n + j] = s;
        }
    }
}

extern "C" void bmm(const float* __restrict__ A, const float* __restrict__ B,
                    float* __restrict__ C, int64_t batch, int64_t m, int64_t k, int64_t n) {
    for (int64_t b = 0; b < batch; ++b) gemm(A + b * m * k, B + b * k * n, C + b * m * n, m, k, n);
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A, B = A.contiguous(), B.contiguous()
        batch, m, k = A.shape
        n = B.shape[2]
        C = torch.empty(batch, m, n, dtype=A.dtype)
        lib.bmm(A, B, C, batch, m, k, n)
        return C
