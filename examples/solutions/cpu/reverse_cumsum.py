"""Hand-written reference solution (not model output): reverse cumulative sum along a dim in C++.

Why it is fast: eager does flip + cumsum + flip (~6 passes). Here one backward pass per row: a
16-lane in-register suffix scan (4 shift-and-add steps) plus a running carry, kept in double
like torch's cumsum so the error does not grow with the row length.
"""

import torch
import torch.nn as nn

from pragma_kernels.runtime import cpp

SOURCE = r"""
#include <cstdint>

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

static inline vf load(const float* p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

// r[i] = v[i] + v[i + 1] + ... + v[15]
static inline vf suffix_scan(vf v) {
    const vf z = {};
    v += __builtin_shuffle(v, z, (vi){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    v += __builtin_shuffle(v, z, (vi){2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
    v += __builtin_shuffle(v, z, (vi){4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
    v += __builtin_shuffle(v, z, (vi){8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23});
    return v;
}

// x, out: (outer, n, inner). out[o, i, j] = sum over k >= i of x[o, k, j].
extern "C" void reverse_cumsum(const float* __restrict__ x, float* __restrict__ out,
                               int64_t outer, int64_t n, int64_t inner) {
    if (inner == 1) {  // scan along contiguous rows
        #pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < outer; ++o) {
            const float* xr = x + o * n;
            float* yr = out + o * n;
            double carry = 0.0;
            int64_t i = n;
            for (; i >= 16; i -= 16) {
                vf v = suffix_scan(load(xr + i - 16));
                const float block = v[0];
                v += (float)carry;
                store(yr + i - 16, v);
                carry += (double)block;
            }
            for (int64_t k = i - 1; k >= 0; --k) {
                carry += (double)xr[k];
                yr[k] = (float)carry;
            }
        }
        return;
    }
    constexpr int64_t BLOCK = 256;  // columns scanned together, carries in L1
    const int64_t blocks = (inner + BLOCK - 1) / BLOCK;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t j0 = blk * BLOCK;
            const int64_t len = inner - j0 < BLOCK ? inner - j0 : BLOCK;
            double acc[BLOCK];
            #pragma omp simd
            for (int64_t j = 0; j < len; ++j) acc[j] = 0.0;
            for (int64_t k = n - 1; k >= 0; --k) {
                const float* xr = x + (o * n + k) * inner + j0;
                float* yr = out + (o * n + k) * inner + j0;
                #pragma omp simd
                for (int64_t j = 0; j < len; ++j) {
                    acc[j] += (double)xr[j];
                    yr[j] = (float)acc[j];
                }
            }
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
        out = torch.empty_like(x)
        shape = x.shape
        lib.reverse_cumsum(x, out, shape[:dim].numel(), shape[dim], shape[dim + 1 :].numel())
        return out
