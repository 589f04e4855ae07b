"""Hand-written reference solution (not model output): argmax over dim 1 of a 3-D tensor in C++.

Why it is fast: the reduced dim is strided, so each thread walks it row by row over a block
of contiguous columns, keeping the running max and index of every column in vector
registers (strict `>` keeps the first maximum, as torch does; NaN wins like in torch).
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

constexpr int64_t BLOCK = 256;  // columns per tile

extern "C" void argmax_dim(const float* __restrict__ x, int64_t* __restrict__ out,
                            int64_t outer, int64_t reduce, int64_t inner) {
    const int64_t blocks = (inner + BLOCK - 1) / BLOCK;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t j0 = blk * BLOCK;
            const int64_t len = inner - j0 < BLOCK ? inner - j0 : BLOCK;
            const float* xo = x + o * reduce * inner + j0;
            float best[BLOCK];
            int32_t idx[BLOCK];
            #pragma omp simd
            for (int64_t j = 0; j < len; ++j) {
                best[j] = xo[j];
                idx[j] = 0;
            }
            for (int64_t r = 1; r < reduce; ++r) {
                const float* row = xo + r * inner;
                const int32_t ri = (int32_t)r;
                #pragma omp simd
                for (int64_t j = 0; j < len; ++j) {
                    const float v = row[j];
                    // Take v if larger, or if v is the first NaN (best == best: not NaN yet).
                    const bool take = (v > best[j]) | ((v != v) & (best[j] == best[j]));
                    best[j] = take ? v : best[j];
                    idx[j] = take ? ri : idx[j];
                }
            }
            int64_t* dst = out + o * inner + j0;
            #pragma omp simd
            for (int64_t j = 0; j < len; ++j) dst[j] = idx[j];
        }
    }
}
"""

lib = cpp.load(SOURCE, flags=["-O3", "-march=native", "-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        dim = self.dim % x.dim()
        shape = x.shape
        outer = shape[:dim].numel()
        inner = shape[dim + 1 :].numel()
        out = torch.empty(shape[:dim] + shape[dim + 1 :], dtype=torch.int64)
        lib.argmax_dim(x, out, outer, shape[dim], inner)
        return out
